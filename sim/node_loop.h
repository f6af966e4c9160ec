// One simulated node's env::Loop, running on the World's global event queue.
//
// The node has its own clock: node_ns = anchor_node + (global - anchor_global) × rate,
// with the rate in parts per million (integer arithmetic, so the mapping is exact and the
// same on every machine). Changing the rate or jumping forward re-anchors the line at the
// current instant, so the node clock stays continuous and monotonic, and every pending
// timer is rescheduled against the new line (a faster clock fires timers sooner).
//
// Process faults:
//  * Pause (SIGSTOP): the clock keeps running, but callbacks due while paused are
//    deferred and run, in their original order, when the node resumes.
//  * Crash (kill -9): every pending timer and callback is discarded, the incarnation
//    number increases, and the loop drops everything it is given until Restart().
//    Components that complete work later (disk, network) capture incarnation() when the
//    work is issued and deliver through DeliverToIncarnation, which drops deliveries meant
//    for a dead incarnation.
#ifndef KEEL_SIM_NODE_LOOP_H_
#define KEEL_SIM_NODE_LOOP_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>

#include "absl/functional/any_invocable.h"
#include "env/env.h"
#include "sim/world.h"

namespace keel::sim {

struct ClockConfig {
  // Node clock reading at global time 0.
  int64_t offset_ns = 0;
  // Node nanoseconds per global nanosecond, in millionths: 1'000'000 is a perfect clock,
  // 900'000 runs 10% slow. Must lie in [kMinRatePpm, kMaxRatePpm].
  int64_t rate_ppm = 1'000'000;
  // false: the Loop's clock runs on through crashes (a clock counting since boot, with
  // processes restarted on the same machine). true: every restart begins a new process
  // whose Loop clock starts over at offset_ns, as keeld's PosixLoop counts from process
  // start; the machine's clock (MachineNanos, env::Env::WallClockMillis) runs on. The
  // default keeps every seed's trace; tests that must see keeld's clocks turn it on.
  bool restart_starts_loop_clock_over = false;
};

class NodeLoop final : public env::Loop {
 public:
  static constexpr int64_t kMinRatePpm = 100'000;
  static constexpr int64_t kMaxRatePpm = 10'000'000;
  // Bound on timers + queued callbacks of one node (a runaway re-arm loop trips it).
  static constexpr size_t kMaxPendingCallbacks = size_t{1} << 20;

  // `world` must outlive the loop. `node_id` > 0 (0 is the world itself in traces).
  NodeLoop(World* world, uint64_t node_id, ClockConfig clock);
  ~NodeLoop() override;
  NodeLoop(const NodeLoop&) = delete;
  NodeLoop& operator=(const NodeLoop&) = delete;

  // env::Loop.
  int64_t NowNanos() const override;
  env::TimerId RunAfter(int64_t delay_nanos, absl::AnyInvocable<void() &&> fn) override;
  bool Cancel(env::TimerId id) override;
  // Thread-safe by contract; the simulator has one thread, so this checks it.
  void Post(absl::AnyInvocable<void() &&> fn) override;

  // Clock faults.
  void SetRatePpm(int64_t rate_ppm);
  // Moves the node clock forward by `delta_ns` >= 0 at once (NTP step, VM migration).
  void JumpForward(int64_t delta_ns);
  // Steps only the machine's wall clock (MachineNanos, env::Env::WallClockMillis) by
  // `delta_ns`, forward or backward, as NTP steps CLOCK_REALTIME; the Loop's monotonic
  // clock and its timers do not move. A backward step stops at 0.
  void StepWallClock(int64_t delta_ns);
  int64_t rate_ppm() const { return rate_ppm_; }
  // The node machine's clock: NowNanos plus every amount restarts set the Loop's clock
  // back by (ClockConfig::restart_starts_loop_clock_over); equal to NowNanos otherwise.
  int64_t MachineNanos() const { return NowNanos() + loop_clock_behind_machine_ns_; }
  // The earliest global time at which this node's clock reads at least `node_ns`.
  int64_t GlobalTimeForNodeTime(int64_t node_ns) const;

  // Process faults.
  void Pause();
  void Resume();
  bool paused() const { return paused_; }
  void Crash();
  void Restart();
  bool up() const { return up_; }
  uint64_t incarnation() const { return incarnation_; }

  // Hands the node work that completed outside it (a message arriving, a disk operation
  // finishing), only if the node is up and still in `incarnation`; otherwise drops it
  // (traced as "loop.drop_stale"). Runs `fn` at once when called from a world event of
  // its own; posts it (so it runs after the current callback, or on resume) when the node
  // is paused or a node callback is running, so no callback ever runs inside another.
  void DeliverToIncarnation(uint64_t incarnation, absl::AnyInvocable<void() &&> fn);

  uint64_t node_id() const { return node_id_; }
  World* world() const { return world_; }
  size_t pending_callbacks() const { return pending_.size(); }

 private:
  struct Pending {
    bool is_timer;
    int64_t deadline_node_ns;  // timers only
    EventId world_event;       // 0 while deferred by a pause
    absl::AnyInvocable<void() &&> fn;
  };

  env::TimerId Enqueue(bool is_timer, int64_t deadline_node_ns,
                       absl::AnyInvocable<void() &&> fn);
  EventId ScheduleWorldEvent(env::TimerId id, int64_t at_global_ns);
  void Fire(env::TimerId id);
  // Re-anchors the clock line at the current global instant.
  void Reanchor();
  void RescheduleTimers();

  World* const world_;
  const uint64_t node_id_;

  int64_t anchor_global_ns_ = 0;
  int64_t anchor_node_ns_;
  int64_t rate_ppm_;
  const int64_t offset_ns_;
  const bool restart_starts_loop_clock_over_;
  int64_t loop_clock_behind_machine_ns_ = 0;

  bool up_ = true;
  bool paused_ = false;
  uint64_t incarnation_ = 1;
  env::TimerId next_id_ = 1;
  // Ordered so that crash/reschedule walk timers in a deterministic order.
  std::map<env::TimerId, Pending> pending_;
  // Callbacks that came due while paused, in the order they came due.
  std::deque<env::TimerId> deferred_;
};

}  // namespace keel::sim

#endif  // KEEL_SIM_NODE_LOOP_H_
