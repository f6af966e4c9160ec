#include "sim/cluster/membership_ops.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "base/check.h"

namespace keel::sim {
namespace {

constexpr int64_t kTickNs = 20'000'000;
// Members (listed, processes included) the driver grows the cluster to at most.
constexpr int kMaxMembers = 7;

// "etcdserver: bad leader transferee" -> "bad_leader_transferee" (a bounded set: the
// server's fixed error texts).
std::string Reason(const absl::Status& s) {
  absl::string_view m = s.message();
  absl::ConsumePrefix(&m, "etcdserver: ");
  std::string out;
  for (char c : m.substr(0, 48)) {
    out.push_back(std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(c)) : '_');
  }
  return out.empty() ? absl::StrCat("code_", static_cast<int>(s.code())) : out;
}

}  // namespace

struct MembershipOps::InFlight {
  std::string kind;
  int64_t deadline_ns = 0;
  bool answered = false;
};

MembershipOps::MembershipOps(World* world, SimCluster* cluster, env::Rng rng,
                             std::vector<int> faulty_disk_nodes, int64_t request_timeout_ns)
    : world_(world),
      cluster_(cluster),
      rng_(std::move(rng)),
      faulty_(std::move(faulty_disk_nodes)),
      request_timeout_ns_(request_timeout_ns) {}

MembershipOps::~MembershipOps() { *alive_ = false; }

