// Progress: the leader's view of one follower's log (thesis §3.5, etcd's tracker).
//
//   StateProbe      we do not know where the follower's log ends; send one MsgApp per
//                   heartbeat interval and back off nextIndex on rejection.
//   StateReplicate  the follower is caught up to `match`; pipeline appends optimistically
//                   (next advances on send), throttled by the inflights window.
//   StateSnapshot   the follower needs a snapshot; send nothing until it is reported done.
//
// Invariant: match < next.
#ifndef KEEL_RAFT_PROGRESS_H_
#define KEEL_RAFT_PROGRESS_H_

#include <cstdint>
#include <string>

#include "raft/inflights.h"

namespace keel::raft {

enum class ProgressState { kProbe, kReplicate, kSnapshot };
const char* ProgressStateName(ProgressState s);

struct Progress {
  Progress(uint64_t next_index, size_t max_inflight, uint64_t max_inflight_bytes, bool learner)
      : next(next_index), inflights(max_inflight, max_inflight_bytes), is_learner(learner) {}

  uint64_t match = 0;  // Highest index known to be replicated (durably) on the follower.
  uint64_t next;       // Next index to send.
  ProgressState state = ProgressState::kProbe;
  // In StateSnapshot: the index of the snapshot being sent.
  uint64_t pending_snapshot = 0;
  // Heard from the follower since the last CheckQuorum round.
  bool recent_active = false;
  // In StateProbe: a probe is outstanding, so wait for a response or a heartbeat.
  bool probe_sent = false;
  Inflights inflights;
  bool is_learner;

  void BecomeProbe();
  void BecomeReplicate();
  void BecomeSnapshot(uint64_t snapshot_index);
  // An acknowledgement of index n arrived. Returns false if it is stale.
  bool MaybeUpdate(uint64_t n);
  // In StateReplicate, after sending entries up to n.
  void OptimisticUpdate(uint64_t n) { next = n + 1; }
  // A rejection of the append at `rejected`; `match_hint` is where to probe next.
  // Returns false if the rejection is stale.
  bool MaybeDecrTo(uint64_t rejected, uint64_t match_hint);
  // Whether sending another MsgApp must wait.
  bool IsPaused() const;
  std::string ToString() const;
};

}  // namespace keel::raft

#endif  // KEEL_RAFT_PROGRESS_H_
