// ProgressTracker: the active configuration, a Progress per member, and the votes of the
// current election.
#ifndef KEEL_RAFT_TRACKER_H_
#define KEEL_RAFT_TRACKER_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "raft/progress.h"
#include "raft/quorum.h"
#include "raft/raftpb/raft.pb.h"

namespace keel::raft {

// A membership configuration (thesis §4.3).
struct TrackerConfig {
  JointConfig voters;
  // Non-voting members that receive the log. Never intersects voters.
  std::set<uint64_t> learners;
  // Voters of the outgoing config that become learners when the joint config is left
  // (they cannot be both learner and voter at once). Only non-empty while joint.
  std::set<uint64_t> learners_next;
  // Leave the joint config automatically once it is committed.
  bool auto_leave = false;

  std::string ToString() const;
};

// Ordered by id, so iteration (and therefore message order) is deterministic.
using ProgressMap = std::map<uint64_t, Progress>;

class ProgressTracker {
 public:
  ProgressTracker(size_t max_inflight, uint64_t max_inflight_bytes)
      : max_inflight_(max_inflight), max_inflight_bytes_(max_inflight_bytes) {}

  raftpb::ConfState ConfState() const;
  // True if the only voter is a single node (which may then commit alone).
  bool IsSingleton() const {
    return config.voters.incoming.ids().size() == 1 && !config.voters.IsJoint();
  }
  // The largest index replicated on a quorum (of both halves when joint).
  uint64_t Committed() const;
  // Whether a quorum has been recently active (CheckQuorum).
  bool QuorumActive() const;
  std::vector<uint64_t> VoterIds() const;    // Sorted.
  std::vector<uint64_t> LearnerIds() const;  // Sorted, includes learners_next.

  void ResetVotes() { votes_.clear(); }
  // Records a vote from id (only the first one counts).
  void RecordVote(uint64_t id, bool granted) { votes_.emplace(id, granted); }
  struct Tally {
    size_t granted = 0;
    size_t rejected = 0;
    VoteResult result = VoteResult::kPending;
  };
  Tally TallyVotes() const;

  Progress* Find(uint64_t id) {
    auto it = progress.find(id);
    return it == progress.end() ? nullptr : &it->second;
  }
  const Progress* Find(uint64_t id) const {
    auto it = progress.find(id);
    return it == progress.end() ? nullptr : &it->second;
  }

  size_t max_inflight() const { return max_inflight_; }
  uint64_t max_inflight_bytes() const { return max_inflight_bytes_; }

  TrackerConfig config;
  ProgressMap progress;

 private:
  std::map<uint64_t, bool> votes_;
  size_t max_inflight_;
  uint64_t max_inflight_bytes_;
};

}  // namespace keel::raft

#endif  // KEEL_RAFT_TRACKER_H_
