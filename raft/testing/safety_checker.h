// SafetyChecker: the five safety properties of the Raft paper (Figure 3), checked
// incrementally while a simulated cluster runs. Each On*/Check* call is cheap (amortised
// O(entries touched)), so it can run after every single step of thousands of seeds.
//
//   Election safety       at most one leader per term
//   Leader append-only    a leader never overwrites or deletes entries of its log
//   Log matching          same (index, term) => same entry and same preceding log; checked
//                         inductively: (index, term) determines the data and prev term
//   Leader completeness   a committed entry is in the log of every later leader
//   State machine safety  no two nodes apply different entries at the same index
#ifndef KEEL_RAFT_TESTING_SAFETY_CHECKER_H_
#define KEEL_RAFT_TESTING_SAFETY_CHECKER_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "raft/raft_log.h"
#include "raft/raftpb/raft.pb.h"

namespace keel::raft::testing {

class SafetyChecker {
 public:
  // `node` is leader at `term` now, with this log. Checks election safety, append-only
  // (against the previous observation of this leader) and, on the first observation of
  // this leader, completeness against every entry known to be committed.
  void ObserveLeader(uint64_t node, uint64_t term, const RaftLog& log);
  // `node` persisted `e` whose predecessor has term `prev_term`.
  void ObservePersisted(uint64_t node, const raftpb::Entry& e, uint64_t prev_term);
  // `node` applied `e` to its state machine.
  void ObserveApplied(uint64_t node, const raftpb::Entry& e);

  bool ok() const { return violation_.empty(); }
  const std::string& violation() const { return violation_; }
  uint64_t max_applied_index() const { return applied_.empty() ? 0 : applied_.rbegin()->first; }

 private:
  void Fail(std::string what);

  struct EntryId {
    uint64_t term;
    uint64_t data_hash;
  };
  struct LeaderMark {
    uint64_t term;
    uint64_t last_index;
    uint64_t last_term;
    uint64_t last_hash;
  };
  std::map<uint64_t, uint64_t> leader_of_term_;
  std::map<uint64_t, LeaderMark> leader_mark_;  // By node.
  // (index, term) -> (data hash, prev term).
  std::map<std::pair<uint64_t, uint64_t>, std::pair<uint64_t, uint64_t>> persisted_;
  std::map<uint64_t, EntryId> applied_;  // index -> what was applied there.
  std::string violation_;
};

uint64_t HashData(const std::string& data);

}  // namespace keel::raft::testing

#endif  // KEEL_RAFT_TESTING_SAFETY_CHECKER_H_
