// The simulated world: one global event queue, one simulated clock, one seed.
//
// Every simulated node, disk and network link schedules its future on this queue. Events
// are ordered by (time_ns, sequence number): equal times run in the order they were
// scheduled, so a run is a pure function of the seed. Time jumps straight to the next
// event; an idle second costs nothing. Single-threaded by design: every entry point
// checks that it runs on the thread that created the World.
#ifndef KEEL_SIM_WORLD_H_
#define KEEL_SIM_WORLD_H_

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "env/rng.h"
#include "sim/trace.h"

namespace keel::sim {

using EventId = uint64_t;

class World {
 public:
  // Hard bound on queued events: a queue that grows past this is a runaway feedback loop
  // (a timer re-arming itself at delay 0, a message storm), not a workload.
  static constexpr size_t kMaxPendingEvents = size_t{1} << 24;

  explicit World(uint64_t seed);
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  uint64_t seed() const { return seed_; }
  // Global simulated time. Starts at 0, never decreases.
  int64_t now_ns() const { return now_ns_; }

  // The random stream for `purpose` ("net", "disk.n1", ...): a function of the seed and
  // the label only, so adding a new purpose never reshuffles existing ones.
  env::Rng NewRng(std::string_view purpose) const;

  Trace& trace() { return trace_; }

  // Runs `fn` at global time `at_ns` (>= now_ns()). Returns an id for Cancel.
  EventId ScheduleAt(int64_t at_ns, absl::AnyInvocable<void() &&> fn);
  EventId ScheduleAfter(int64_t delay_ns, absl::AnyInvocable<void() &&> fn);
  // Removes an event that has not run. False if it ran, is running, or never existed.
  bool Cancel(EventId id);

  // Runs the earliest event, advancing time to it. False if the queue is empty.
  bool Step();
  // Runs every event with time <= t_ns, then sets the clock to t_ns (if later).
  // Returns the number of events run.
  size_t RunUntil(int64_t t_ns);
  // Runs events until the queue is empty or `max_events` have run; returns how many ran.
  // The bound makes a livelocked simulation stop instead of spinning forever.
  size_t RunUntilIdle(size_t max_events);

  // Which node the running (or last run) event touched. Lets per-event observers re-check
  // only what an event can have changed. NodeLoop notes its node when it runs one of the
  // node's callbacks or posts a delivery to it; the network notes a message's receiver.
  // kAnyNode when the event noted nobody (faults, clients, the runner: anything may have
  // changed) or more than one node.
  static constexpr uint64_t kAnyNode = ~uint64_t{0};
  uint64_t event_node() const { return event_node_ == kUnnoted ? kAnyNode : event_node_; }
  void NoteEventNode(uint64_t node) {
    if (event_node_ == kUnnoted) {
      event_node_ = node;
    } else if (event_node_ != node) {
      event_node_ = kAnyNode;
    }
  }

  // True while a node's loop callback runs (NodeLoop opens a NodeCallbackScope around
  // each): work delivered then is posted, never run inside the running callback.
  bool in_node_callback() const { return node_callbacks_running_ > 0; }
  class NodeCallbackScope {
   public:
    explicit NodeCallbackScope(World* world) : world_(world) { ++world_->node_callbacks_running_; }
    ~NodeCallbackScope() { --world_->node_callbacks_running_; }
    NodeCallbackScope(const NodeCallbackScope&) = delete;
    NodeCallbackScope& operator=(const NodeCallbackScope&) = delete;

   private:
    World* const world_;
  };

  size_t pending_events() const { return live_count_; }
  uint64_t events_run() const { return events_run_; }
  // Time of the earliest pending event, or -1 if none.
  int64_t next_event_ns();

  // Aborts unless called on the World's thread. Public so that components whose
  // interface promises thread safety (Loop::Post) can state the simulator's rule.
  void CheckOnWorldThread() const;

 private:
  // The heap holds small (time, id) pairs; callbacks live in slots_, so sifting the heap
  // moves 16-byte values instead of type-erased callables. An id is the scheduling
  // sequence number above the slot index: ordering by id is ordering by sequence, and a
  // heap entry whose slot now holds another id was cancelled (or its slot reused).
  static constexpr int kSlotBits = 24;
  static_assert((size_t{1} << kSlotBits) >= kMaxPendingEvents);
  static constexpr EventId kSlotMask = (EventId{1} << kSlotBits) - 1;
  struct HeapEntry {
    int64_t at_ns;
    EventId id;
  };
  struct Slot {
    EventId id = 0;  // 0: free
    absl::AnyInvocable<void() &&> fn;
  };
  // Min-heap on (at_ns, id) via std::push_heap with this "greater" comparator.
  struct Later {
    bool operator()(const HeapEntry& a, const HeapEntry& b) const {
      return a.at_ns != b.at_ns ? a.at_ns > b.at_ns : a.id > b.id;
    }
  };
  static constexpr uint64_t kUnnoted = kAnyNode - 1;
  bool IsLive(EventId id) const {
    const size_t slot = static_cast<size_t>(id & kSlotMask);
    return slot < slots_.size() && slots_[slot].id == id;
  }
  // Empties the slot of a live event and returns its callback.
  absl::AnyInvocable<void() &&> ReleaseSlot(EventId id);
  // Drops cancelled events from the top of the heap.
  void DiscardCancelledTop();

  const uint64_t seed_;
  const env::Rng root_rng_;
  const std::thread::id owner_thread_;
  int64_t now_ns_ = 0;
  EventId next_seq_ = 1;
  uint64_t events_run_ = 0;
  uint64_t event_node_ = kUnnoted;
  int node_callbacks_running_ = 0;
  std::vector<HeapEntry> heap_;
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_slots_;  // LIFO, so slot reuse is deterministic
  // Events scheduled and neither run nor cancelled.
  size_t live_count_ = 0;
  Trace trace_;
};

}  // namespace keel::sim

#endif  // KEEL_SIM_WORLD_H_
