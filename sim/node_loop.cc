#include "sim/node_loop.h"

#include <algorithm>
#include <utility>

#include "base/check.h"

namespace keel::sim {
namespace {

constexpr int64_t kPpm = 1'000'000;

}  // namespace

NodeLoop::NodeLoop(World* world, uint64_t node_id, ClockConfig clock)
    : world_(world),
      node_id_(node_id),
      anchor_global_ns_(world->now_ns()),
      anchor_node_ns_(clock.offset_ns),
      rate_ppm_(clock.rate_ppm),
      offset_ns_(clock.offset_ns),
      restart_starts_loop_clock_over_(clock.restart_starts_loop_clock_over) {
  KEEL_CHECK(world_ != nullptr);
  KEEL_CHECK(node_id_ != kWorldNode);
  KEEL_CHECK(rate_ppm_ >= kMinRatePpm && rate_ppm_ <= kMaxRatePpm);
}

NodeLoop::~NodeLoop() {
  // Queued world events hold `this`; they must never run after the loop is gone.
  for (auto& [id, p] : pending_) {
    if (p.world_event != 0) world_->Cancel(p.world_event);
  }
}

int64_t NodeLoop::NowNanos() const {
  const __int128 elapsed = world_->now_ns() - anchor_global_ns_;
  return anchor_node_ns_ + static_cast<int64_t>(elapsed * rate_ppm_ / kPpm);
}

int64_t NodeLoop::GlobalTimeForNodeTime(int64_t node_ns) const {
  const int64_t ahead = node_ns - anchor_node_ns_;
  if (ahead <= 0) return anchor_global_ns_;
  // Smallest global delta g with floor(g × rate / 1e6) >= ahead.
  const __int128 num = static_cast<__int128>(ahead) * kPpm;
  const int64_t delta = static_cast<int64_t>((num + rate_ppm_ - 1) / rate_ppm_);
  return anchor_global_ns_ + delta;
}

env::TimerId NodeLoop::RunAfter(int64_t delay_nanos, absl::AnyInvocable<void() &&> fn) {
  KEEL_CHECK(delay_nanos >= 0);
  return Enqueue(/*is_timer=*/true, NowNanos() + delay_nanos, std::move(fn));
}

void NodeLoop::Post(absl::AnyInvocable<void() &&> fn) {
  world_->CheckOnWorldThread();
  Enqueue(/*is_timer=*/false, 0, std::move(fn));
}

env::TimerId NodeLoop::Enqueue(bool is_timer, int64_t deadline_node_ns,
                               absl::AnyInvocable<void() &&> fn) {
  KEEL_CHECK(fn != nullptr);
  const env::TimerId id = next_id_++;
  if (!up_) {
    // A dead process schedules nothing; the id is never valid for Cancel.
    world_->trace().Record(world_->now_ns(), node_id_, "loop.drop_dead", {{"id", id}});
    return id;
  }
  KEEL_CHECK(pending_.size() < kMaxPendingCallbacks);
  const int64_t at_global_ns =
      is_timer ? std::max(world_->now_ns(), GlobalTimeForNodeTime(deadline_node_ns))
               : world_->now_ns();
  Pending& p = pending_[id];
  p.is_timer = is_timer;
  p.deadline_node_ns = deadline_node_ns;
  p.fn = std::move(fn);
  p.world_event = ScheduleWorldEvent(id, at_global_ns);
  return id;
}

EventId NodeLoop::ScheduleWorldEvent(env::TimerId id, int64_t at_global_ns) {
  return world_->ScheduleAt(at_global_ns, [this, id] { Fire(id); });
}

bool NodeLoop::Cancel(env::TimerId id) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return false;
  if (it->second.world_event != 0) {
    KEEL_CHECK(world_->Cancel(it->second.world_event));
  }
  // A deferred id left in deferred_ is skipped on Resume because it is no longer pending.
  pending_.erase(it);
  return true;
}

void NodeLoop::Fire(env::TimerId id) {
  auto it = pending_.find(id);
  KEEL_CHECK(it != pending_.end());  // Cancel/Crash cancel the world event too
  KEEL_CHECK(up_);
  world_->NoteEventNode(node_id_);
  Pending& p = it->second;
  p.world_event = 0;
  if (paused_) {
    deferred_.push_back(id);
    return;
  }
  KEEL_CHECK(!p.is_timer || NowNanos() >= p.deadline_node_ns);
  absl::AnyInvocable<void() &&> fn = std::move(p.fn);
  const bool is_timer = p.is_timer;
  pending_.erase(it);
  world_->trace().Record(world_->now_ns(), node_id_, is_timer ? "loop.timer" : "loop.post",
                         {{"id", id}, {"node_ns", NowNanos()}});
  World::NodeCallbackScope running(world_);
  std::move(fn)();
}

