// Checkers for a cluster whose member set changes (issue #16):
//  commit-quorum        every time a leader's commit index advances to C, the members
//                       whose durable Raft log holds entry C (or a snapshot covering it)
//                       form a majority of the voters in force: Raft's configuration (both
//                       halves when joint) or the membership the leader applied, before or
//                       after the event (a configuration change applied in the same event
//                       as the commit). A learner's or a removed member's ack never counts,
//                       since neither is a voter of any of those. Members that are down
//                       are counted as holders (their storage cannot be read; lenient,
//                       never a false alarm).
//  config-not-applied   after every event, on a member that has applied everything its
//                       Raft log commits and its backend holds (so outside restart
//                       replay, a joiner's catch-up and a snapshot being installed),
//                       Raft's configuration is exactly
//                       the membership it applied: its voters (the incoming half when
//                       joint) are the listed voters, its learners (and learners-to-be)
//                       the listed learners. Raft may switch configurations only when the
//                       application applies the committed change, never when the entry is
//                       proposed or appended.
//  removed-kept-running after every event, no running member has applied its own removal:
//                       a removed member stops at once (as etcd's does), so a removed
//                       leader can neither keep leading nor acknowledge anything.
//  membership-diverged  at the end, every live member lists the same members (IDs, learner
//                       flags, peer URLs).
//  removed-rejoined     no member lists an ID any member ever saw removed, and no removed
//                       member's process runs (SimCluster never restarts it).
#ifndef KEEL_SIM_CLUSTER_MEMBERSHIP_CHECKS_H_
#define KEEL_SIM_CLUSTER_MEMBERSHIP_CHECKS_H_

#include <array>
#include <cstdint>
#include <optional>
#include <set>
#include <vector>

#include "sim/checkers/violation.h"
#include "sim/cluster/cluster.h"

namespace keel::sim {

class CommitQuorumChecker {
 public:
  explicit CommitQuorumChecker(SimCluster* cluster) : cluster_(cluster) {}
  // After one world event: checks the member it ran in (World::event_node), or every
  // member when it was not confined to one.
  std::optional<checkers::Violation> AfterEvent(uint64_t event_node);
  // Commit advances checked so far (coverage).
  uint64_t checked() const { return checked_; }

 private:
  struct Seen {
    uint64_t term = 0;
    uint64_t commit = 0;
    std::set<uint64_t> raft_voters, raft_outgoing, member_voters;  // at the end of the last event
  };
  std::optional<checkers::Violation> Check(int i);

  SimCluster* const cluster_;
  std::vector<Seen> seen_;
  uint64_t checked_ = 0;
  std::optional<checkers::Violation> violation_;
};

// config-not-applied and removed-kept-running (see the file comment), after every event.
class AppliedConfigChecker {
 public:
  explicit AppliedConfigChecker(SimCluster* cluster) : cluster_(cluster) {}
  // Checks the member the event ran in (World::event_node), or every member when it was
  // not confined to one.
  std::optional<checkers::Violation> AfterEvent(uint64_t event_node);
  // Events at which a member's configuration was compared (coverage).
  uint64_t checked() const { return checked_; }

 private:
  std::optional<checkers::Violation> Check(int i);

  SimCluster* const cluster_;
  // Per member, what the last check saw: applied index, commit index and the sizes of
  // Raft's voter and learner sets. Membership changes only when an entry or snapshot
  // applies, and Raft's configuration only by one member per change, so an unchanged
  // fingerprint means an unchanged verdict (listing the membership every event is costly).
  std::vector<std::array<uint64_t, 5>> seen_;
  uint64_t checked_ = 0;
};

// End of run: membership-diverged / removed-rejoined (see the file comment).
std::optional<checkers::Violation> CheckMembershipAtEnd(SimCluster& cluster,
                                                        const std::set<uint64_t>& removed_ids);

}  // namespace keel::sim

#endif  // KEEL_SIM_CLUSTER_MEMBERSHIP_CHECKS_H_
