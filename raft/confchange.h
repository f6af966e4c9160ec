// Membership changes (§6, thesis §4.3): computing the next configuration.
//
// Changer takes the current configuration and a list of single changes and returns the
// new configuration, or an error when the change is unsafe:
//   * Simple(): at most one voter added or removed, no joint state (thesis §4.1);
//   * EnterJoint(): any set of changes, entering C_old,new (both majorities needed);
//   * LeaveJoint(): from C_old,new to C_new.
// It never mutates its input: the caller switches to the returned config atomically.
#ifndef KEEL_RAFT_CONFCHANGE_H_
#define KEEL_RAFT_CONFCHANGE_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "raft/raftpb/raft.pb.h"
#include "raft/tracker.h"

namespace keel::raft {

struct ConfigAndProgress {
  TrackerConfig config;
  ProgressMap progress;
};

class Changer {
 public:
  // `tracker` is read only; new members start probing at last_index.
  Changer(const ProgressTracker& tracker, uint64_t last_index)
      : tracker_(tracker), last_index_(last_index) {}

  absl::StatusOr<ConfigAndProgress> EnterJoint(
      bool auto_leave, const std::vector<raftpb::ConfChangeSingle>& changes) const;
  absl::StatusOr<ConfigAndProgress> LeaveJoint() const;
  absl::StatusOr<ConfigAndProgress> Simple(
      const std::vector<raftpb::ConfChangeSingle>& changes) const;

 private:
  absl::Status Apply(ConfigAndProgress* cp,
                     const std::vector<raftpb::ConfChangeSingle>& changes) const;
  void MakeVoter(ConfigAndProgress* cp, uint64_t id) const;
  void MakeLearner(ConfigAndProgress* cp, uint64_t id) const;
  void Remove(ConfigAndProgress* cp, uint64_t id) const;
  void InitProgress(ConfigAndProgress* cp, uint64_t id, bool is_learner) const;

  const ProgressTracker& tracker_;
  uint64_t last_index_;
};

// Rebuilds the configuration described by a ConfState (from a snapshot or at startup) by
// replaying changes onto an empty tracker.
absl::StatusOr<ConfigAndProgress> RestoreConfState(const ProgressTracker& empty_tracker,
                                                   uint64_t last_index,
                                                   const raftpb::ConfState& cs);

// Checks that the configuration is internally consistent (learners and voters disjoint,
// every member has a Progress, learners_next only while joint, ...).
absl::Status CheckConfigInvariants(const ConfigAndProgress& cp);

// A V1 ConfChange expressed as the equivalent V2 change.
raftpb::ConfChangeV2 ConfChangeAsV2(const raftpb::ConfChange& cc);
// True if the change leaves a joint config: no changes, automatic transition.
bool ConfChangeLeavesJoint(const raftpb::ConfChangeV2& cc);
// If the change enters a joint config, returns whether it will be left automatically.
std::optional<bool> ConfChangeEntersJoint(const raftpb::ConfChangeV2& cc);

bool ConfStatesEquivalent(const raftpb::ConfState& a, const raftpb::ConfState& b);

}  // namespace keel::raft

#endif  // KEEL_RAFT_CONFCHANGE_H_
