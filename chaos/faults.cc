#include "chaos/faults.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/check.h"

namespace keel::chaos {

namespace {

constexpr FaultKind kAllFaults[] = {
    FaultKind::kCrash,   FaultKind::kCrashLeader, FaultKind::kCrashMajority, FaultKind::kPause,
    FaultKind::kPauseLeader, FaultKind::kIsolate, FaultKind::kSplit,      FaultKind::kAsymmetric,
    FaultKind::kFlap,    FaultKind::kCut,         FaultKind::kMoveLeader,  FaultKind::kReplace,
    FaultKind::kCutClients,
};

// Fisher-Yates with our deterministic Rng (std::shuffle's algorithm is unspecified).
template <typename T>
void Shuffle(std::vector<T>& v, env::Rng& rng) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.Uniform(i)]);
}

LinkMatrix Empty(int n) { return LinkMatrix(n, std::vector<bool>(n, false)); }

}  // namespace

const char* FaultName(FaultKind kind) {
  switch (kind) {
    case FaultKind::kCrash: return "crash";
    case FaultKind::kCrashLeader: return "crash_leader";
    case FaultKind::kCrashMajority: return "crash_majority";
    case FaultKind::kPause: return "pause";
    case FaultKind::kPauseLeader: return "pause_leader";
    case FaultKind::kIsolate: return "isolate";
    case FaultKind::kSplit: return "split";
    case FaultKind::kAsymmetric: return "asymmetric";
    case FaultKind::kFlap: return "flap";
    case FaultKind::kCut: return "cut";
    case FaultKind::kMoveLeader: return "move_leader";
    case FaultKind::kReplace: return "replace";
    case FaultKind::kCutClients: return "cut_clients";
  }
  return "unknown";
}

absl::StatusOr<std::vector<FaultKind>> ParseFaults(const std::string& list) {
  if (list == "all") return std::vector<FaultKind>(std::begin(kAllFaults), std::end(kAllFaults));
  std::vector<FaultKind> out;
  for (absl::string_view name : absl::StrSplit(list, ',', absl::SkipEmpty())) {
    bool found = false;
    for (FaultKind k : kAllFaults) {
      if (name == FaultName(k)) {
        out.push_back(k);
        found = true;
      }
    }
    if (!found) {
      std::vector<std::string> names;
      for (FaultKind k : kAllFaults) names.push_back(FaultName(k));
      return absl::InvalidArgumentError(absl::StrCat("unknown fault '", name, "'; known: all, ",
                                                     absl::StrJoin(names, ", ")));
    }
  }
  if (out.empty()) return absl::InvalidArgumentError("--faults is empty");
  return out;
}

std::string FaultPlan::Describe(const ChaosCluster& cluster) const {
  std::vector<std::string> names;
  for (int m : members) names.push_back(cluster.name(m));
  return absl::StrCat(FaultName(kind), "(", absl::StrJoin(names, ","), ") for ",
                      absl::FormatDuration(duration));
}

FaultSchedule::FaultSchedule(std::vector<FaultKind> kinds, uint64_t seed, int election_ms)
    : kinds_(std::move(kinds)), rng_(env::Rng(seed).Stream("chaos.schedule")),
      election_ms_(election_ms) {
  KEEL_CHECK(!kinds_.empty());
}

