// The five safety properties of Raft (Figure 3 of the paper), checked incrementally from
// plain observations of each node after each step. Independent of raft/: it sees only what
// any implementation can report.
//
//  election-safety         at most one leader per term.
//  leader-append-only      while a node stays leader of one term, it never overwrites or
//                          drops entries of its log.
//  log-matching            if two logs hold an entry with the same index and term, they are
//                          identical up to that index.
//  leader-completeness     an entry committed in term t is in the log of every leader of a
//                          term > t.
//  state-machine-safety    no two nodes apply different entries at one index (and nothing is
//                          applied beyond the commit index, or differently from what was
//                          committed at that index).
//
// Cost: each observation reports only the log entries appended since the node's previous
// observation, so a step costs O(new entries + newly committed + newly applied) plus
// O(log n) for leaders. Log matching uses a chained digest: prefix[i] = H(prefix[i-1],
// term_i, hash_i). Two logs agree up to i iff their prefix digests at i are equal, so the
// checker keeps one map (index, term) -> prefix digest over all nodes and compares each new
// entry against it in O(1).
#ifndef KEEL_SIM_CHECKERS_RAFT_SAFETY_H_
#define KEEL_SIM_CHECKERS_RAFT_SAFETY_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "sim/checkers/violation.h"

namespace keel::sim::checkers {

enum class RaftRole { kFollower, kPreCandidate, kCandidate, kLeader };

struct EntryDigest {
  uint64_t index = 0;
  uint64_t term = 0;
  uint64_t hash = 0;  // digest of the entry's type and data
};

// A node's state after one step. The log is reported as a delta: `appended` entries replace
// everything from appended.front().index on, and `last_index` is the log's last index after
// the step (smaller than before if a restart lost an unsynced tail).
struct RaftObservation {
  uint64_t node = 0;
  uint64_t term = 0;
  RaftRole role = RaftRole::kFollower;
  uint64_t leader_id = 0;  // 0 = unknown
  uint64_t commit_index = 0;
  // The log starts after this snapshot (0/0 = no snapshot). A change means a snapshot was
  // installed or taken; entries up to it are dropped from the tracked log.
  uint64_t snapshot_index = 0;
  uint64_t snapshot_term = 0;
  uint64_t last_index = 0;
  std::vector<EntryDigest> appended;  // contiguous indices
  std::vector<EntryDigest> applied;   // entries applied by this step, in index order
};

class RaftSafetyChecker {
 public:
  // Returns the first violation; once one is found, every later call returns it again.
  std::optional<Violation> Observe(const RaftObservation& observation);

  size_t observations() const { return observations_; }
  // Length of the committed prefix known so far (grows when a member first commits an
  // index); the cluster runner re-observes every member when it grows.
  size_t committed_entries() const { return committed_.size(); }

 private:
  struct Slot {
    uint64_t term = 0;
    uint64_t hash = 0;
    uint64_t prefix = 0;  // chained digest up to and including this entry
  };
  struct NodeLog {
    uint64_t snapshot_index = 0;
    uint64_t snapshot_term = 0;
    uint64_t snapshot_prefix = 0;
    bool anchored = true;  // false if the snapshot's prefix digest was never seen
    std::vector<Slot> slots;  // slots[i] is index snapshot_index + 1 + i
    uint64_t last_index() const { return snapshot_index + slots.size(); }
  };
  struct NodeState {
    NodeLog log;
    uint64_t leader_term = 0;  // term in which it was last observed leader; 0 = not leader
    uint64_t commit_index = 0;
  };

  std::optional<Violation> Fail(std::string property, std::string message);
  std::optional<Violation> CheckElection(const RaftObservation& o, NodeState& node);
  std::optional<Violation> ApplyLogDelta(const RaftObservation& o, NodeState& node,
                                         bool stays_leader);
  std::optional<Violation> CheckCommit(const RaftObservation& o, NodeState& node);
  std::optional<Violation> CheckLeaderCompleteness(const RaftObservation& o, const NodeState& node);
  std::optional<Violation> CheckApplied(const RaftObservation& o);
  std::optional<Violation> InstallSnapshot(const RaftObservation& o, NodeLog& log);
  std::optional<Violation> AppendEntry(const RaftObservation& o, const EntryDigest& e,
                                       NodeLog& log);
  // The log's chained digest at `index`, if known (an index inside an unanchored or older
  // snapshot is not).
  static std::optional<uint64_t> PrefixAt(const NodeLog& log, uint64_t index);
  static const Slot* SlotAt(const NodeLog& log, uint64_t index);

  std::map<uint64_t, NodeState> nodes_;
  std::map<uint64_t, uint64_t> leader_of_term_;
  // (index, term) -> prefix digest, over every entry any node ever held.
  absl::flat_hash_map<std::pair<uint64_t, uint64_t>, uint64_t> prefix_of_;
  struct CommittedEntry {
    Slot slot;  // slot.hash is 0 when only known through a snapshot
    // An upper bound on the term in which the entry was committed: the observing node's
    // term when it first reported the commit (a node learns a commit in the committing
    // leader's term or later), made non-decreasing along the log.
    uint64_t commit_term = 0;
  };
  // The committed prefix: committed_[i] is index i + 1.
  std::vector<CommittedEntry> committed_;
  // Applied entries by index: (term, hash), across all nodes.
  absl::flat_hash_map<uint64_t, std::pair<uint64_t, uint64_t>> applied_;
  std::optional<Violation> first_violation_;
  size_t observations_ = 0;
};

}  // namespace keel::sim::checkers

#endif  // KEEL_SIM_CHECKERS_RAFT_SAFETY_H_
