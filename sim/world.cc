#include "sim/world.h"

#include <algorithm>
#include <utility>

#include "base/check.h"

namespace keel::sim {

World::World(uint64_t seed)
    : seed_(seed), root_rng_(seed), owner_thread_(std::this_thread::get_id()) {}

env::Rng World::NewRng(std::string_view purpose) const { return root_rng_.Stream(purpose); }

void World::CheckOnWorldThread() const {
  KEEL_CHECK(std::this_thread::get_id() == owner_thread_);
}

EventId World::ScheduleAt(int64_t at_ns, absl::AnyInvocable<void() &&> fn) {
  CheckOnWorldThread();
  KEEL_CHECK(at_ns >= now_ns_);
  KEEL_CHECK(fn != nullptr);
  KEEL_CHECK(live_count_ < kMaxPendingEvents);
  KEEL_CHECK(next_seq_ < (EventId{1} << (64 - kSlotBits)));
  uint32_t slot;
  if (free_slots_.empty()) {
    // Slots only grow while every slot is live, so there are at most kMaxPendingEvents.
    slot = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  } else {
    slot = free_slots_.back();
    free_slots_.pop_back();
  }
  const EventId id = (next_seq_++ << kSlotBits) | slot;
  slots_[slot].id = id;
  slots_[slot].fn = std::move(fn);
  heap_.push_back(HeapEntry{at_ns, id});
  std::push_heap(heap_.begin(), heap_.end(), Later());
  ++live_count_;
  return id;
}

EventId World::ScheduleAfter(int64_t delay_ns, absl::AnyInvocable<void() &&> fn) {
  KEEL_CHECK(delay_ns >= 0);
  return ScheduleAt(now_ns_ + delay_ns, std::move(fn));
}

absl::AnyInvocable<void() &&> World::ReleaseSlot(EventId id) {
  Slot& slot = slots_[static_cast<size_t>(id & kSlotMask)];
  KEEL_CHECK(slot.id == id);
  absl::AnyInvocable<void() &&> fn = std::move(slot.fn);
  slot.fn = nullptr;
  slot.id = 0;
  free_slots_.push_back(static_cast<uint32_t>(id & kSlotMask));
  --live_count_;
  return fn;
}

bool World::Cancel(EventId id) {
  CheckOnWorldThread();
  // The heap entry stays until it reaches the top; emptying the slot is what cancels it.
  if (!IsLive(id)) return false;
  ReleaseSlot(id);
  return true;
}

void World::DiscardCancelledTop() {
  while (!heap_.empty() && !IsLive(heap_.front().id)) {
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
  const HeapEntry event = heap_.back();
  heap_.pop_back();
  KEEL_CHECK(event.at_ns >= now_ns_);
  absl::AnyInvocable<void() &&> fn = ReleaseSlot(event.id);
  now_ns_ = event.at_ns;
  ++events_run_;
  event_node_ = kUnnoted;
  std::move(fn)();
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