FaultPlan FaultSchedule::Next(int nodes, int leader) {
  if (next_ == order_.size()) {
    if (!order_.empty()) ++cycles_;
    order_ = kinds_;
    Shuffle(order_, rng_);
    next_ = 0;
  }
  FaultPlan plan;
  plan.kind = order_[next_++];
  // Long enough for an election (pause must outlast the election timeout), short enough
  // for a short campaign: 3 to 6 election timeouts.
  plan.duration = absl::Milliseconds(election_ms_ * rng_.UniformRange(3, 6));
  plan.flap_seed = rng_.Next();
  std::vector<int> all(nodes);
  for (int i = 0; i < nodes; ++i) all[i] = i;
  Shuffle(all, rng_);
  const int random_member = all[0];
  const bool prefer_leader = rng_.Chance(0.5);
  switch (plan.kind) {
    case FaultKind::kCrash:
    case FaultKind::kPause:
    case FaultKind::kFlap:
      plan.members = {random_member};
      break;
    case FaultKind::kCrashLeader:
    case FaultKind::kPauseLeader:
      plan.members = {leader};
      break;
    case FaultKind::kIsolate:
    case FaultKind::kAsymmetric:
      plan.members = {prefer_leader ? leader : random_member};
      break;
    case FaultKind::kCrashMajority:
      plan.members.assign(all.begin(), all.begin() + nodes / 2 + 1);
      break;
    case FaultKind::kSplit: {
      // The minority side: 1 .. (n-1)/2 members, holding the leader half of the time.
      const int minority = static_cast<int>(rng_.UniformRange(1, std::max(1, (nodes - 1) / 2)));
      std::vector<int> others;
      for (int m : all) {
        if (m != leader) others.push_back(m);
      }
      if (prefer_leader) plan.members.push_back(leader);
      for (int m : others) {
        if (static_cast<int>(plan.members.size()) < minority) plan.members.push_back(m);
      }
      break;
    }
    case FaultKind::kCut:
    case FaultKind::kCutClients:
      break;
    case FaultKind::kMoveLeader:
    case FaultKind::kReplace: {
      const int target = all[0] != leader ? all[0] : all[1 % nodes];
      plan.members = {target};
      break;
    }
  }
  return plan;
}

void FaultInjector::SetIsolated(int member, bool isolated) {
  const int n = cluster_->size();
  LinkMatrix blocked = Empty(n);
  for (int other = 0; other < n; ++other) {
    if (other == member) continue;
    blocked[member][other] = blocked[other][member] = isolated;
  }
  cluster_->proxy().SetBlocked(std::move(blocked));
}

absl::StatusOr<std::string> FaultInjector::Apply(const FaultPlan& plan) {
  KEEL_CHECK(!active_);
  plan_ = plan;
  active_ = true;
  const int n = cluster_->size();
  switch (plan.kind) {
    case FaultKind::kCrash:
    case FaultKind::kCrashLeader:
    case FaultKind::kCrashMajority:
      for (int m : plan.members) cluster_->Kill(m);
      break;
    case FaultKind::kPause:
    case FaultKind::kPauseLeader:
      for (int m : plan.members) cluster_->Pause(m);
      break;
    case FaultKind::kIsolate:
      SetIsolated(plan.members[0], true);
      break;
    case FaultKind::kSplit: {
      std::vector<bool> minority(n, false);
      for (int m : plan.members) minority[m] = true;
      LinkMatrix blocked = Empty(n);
      for (int a = 0; a < n; ++a) {
        for (int b = 0; b < n; ++b) blocked[a][b] = minority[a] != minority[b];
      }
      cluster_->proxy().SetBlocked(std::move(blocked));
      break;
    }
    case FaultKind::kAsymmetric: {
      LinkMatrix blocked = Empty(n);
      for (int b = 0; b < n; ++b) blocked[plan.members[0]][b] = b != plan.members[0];
      cluster_->proxy().SetBlocked(std::move(blocked));
      break;
    }
    case FaultKind::kFlap:
      flap_rng_ = env::Rng(plan.flap_seed);
      flap_isolated_ = false;
      next_toggle_ = absl::Now();
      Tick();
      break;
    case FaultKind::kCut:
    case FaultKind::kCutClients:
      next_toggle_ = absl::Now();
      Tick();
      break;
    case FaultKind::kMoveLeader: {
      absl::StatusOr<etcdserverpb::StatusResponse> status = cluster_->Status(plan.members[0]);
      if (!status.ok()) return std::string("move_leader: target did not answer Status");
      absl::StatusOr<std::pair<uint64_t, etcdserverpb::MoveLeaderResponse>> moved =
          admin_->MoveLeader(status->header().member_id());
      return moved.ok() ? std::string("moved")
                        : absl::StrCat("move_leader: ", moved.status().message());
    }
    case FaultKind::kReplace:
      return Replace(plan.members[0]);
  }
  return std::string();
}