void MembershipOps::Start(int64_t ops_until_ns, int64_t stop_ns) {
  // Two runs in three change membership; the others keep the fixed cluster, so a bug that
  // needs a stable member set is not drowned.
  enabled_ = rng_.Uniform(3) != 0;
  if (!enabled_) return;
  ops_until_ns_ = ops_until_ns;
  stop_ns_ = stop_ns;
  next_url_ = cluster_->size();
  next_op_ns_ = rng_.UniformRange(200'000'000, 2'000'000'000);
  world_->ScheduleAt(kTickNs, [this, alive = alive_]() mutable {
    if (*alive) Tick();
  });
}

void MembershipOps::Tick() {
  Reconcile();
  const int64_t now = world_->now_ns();
  if (in_flight_ != nullptr && !in_flight_->answered && now > in_flight_->deadline_ns) {
    // Never answered (a member paused past the deadline holds the callback): the client
    // gives up, outcome unknown, as an etcd client's context deadline.
    Count(absl::StrCat("member.", in_flight_->kind, ".no_answer"));
    in_flight_->answered = true;
  }
  if (in_flight_ != nullptr && in_flight_->answered) in_flight_.reset();
  if (in_flight_ == nullptr && now < ops_until_ns_ && now >= next_op_ns_) {
    IssueNext();
    next_op_ns_ = now + rng_.UniformRange(300'000'000, 2'000'000'000);
  }
  if (now + kTickNs < stop_ns_) {
    world_->ScheduleAfter(kTickNs, [this, alive = alive_]() mutable {
      if (*alive) Tick();
    });
  }
}

const server::Membership* MembershipOps::View() const {
  const server::Membership* best = nullptr;
  uint64_t best_applied = 0;
  for (int i = 0; i < cluster_->size(); ++i) {
    server::ServerImpl* s = cluster_->server(i);
    if (s == nullptr || s->stopped() || s->membership().joining()) continue;
    if (best == nullptr || s->applied_index() > best_applied) {
      best = &s->membership();
      best_applied = s->applied_index();
    }
  }
  return best;
}

void MembershipOps::Reconcile() {
  if (!enabled_) return;
  // Removed: retire every member some live member lists as removed, or that stopped
  // itself after applying its own removal.
  for (int i = 0; i < cluster_->size(); ++i) {
    if (cluster_->retired(i)) continue;
    const uint64_t id = cluster_->member_id(i);
    std::string why;
    server::ServerImpl* self = cluster_->server(i);
    if (self != nullptr && self->stopped()) why = "applied its own removal";
    for (int j = 0; j < cluster_->size() && why.empty(); ++j) {
      server::ServerImpl* s = cluster_->server(j);
      if (s != nullptr && s->membership().IsRemoved(id)) why = absl::StrCat("removed, as n", j + 1, " applied");
    }
    if (why.empty()) continue;
    removed_ids_.insert(id);
    cluster_->Retire(i, why);
    Count("member.retired");
  }
  // Added: an ID the membership lists without a process gets one.
  if (const server::Membership* view = View()) {
    for (const serverpb::Member& m : view->List()) {
      if (cluster_->IndexOf(m.id()) >= 0 || removed_ids_.count(m.id()) > 0 || m.peer_urls().empty()) continue;
      const int i = cluster_->AddJoiner(m.id(), m.peer_urls(0));
      world_->trace().Record(world_->now_ns(), kWorldNode, "member.process",
                             {{"index", i}, {"id", m.id()}});
    }
  }
  if (const int started = cluster_->TryStartJoiners(); started > 0) counters_["member.joined"] += started;
}

int MembershipOps::PickTarget(bool leader_bias) {
  if (leader_bias) {
    const int leader = cluster_->Leader();
    if (leader >= 0 && cluster_->up(leader) && !cluster_->paused(leader)) return leader;
  }
  std::vector<int> live;
  for (int i = 0; i < cluster_->size(); ++i) {
    if (cluster_->retired(i) || !cluster_->up(i) || cluster_->server(i)->stopped()) continue;
    live.push_back(i);
  }
  if (live.empty()) return -1;
  return live[rng_.Uniform(live.size())];
}

void MembershipOps::Send(const std::string& kind, int target,
                         std::function<void(server::ServerImpl*, std::function<void(absl::Status)>)> issue) {
  const int ordinal = requests_++;
  Count("member.requests");
  if (kept_requests_.has_value() && kept_requests_->count(ordinal) == 0) {
    Count("member.shrunk_away");
    return;
  }
  Count(absl::StrCat("member.", kind, ".issued"));
  auto flight = std::make_shared<InFlight>();
  flight->kind = kind;
  flight->deadline_ns = world_->now_ns() + request_timeout_ns_;
  in_flight_ = flight;
  world_->trace().Record(world_->now_ns(), cluster_->member_id(target), "member.request",
                         {{"kind", std::string_view(kind)}});
  SimCluster* c = cluster_;
  World* w = world_;
  cluster_->env(target).loop()->Post([this, c, w, target, flight, issue, alive = alive_]() mutable {
    server::ServerImpl* s = c->server(target);
    if (s == nullptr) {
      flight->answered = true;
      if (*alive) Count(absl::StrCat("member.", flight->kind, ".refused.member_down"));
      return;
    }
    issue(s, [this, w, c, target, flight, alive](absl::Status status) {
      if (flight->answered || !*alive) return;
      flight->answered = true;
      Count(absl::StrCat("member.", flight->kind, status.ok() ? ".ok" : ".refused.", status.ok() ? "" : Reason(status)));
      w->trace().Record(w->now_ns(), c->member_id(target), "member.answer",
                        {{"kind", std::string_view(flight->kind)},
                         {"status", status.ok() ? std::string_view("ok") : std::string_view(status.message().data(), status.message().size())}});
    });
  });
}

// etcd 3.4's MoveLeader contract (v3rpc maintenance.go, etcdserver server.go): a member
// that is not the leader answers ErrGRPCNotLeader; a target that is not a voter member,
// ErrGRPCBadLeaderTransferee; otherwise OK once the target leads (the leader itself at
// once), or a timeout. No other answer is legal, and OK only names a voter member.
void MembershipOps::CheckMoveLeaderAnswer(server::ServerImpl* s, uint64_t to, const absl::Status& status) {
  const serverpb::Member* target = s->membership().Find(to);
  const bool voter = target != nullptr && !target->is_learner();
  std::string broken;
  if (status.ok()) {
    Count("check.move_leader.ok_target_is_voter");
    if (!voter) broken = "answered OK for a target that is not a voter member";
  } else if (status.message() == "etcdserver: bad leader transferee") {
    Count("check.move_leader.bad_transferee_not_voter");
    if (voter) broken = "refused a voter member as a bad leader transferee";
  } else if (status.message() == "etcdserver: not leader") {
    Count("check.move_leader.not_leader");
  } else if (status.message() == "etcdserver: request timed out, leader transfer took too long") {
    Count("check.move_leader.timed_out");
  } else {
    broken = "answered an error etcd's MoveLeader never returns";
  }
  if (!broken.empty() && !violation_.has_value()) {
    violation_ = checkers::Violation{
        "move-leader",
        absl::StrFormat("n%d (id %x) %s: target %x, answer %s", cluster_->IndexOf(s->member_id()) + 1, s->member_id(),
                        broken, to, status.ToString()),
        {}};
  }
}

void MembershipOps::IssueNext() {
  const server::Membership* view = View();
  if (view == nullptr) return;
  std::vector<serverpb::Member> voters, learners;
  for (const serverpb::Member& m : view->List()) (m.is_learner() ? learners : voters).push_back(m);
  if (voters.empty() && learners.empty()) return;
  const int listed = static_cast<int>(voters.size() + learners.size());
  auto faulty = [&](uint64_t id) {
    const int i = cluster_->IndexOf(id);
    return i >= 0 && std::find(faulty_.begin(), faulty_.end(), i) != faulty_.end();
  };
  int faulty_voters = 0;
  for (const serverpb::Member& m : voters) faulty_voters += faulty(m.id()) ? 1 : 0;

  // Weighted choice among the operations that make sense now.
  enum Op { kAdd, kPromote, kRemove, kReplace, kUpdate, kTransfer };
  std::vector<std::pair<Op, int>> choices;
  const bool can_add = listed < kMaxMembers && learners.empty();
  if (replace_pending_ && can_add) {
    choices.push_back({kAdd, 1});
  } else {
    if (can_add) choices.push_back({kAdd, 3});
    if (!learners.empty()) choices.push_back({kPromote, 4});
    if (voters.size() >= 4) {
      choices.push_back({kRemove, 2});
      choices.push_back({kReplace, 2});
    }
    choices.push_back({kUpdate, 1});
    choices.push_back({kTransfer, 4});
  }
  int total = 0;
  for (const auto& [op, w] : choices) total += w;
  int pick = static_cast<int>(rng_.Uniform(total));
  Op op = choices.front().first;
  for (const auto& [o, w] : choices) {
    if (pick < w) {
      op = o;
      break;
    }
    pick -= w;
  }

  switch (op) {
    case kAdd: {
      const int target = PickTarget(/*leader_bias=*/rng_.Chance(0.5));
      if (target < 0) return;
      const std::string url = SimCluster::PeerUrlOf(next_url_++);
      const bool replacing = replace_pending_;
      replace_pending_ = false;
      Send(replacing ? "replace_add" : "add", target, [url](server::ServerImpl* s, std::function<void(absl::Status)> done) {
        etcdserverpb::MemberAddRequest req;
        req.add_peerurls(url);
        req.set_islearner(true);
        s->MemberAdd(req, [done](absl::StatusOr<etcdserverpb::MemberAddResponse> r) { done(r.status()); });
      });
      return;
    }
    case kPromote: {
      const int target = PickTarget(/*leader_bias=*/rng_.Chance(0.5));
      if (target < 0) return;
      const uint64_t id = learners[rng_.Uniform(learners.size())].id();
      Send("promote", target, [id](server::ServerImpl* s, std::function<void(absl::Status)> done) {
        etcdserverpb::MemberPromoteRequest req;
        req.set_id(id);
        s->MemberPromote(req, [done](absl::StatusOr<etcdserverpb::MemberPromoteResponse> r) { done(r.status()); });
      });
      return;
    }
    case kRemove:
    case kReplace: {
      // The leader a third of the time: a leader that commits its own removal must step
      // down and the rest must elect without it.
      const int leader = cluster_->Leader();
      uint64_t victim = 0;
      if (leader >= 0 && rng_.OneIn(3)) {
        victim = cluster_->member_id(leader);
      } else {
        victim = voters[rng_.Uniform(voters.size())].id();
      }
      const int voters_after = static_cast<int>(voters.size()) - 1;
      if ((faulty_voters - (faulty(victim) ? 1 : 0)) * 2 >= voters_after) return;
      const int target = PickTarget(/*leader_bias=*/rng_.Chance(0.5));
      if (target < 0) return;
      if (op == kReplace) {
        replace_pending_ = true;
        Count("member.replace.issued");
      }
      Send(op == kReplace ? "replace_remove" : "remove", target,
           [victim](server::ServerImpl* s, std::function<void(absl::Status)> done) {
             etcdserverpb::MemberRemoveRequest req;
             req.set_id(victim);
             s->MemberRemove(req, [done](absl::StatusOr<etcdserverpb::MemberRemoveResponse> r) { done(r.status()); });
           });
      return;
    }
    case kUpdate: {
      const int target = PickTarget(/*leader_bias=*/false);
      if (target < 0) return;
      const serverpb::Member m = voters.empty() ? learners.front() : voters[rng_.Uniform(voters.size())];
      Send("update", target, [m](server::ServerImpl* s, std::function<void(absl::Status)> done) {
        etcdserverpb::MemberUpdateRequest req;
        req.set_id(m.id());
        for (const std::string& u : m.peer_urls()) req.add_peerurls(u);
        s->MemberUpdate(req, [done](absl::StatusOr<etcdserverpb::MemberUpdateResponse> r) { done(r.status()); });
      });
      return;
    }
    case kTransfer: {
      // etcdctl move-leader sends to the leader; a follower answers "not leader".
      const int target = PickTarget(/*leader_bias=*/rng_.Uniform(5) != 0);
      if (target < 0) return;
      // Any index ever used: voters, learners, joiners not started, removed members.
      const uint64_t to = cluster_->member_id(static_cast<int>(rng_.Uniform(cluster_->size())));
      Send("move_leader", target,
           [this, to, alive = alive_](server::ServerImpl* s, std::function<void(absl::Status)> done) {
             etcdserverpb::MoveLeaderRequest req;
             req.set_targetid(to);
             s->MoveLeader(req, [this, s, to, alive, done](absl::StatusOr<etcdserverpb::MoveLeaderResponse> r) {
               // Answered on s's loop (synchronously, at a leader change, or at its timeout):
               // s is alive (a destroyed server drops its waiters unanswered).
               if (*alive) CheckMoveLeaderAnswer(s, to, r.status());
               done(r.status());
             });
           });
      return;
    }
  }
}

}  // namespace keel::sim
