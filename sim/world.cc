#include "sim/world.h"

#include <algorithm>
#include <utility>

#include "sim/check.h"

namespace keel::sim {

World::World(uint64_t seed)
    : seed_(seed), root_rng_(seed), owner_thread_(std::this_thread::get_id()) {}

env::Rng World::NewRng(std::string_view purpose) const { return root_rng_.Stream(purpose); }

void World::CheckOnWorldThread() const {
  KEEL_SIM_CHECK(std::this_thread::get_id() == owner_thread_);
}

EventId World::ScheduleAt(int64_t at_ns, absl::AnyInvocable<void() &&> fn) {
  CheckOnWorldThread();
  KEEL_SIM_CHECK(at_ns >= now_ns_);
  KEEL_SIM_CHECK(fn != nullptr);
  KEEL_SIM_CHECK(heap_.size() < kMaxPendingEvents);
  const EventId id = next_seq_++;
  heap_.push_back(Event{at_ns, id, std::move(fn)});
  std::push_heap(heap_.begin(), heap_.end(), Later());
  live_.insert(id);
  return id;
}

EventId World::ScheduleAfter(int64_t delay_ns, absl::AnyInvocable<void() &&> fn) {
  KEEL_SIM_CHECK(delay_ns >= 0);
  return ScheduleAt(now_ns_ + delay_ns, std::move(fn));
}

bool World::Cancel(EventId id) {
  CheckOnWorldThread();
  // The heap entry stays until it reaches the top; erasing the id is what cancels it.
  return live_.erase(id) > 0;
}

void World::DiscardCancelledTop() {
  while (!heap_.empty() && !live_.contains(heap_.front().seq)) {
    std::pop_heap(heap_.begin(), heap_.end(), Later());
    heap_.pop_back();
  }
}

int64_t World::next_event_ns() {
  DiscardCancelledTop();
  return heap_.empty() ? -1 : heap_.front().at_ns;
}

bool World::Step() {
  CheckOnWorldThread();
  DiscardCancelledTop();
  if (heap_.empty()) return false;
  std::pop_heap(heap_.begin(), heap_.end(), Later());
  Event event = std::move(heap_.back());
  heap_.pop_back();
  KEEL_SIM_CHECK(event.at_ns >= now_ns_);
  KEEL_SIM_CHECK(live_.erase(event.seq) == 1);
  now_ns_ = event.at_ns;
  ++events_run_;
  event_node_ = kUnnoted;
  std::move(event.fn)();
  return true;
}

size_t World::RunUntil(int64_t t_ns) {
  size_t ran = 0;
  while (true) {
    const int64_t next = next_event_ns();
    if (next < 0 || next > t_ns) break;
    Step();
    ++ran;
  }
  if (t_ns > now_ns_) now_ns_ = t_ns;
  return ran;
}

size_t World::RunUntilIdle(size_t max_events) {
  size_t ran = 0;
  while (ran < max_events && Step()) ++ran;
  return ran;
}

}  // namespace keel::sim
