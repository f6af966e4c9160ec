// Membership changes and leader transfers under faults (issue #16), issued through the
// server core's Cluster and Maintenance calls exactly as etcd's clients issue them:
//   add       MemberAdd(isLearner) with a fresh peer URL, then a new process with an
//             empty disk joins as keeld does (--initial-cluster-state=existing);
//   promote   MemberPromote of a learner ("can only promote a learner member which is in
//             sync with leader" is a legal answer);
//   remove    MemberRemove of a voter, the leader itself included;
//   replace   remove a voter, then add a learner with a fresh disk in its place;
//   update    MemberUpdate with the member's current peer URLs;
//   transfer  MoveLeader to a random member index (learners, removed members and the
//             leader itself included: etcd's errors are legal answers), usually sent to
//             the leader, sometimes to a follower ("not leader").
// One request at a time, from the stream "membership" (no other stream shifts). Every tick
// it also reconciles the processes with the membership the members applied: an ID some
// member lists that has no process gets one (SimCluster::AddJoiner; this covers adds whose
// answer was lost), and a member any live member lists as removed is retired, its process
// stopped for good (etcd exits when its peers answer that it was removed).
//
// Safety margin (the scenario's, not the server's): a voter is removed only while at least
// four voters remain listed and the faulty-disk members stay a minority of the voters
// left, so the cluster can always heal without the members the scenario may damage.
#ifndef KEEL_SIM_CLUSTER_MEMBERSHIP_OPS_H_
#define KEEL_SIM_CLUSTER_MEMBERSHIP_OPS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "env/rng.h"
#include "sim/checkers/violation.h"
#include "sim/cluster/cluster.h"
#include "sim/world.h"

namespace keel::sim {

class MembershipOps {
 public:
  // `faulty_disk_nodes`: the scenario's member indices whose disks may be damaged.
  MembershipOps(World* world, SimCluster* cluster, env::Rng rng, std::vector<int> faulty_disk_nodes,
                int64_t request_timeout_ns);
  ~MembershipOps();
  MembershipOps(const MembershipOps&) = delete;
  MembershipOps& operator=(const MembershipOps&) = delete;

  // Draws whether this run changes membership at all (most do) and starts ticking:
  // requests until `ops_until_ns`, reconciliation until `stop_ns`.
  void Start(int64_t ops_until_ns, int64_t stop_ns);
  // `keelsim shrink`: send only the requests with these ordinals (0 = the first request
  // the driver decides to send). The others are decided exactly as before (every draw is
  // made) but not sent, counted as `member.shrunk_away`. Coverage `member.requests` counts
  // the requests decided, sent or not: the ordinals shrink can choose from.
  void KeepOnlyRequests(std::set<int> ordinals) { kept_requests_ = std::move(ordinals); }
  bool enabled() const { return enabled_; }
  // Whether a request is still waiting for its answer.
  bool idle() const { return in_flight_ == nullptr; }

  // issued/ok/refused.<reason> per kind, joined, retired (RunResult::coverage).
  const std::map<std::string, uint64_t>& counters() const { return counters_; }
  // IDs ever seen removed by any member: none may be listed again (CheckMembership).
  const std::set<uint64_t>& removed_ids() const { return removed_ids_; }
  // move-leader: the first MoveLeader answer that broke etcd's contract (see
  // CheckMoveLeaderAnswer in membership_ops.cc), if any.
  const std::optional<checkers::Violation>& violation() const { return violation_; }
  // Run by every tick (20 ms): retire members any live member has removed, give a
  // process to listed IDs that have none, start joiners.
  void Reconcile();

 private:
  struct InFlight;
  void Tick();
  void IssueNext();
  // A live member to send a request to, or -1. `leader_bias`: the leader if there is one.
  int PickTarget(bool leader_bias);
  // The membership as the most advanced live member applied it; nullptr if none is up.
  const server::Membership* View() const;
  void Count(const std::string& key) { ++counters_[key]; }
  // Judges a MoveLeader answer from member `s` for target `to` (in its loop, right after
  // the answer): records the first violation, counts check.move_leader.* branches.
  void CheckMoveLeaderAnswer(server::ServerImpl* s, uint64_t to, const absl::Status& status);
  // Sends `kind` to member `target`; `issue` runs on its loop and must call the done
  // callback it is given exactly once (with OK or the error).
  void Send(const std::string& kind, int target,
            std::function<void(server::ServerImpl*, std::function<void(absl::Status)>)> issue);

  World* const world_;
  SimCluster* const cluster_;
  env::Rng rng_;
  const std::vector<int> faulty_;
  const int64_t request_timeout_ns_;
  bool enabled_ = false;
  int64_t ops_until_ns_ = 0;
  int64_t stop_ns_ = 0;
  int64_t next_op_ns_ = 0;
  int next_url_ = 0;          // peer URL index for the next add (never reused)
  bool replace_pending_ = false;  // a replace removed its voter: the next op adds
  int requests_ = 0;              // requests decided so far (the next one's ordinal)
  std::optional<std::set<int>> kept_requests_;
  std::shared_ptr<InFlight> in_flight_;
  std::map<std::string, uint64_t> counters_;
  std::set<uint64_t> removed_ids_;
  std::optional<checkers::Violation> violation_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace keel::sim

#endif  // KEEL_SIM_CLUSTER_MEMBERSHIP_OPS_H_
