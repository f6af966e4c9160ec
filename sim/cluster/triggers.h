// Triggered faults: faults that fire at a protocol-sensitive moment rather than at a fixed
// time. A fixed-time crash lands between a vote and the next election, or between a
// leader's append and its commit, only by luck; these wait for the moment. Each is armed at
// its Fault::at_ns (so shrinking still works on the schedule) and watches the members'
// Raft state after every event until it fires or is disarmed.
//
//  kVoteCrash    the next member whose Raft grants a vote to another candidate is killed
//                `amount` ns later (after the vote was persisted and answered) and
//                restarted `duration_ns` after that.
//  kLeaderChurn  rolling isolation of fresh leaders, `other` steps; step i fires on the
//                first leader (other than the one isolated by step i-1) that either has
//                just appended entries it has not committed (bit i of `amount` clear) or has
//                just advanced its commit index (bit i set), in the event just run. It isolates that leader and
//                reconnects the previous one. The last one is reconnected `duration_ns`
//                after the final step. A step that does not fire within 50 election
//                timeouts ends the chain. Chains run one at a time, in arming order.
//
// Everything is deterministic: decisions depend only on the members' state after each
// event. Stop() (start of the liveness phase) disarms everything and cancels pending
// crashes; reconnecting is left to the liveness phase's HealAll.
#ifndef KEEL_SIM_CLUSTER_TRIGGERS_H_
#define KEEL_SIM_CLUSTER_TRIGGERS_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "sim/cluster/cluster.h"
#include "sim/cluster/scenario.h"
#include "sim/world.h"

namespace keel::sim {

class FaultTriggers {
 public:
  FaultTriggers(World* world, SimCluster* cluster, int64_t election_ns);
  FaultTriggers(const FaultTriggers&) = delete;
  FaultTriggers& operator=(const FaultTriggers&) = delete;

  // Arms `fault` (IsTriggered(fault.kind)) at fault.at_ns.
  void Schedule(const Fault& fault);
  // Called after every world event during the safety phase. O(members) while anything is
  // armed, O(1) otherwise.
  void AfterEvent();
  // Disarms everything; pending crashes and restarts scheduled by triggers do nothing.
  void Stop();

 private:
  struct MemberState {
    bool up = false;
    uint64_t incarnation = 0;
    uint64_t term = 0;
    uint64_t vote = 0;
    uint64_t commit = 0;
    uint64_t last = 0;
    bool leader = false;
  };
  struct Churn {
    Fault fault;
    int step = 0;
    int isolated = -1;  // member isolated by the previous step
    int64_t step_deadline_ns = 0;
  };

  void Arm(const Fault& fault);
  void Isolate(int member);
  void Reconnect(int member);
  // Returns true when the chain is finished.
  bool AdvanceChurn(Churn& churn, const std::vector<MemberState>& before);

  World* const world_;
  SimCluster* const cluster_;
  const int64_t election_ns_;
  std::shared_ptr<bool> active_ = std::make_shared<bool>(true);
  std::vector<Fault> vote_crash_delays_;  // armed kVoteCrash faults, in arming order
  std::vector<Churn> churns_;
  std::vector<MemberState> last_;  // members' state after the previous event
};

}  // namespace keel::sim

#endif  // KEEL_SIM_CLUSTER_TRIGGERS_H_
