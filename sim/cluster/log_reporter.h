// Reports one member's Raft log (raft::MemoryStorage) to the Raft safety checker as a delta
// per observation (checkers::RaftObservation: snapshot, last index, appended entries).
//
// Invariant: the (index, term) pairs this reporter remembers are exactly the log the checker
// holds for the member after the observation it filled, so each observation sends what the
// checker lacks and nothing the checker would misread as an overwrite. That is why a
// snapshot change follows RaftSafetyChecker::InstallSnapshot's rule: the reported entries
// after the new snapshot are kept only if the reported log holds the snapshot's entry (same
// index and term); otherwise the log starts over at the snapshot and every entry after it
// is reported again. A restart can recover an *older* snapshot than the one the member had
// compacted to before the crash (the newer snapshot's WAL marker was not durable): its log
// then starts earlier than anything reported since the compaction.
#ifndef KEEL_SIM_CLUSTER_LOG_REPORTER_H_
#define KEEL_SIM_CLUSTER_LOG_REPORTER_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "raft/raft.h"
#include "raft/raftpb/raft.pb.h"
#include "raft/storage.h"
#include "sim/checkers/raft_safety.h"

namespace keel::sim {

// Identifies an entry's content for the safety checker (appended vs applied vs committed).
// Runs for every entry on every member: no concatenated copy of the data.
uint64_t EntryHash(const raftpb::Entry& e);

// Raft's role as the safety checker names it.
checkers::RaftRole ToRole(raft::StateType s);

class LogReporter {
 public:
  // Fills o.snapshot_index, o.snapshot_term, o.last_index and o.appended from `storage`.
  // An error means storage could not return entries it claims to hold: a bug to report,
  // after which the reporter is out of step with the checker.
  absl::Status Report(const raft::MemoryStorage& storage, checkers::RaftObservation& o);

  // True if everything up to the storage's last index was reported.
  bool CaughtUp(const raft::MemoryStorage& storage) const;

 private:
  std::vector<std::pair<uint64_t, uint64_t>> log_;  // (index, term) reported, contiguous
  uint64_t snapshot_index_ = 0;
  uint64_t snapshot_term_ = 0;
};

}  // namespace keel::sim

#endif  // KEEL_SIM_CLUSTER_LOG_REPORTER_H_