absl::StatusOr<std::string> FaultInjector::Replace(int member) {
  learner_id_ = 0;
  absl::StatusOr<etcdserverpb::StatusResponse> status = cluster_->Status(member);
  if (!status.ok()) return std::string("replace: target did not answer Status; skipped");
  const uint64_t old_id = status->header().member_id();
  // A removal whose outcome is unknown is settled by MemberList. etcd refuses removals
  // while a remaining member reconnected less than 5 s ago ("not enough started members"),
  // as after a crash round, hence the retries for a bounded time.
  bool removed = false;
  std::string last;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (!removed && absl::Now() < deadline) {
    absl::StatusOr<etcdserverpb::MemberRemoveResponse> r = admin_->MemberRemove(old_id);
    if (r.ok()) {
      removed = true;
      break;
    }
    last = std::string(r.status().message());
    absl::StatusOr<etcdserverpb::MemberListResponse> list = admin_->MemberList();
    if (list.ok()) {
      removed = std::none_of(list->members().begin(), list->members().end(),
                             [&](const etcdserverpb::Member& m) { return m.id() == old_id; });
    }
    if (!removed) absl::SleepFor(absl::Milliseconds(200));
  }
  if (!removed) return absl::UnavailableError("replace: MemberRemove did not succeed: " + last);
  cluster_->Kill(member);
  cluster_->WipeData(member);
  const absl::Time add_deadline = absl::Now() + absl::Seconds(20);
  while (learner_id_ == 0 && absl::Now() < add_deadline) {
    absl::StatusOr<etcdserverpb::MemberAddResponse> r =
        admin_->MemberAdd({cluster_->PeerUrl(member)}, /*is_learner=*/true);
    if (r.ok()) {
      learner_id_ = r->member().id();
      break;
    }
    last = std::string(r.status().message());
    absl::StatusOr<etcdserverpb::MemberListResponse> list = admin_->MemberList();
    if (list.ok()) {
      for (const etcdserverpb::Member& m : list->members()) {
        for (const std::string& url : m.peerurls()) {
          if (url == cluster_->PeerUrl(member)) learner_id_ = m.id();
        }
      }
    }
    if (learner_id_ == 0) absl::SleepFor(absl::Milliseconds(200));
  }
  if (learner_id_ == 0) return absl::UnavailableError("replace: MemberAdd did not succeed: " + last);
  if (absl::Status s = cluster_->Restart(member); !s.ok()) return s;
  return absl::StrCat("removed ", absl::Hex(old_id), ", learner ", absl::Hex(learner_id_));
}

// etcd refuses to promote a learner that has not caught up ("...in sync with leader"), so
// this retries for a bounded time.
void FaultInjector::PromoteLearner() {
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  std::string last;
  while (absl::Now() < deadline) {
    absl::StatusOr<etcdserverpb::MemberPromoteResponse> r = admin_->MemberPromote(learner_id_);
    if (r.ok()) {
      learner_id_ = 0;
      return;
    }
    last = std::string(r.status().message());
    absl::StatusOr<etcdserverpb::MemberListResponse> list = admin_->MemberList();
    if (list.ok()) {
      for (const etcdserverpb::Member& m : list->members()) {
        if (m.id() == learner_id_ && !m.islearner()) {
          learner_id_ = 0;  // an earlier attempt of unknown outcome did it
          return;
        }
      }
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
  heal_problem_ = absl::StrCat("liveness: learner ", absl::Hex(learner_id_),
                               " not promoted within 30s (last error: ", last, ")");
}

void FaultInjector::Tick() {
  if (!active_ || absl::Now() < next_toggle_) return;
  if (plan_.kind == FaultKind::kFlap) {
    flap_isolated_ = !flap_isolated_;
    SetIsolated(plan_.members[0], flap_isolated_);
    next_toggle_ = absl::Now() + absl::Milliseconds(flap_rng_.UniformRange(100, 400));
  } else if (plan_.kind == FaultKind::kCut) {
    cluster_->proxy().Cut();
    next_toggle_ = absl::Now() + absl::Milliseconds(300);
  } else if (plan_.kind == FaultKind::kCutClients) {
    cluster_->CutClientLinks();
    next_toggle_ = absl::Now() + absl::Milliseconds(300);
  }
}

absl::Status FaultInjector::Heal() {
  heal_problem_.clear();
  if (!active_) return absl::OkStatus();
  active_ = false;
  cluster_->proxy().Heal();
  for (int m = 0; m < cluster_->size(); ++m) {
    if (cluster_->Paused(m)) cluster_->Continue(m);
  }
  for (int m = 0; m < cluster_->size(); ++m) {
    if (!cluster_->Running(m)) {
      if (absl::Status s = cluster_->Restart(m); !s.ok()) return s;
    }
  }
  if (plan_.kind == FaultKind::kReplace && learner_id_ != 0) PromoteLearner();
  return absl::OkStatus();
}

}  // namespace keel::chaos