void NodeLoop::Reanchor() {
  anchor_node_ns_ = NowNanos();
  anchor_global_ns_ = world_->now_ns();
}

void NodeLoop::RescheduleTimers() {
  for (auto& [id, p] : pending_) {
    if (!p.is_timer || p.world_event == 0) continue;  // posts and deferred stay put
    KEEL_CHECK(world_->Cancel(p.world_event));
    p.world_event = ScheduleWorldEvent(
        id, std::max(world_->now_ns(), GlobalTimeForNodeTime(p.deadline_node_ns)));
  }
}

void NodeLoop::SetRatePpm(int64_t rate_ppm) {
  KEEL_CHECK(rate_ppm >= kMinRatePpm && rate_ppm <= kMaxRatePpm);
  Reanchor();
  rate_ppm_ = rate_ppm;
  world_->trace().Record(world_->now_ns(), node_id_, "clock.rate", {{"ppm", rate_ppm}});
  RescheduleTimers();
}

void NodeLoop::JumpForward(int64_t delta_ns) {
  KEEL_CHECK(delta_ns >= 0);
  Reanchor();
  anchor_node_ns_ += delta_ns;
  world_->trace().Record(world_->now_ns(), node_id_, "clock.jump", {{"delta_ns", delta_ns}});
  RescheduleTimers();
}

void NodeLoop::StepWallClock(int64_t delta_ns) {
  delta_ns = std::max(delta_ns, -MachineNanos());
  loop_clock_behind_machine_ns_ += delta_ns;
  world_->trace().Record(world_->now_ns(), node_id_, "clock.wall_step", {{"delta_ns", delta_ns}});
}

void NodeLoop::Pause() {
  KEEL_CHECK(up_);
  paused_ = true;
  world_->trace().Record(world_->now_ns(), node_id_, "node.pause");
}

void NodeLoop::Resume() {
  KEEL_CHECK(up_);
  paused_ = false;
  world_->trace().Record(world_->now_ns(), node_id_, "node.resume",
                         {{"deferred", deferred_.size()}});
  // Equal-time world events run in scheduling order, so this preserves the order in
  // which the callbacks originally came due.
  for (env::TimerId id : deferred_) {
    auto it = pending_.find(id);
    if (it == pending_.end()) continue;  // cancelled while paused
    it->second.world_event = ScheduleWorldEvent(id, world_->now_ns());
  }
  deferred_.clear();
}

void NodeLoop::Crash() {
  KEEL_CHECK(up_);
  world_->trace().Record(world_->now_ns(), node_id_, "node.crash",
                         {{"discarded", pending_.size()}, {"incarnation", incarnation_}});
  for (auto& [id, p] : pending_) {
    if (p.world_event != 0) KEEL_CHECK(world_->Cancel(p.world_event));
  }
  pending_.clear();
  deferred_.clear();
  up_ = false;
  paused_ = false;
  ++incarnation_;
}

void NodeLoop::Restart() {
  KEEL_CHECK(!up_);
  KEEL_CHECK(pending_.empty());
  up_ = true;
  if (restart_starts_loop_clock_over_) {
    // A new process: its Loop clock reads offset_ns again from now on. Nothing is pending
    // (the crash discarded it all), so no timer refers to the old line.
    const int64_t now = NowNanos();
    loop_clock_behind_machine_ns_ += now - offset_ns_;
    anchor_node_ns_ = offset_ns_;
    anchor_global_ns_ = world_->now_ns();
  }
  world_->trace().Record(world_->now_ns(), node_id_, "node.restart",
                         {{"incarnation", incarnation_}});
}

void NodeLoop::DeliverToIncarnation(uint64_t incarnation, absl::AnyInvocable<void() &&> fn) {
  // Network deliveries and disk completions: the event concerns this node only.
  world_->NoteEventNode(node_id_);
  if (!up_ || incarnation != incarnation_) {
    world_->trace().Record(world_->now_ns(), node_id_, "loop.drop_stale",
                           {{"incarnation", incarnation}});
    return;
  }
  if (paused_ || world_->in_node_callback()) return Post(std::move(fn));
  // Runs in the event that completes it (a message's arrival, a disk's completion) rather
  // than in a second event posted for the same instant: a real process picks the work up
  // when it arrives either way, and a delivery is a third of all events.
  world_->trace().Record(world_->now_ns(), node_id_, "loop.deliver", {{"node_ns", NowNanos()}});
  World::NodeCallbackScope running(world_);
  std::move(fn)();
}

}  // namespace keel::sim
