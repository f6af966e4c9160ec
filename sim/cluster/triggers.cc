#include "sim/cluster/triggers.h"

#include <algorithm>

#include "base/check.h"

namespace keel::sim {
namespace {

// A step of a leader-churn chain that finds no candidate within this many election
// timeouts ends the chain (the cluster may be leaderless for the rest of the phase).
constexpr int64_t kChurnStepTimeoutElections = 50;

}  // namespace

FaultTriggers::FaultTriggers(World* world, SimCluster* cluster, int64_t election_ns)
    : world_(world), cluster_(cluster), election_ns_(election_ns) {}

void FaultTriggers::Schedule(const Fault& fault) {
  KEEL_CHECK(IsTriggered(fault.kind));
  std::shared_ptr<bool> active = active_;
  world_->ScheduleAt(fault.at_ns, [this, fault, active]() {
    if (*active) Arm(fault);
  });
}

void FaultTriggers::Arm(const Fault& fault) {
  world_->trace().Record(world_->now_ns(), kWorldNode, "fault.armed", {{"kind", FaultKindName(fault.kind)}});
  if (fault.kind == FaultKind::kVoteCrash) {
    vote_crash_delays_.push_back(fault);
  } else {
    Churn churn;
    churn.fault = fault;
    churn.step_deadline_ns = world_->now_ns() + kChurnStepTimeoutElections * election_ns_;
    churns_.push_back(churn);
  }
}

void FaultTriggers::Stop() {
  *active_ = false;
  vote_crash_delays_.clear();
  churns_.clear();
  last_.clear();
}

void FaultTriggers::Isolate(int member) {
  const uint64_t id = cluster_->member_id(member);
  for (int j = 0; j < cluster_->size(); ++j) {
    if (j == member) continue;
    cluster_->network().Block(id, cluster_->member_id(j));
    cluster_->network().Block(cluster_->member_id(j), id);
  }
}

void FaultTriggers::Reconnect(int member) {
  const uint64_t id = cluster_->member_id(member);
  for (int j = 0; j < cluster_->size(); ++j) {
    if (j == member) continue;
    cluster_->network().Unblock(id, cluster_->member_id(j));
    cluster_->network().Unblock(cluster_->member_id(j), id);
  }
}

bool FaultTriggers::AdvanceChurn(Churn& churn, const std::vector<MemberState>& before) {
  const int steps = std::max(churn.fault.other, 1);
  const bool on_commit = ((churn.fault.amount >> churn.step) & 1) != 0;
  for (int i = 0; i < cluster_->size(); ++i) {
    const MemberState& now = last_[i];
    const MemberState& prev = before[i];
    if (i == churn.isolated || !now.up || !now.leader) continue;
    // Both fire on what this very event did, so what it sent is still in flight and is
    // dropped on arrival once the leader is cut off.
    const bool same_life = prev.up && prev.incarnation == now.incarnation;
    const bool fires =
        on_commit ? (same_life && prev.leader && prev.term == now.term && now.commit > prev.commit)
                  : (now.last > now.commit && (!same_life || now.last > prev.last || !prev.leader));
    if (!fires) continue;
    world_->trace().Record(world_->now_ns(), cluster_->member_id(i), "fault.churn",
                           {{"step", churn.step}, {"on", on_commit ? "commit" : "append"}});
    // Reconnect first: reconnecting after would reopen the links to the new isolated one.
    if (churn.isolated >= 0) Reconnect(churn.isolated);
    Isolate(i);
    churn.isolated = i;
    churn.step++;
    churn.step_deadline_ns = world_->now_ns() + kChurnStepTimeoutElections * election_ns_;
    if (churn.step >= steps) {
      std::shared_ptr<bool> active = active_;
      world_->ScheduleAfter(churn.fault.duration_ns, [this, active, i]() {
        if (*active) Reconnect(i);
      });
      return true;
    }
    return false;
  }
  if (world_->now_ns() > churn.step_deadline_ns) {
    if (churn.isolated >= 0) Reconnect(churn.isolated);
    return true;
  }
  return false;
}

void FaultTriggers::AfterEvent() {
  if (vote_crash_delays_.empty() && churns_.empty()) {
    last_.clear();
    return;
  }
  std::vector<MemberState> now(cluster_->size());
  for (int i = 0; i < cluster_->size(); ++i) {
    server::ServerImpl* s = cluster_->server(i);
    MemberState& m = now[i];
    m.incarnation = cluster_->env(i).node_loop().incarnation();
    if (s == nullptr) continue;
    const raft::Raft& r = s->raft_node().raft();
    m.up = true;
    m.term = r.term();
    m.vote = r.vote();
    m.commit = r.log().committed();
    m.last = r.log().LastIndex();
    m.leader = r.state() == raft::StateType::kLeader;
  }
  std::vector<MemberState> before = std::move(last_);
  last_ = std::move(now);
  if (before.size() != last_.size()) return;  // just armed: this is the baseline

  for (int i = 0; i < cluster_->size() && !vote_crash_delays_.empty(); ++i) {
    const MemberState& m = last_[i];
    const MemberState& prev = before[i];
    const bool granted = m.up && prev.up && prev.incarnation == m.incarnation && m.vote != 0 &&
                         m.vote != cluster_->member_id(i) &&
                         (m.vote != prev.vote || m.term != prev.term);
    if (!granted) continue;
    const Fault f = vote_crash_delays_.front();
    vote_crash_delays_.erase(vote_crash_delays_.begin());
    world_->trace().Record(world_->now_ns(), cluster_->member_id(i), "fault.vote_crash",
                           {{"term", m.term}, {"vote", m.vote}});
    std::shared_ptr<bool> active = active_;
    const uint64_t incarnation = m.incarnation;
    world_->ScheduleAfter(f.amount, [this, active, i, incarnation, restart_ns = f.duration_ns]() {
      if (!*active || !cluster_->up(i) || cluster_->env(i).node_loop().incarnation() != incarnation) return;
      cluster_->Crash(i);
      world_->ScheduleAfter(restart_ns, [this, i]() { (void)cluster_->Restart(i); });
    });
  }
  // One chain at a time: two interleaved rotations would undo each other's isolations.
  // A chain armed while another runs waits for it (its step timeout starts then).
  if (!churns_.empty() && AdvanceChurn(churns_.front(), before)) {
    churns_.erase(churns_.begin());
    if (!churns_.empty()) {
      churns_.front().step_deadline_ns = world_->now_ns() + kChurnStepTimeoutElections * election_ns_;
    }
  }
}

}  // namespace keel::sim
