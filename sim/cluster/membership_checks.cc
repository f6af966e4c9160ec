#include "sim/cluster/membership_checks.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "sim/world.h"

namespace keel::sim {
namespace {

std::string Ids(const std::set<uint64_t>& ids) {
  std::vector<std::string> out;
  for (uint64_t id : ids) out.push_back(absl::StrFormat("%x", id));
  return absl::StrCat("{", absl::StrJoin(out, " "), "}");
}

// Runs `check` on the member an event ran in (World::event_node), or on every member when
// the event was not confined to one; the first violation wins.
template <typename Check>
std::optional<checkers::Violation> CheckEventMembers(SimCluster* cluster, uint64_t event_node, Check check) {
  const int i = event_node == World::kAnyNode ? -1 : cluster->IndexOf(event_node);
  if (i >= 0) return check(i);
  for (int k = 0; k < cluster->size(); ++k) {
    if (auto v = check(k)) return v;
  }
  return std::nullopt;
}

}  // namespace

std::optional<checkers::Violation> CommitQuorumChecker::AfterEvent(uint64_t event_node) {
  if (violation_.has_value()) return violation_;
  if (seen_.size() < static_cast<size_t>(cluster_->size())) seen_.resize(cluster_->size());
  return CheckEventMembers(cluster_, event_node, [this](int i) { return Check(i); });
}

std::optional<checkers::Violation> CommitQuorumChecker::Check(int i) {
  server::ServerImpl* s = cluster_->server(i);
  if (s == nullptr || s->stopped()) return std::nullopt;
  const raft::Raft& r = s->raft_node().raft();
  Seen now;
  now.term = r.term();
  now.commit = r.log().committed();
  Seen& seen = seen_[i];
  if (r.state() != raft::StateType::kLeader) {
    // Only leaders decide commitment; a follower's configurations are not needed (and a
    // member that just became leader is checked from its next event on: term changed).
    seen = std::move(now);
    return std::nullopt;
  }
  const raft::JointConfig& voters = r.tracker().config.voters;
  now.raft_voters = voters.incoming.ids();
  now.raft_outgoing = voters.outgoing.ids();
  const server::Membership& membership = s->membership();
  for (int k = 0; k < cluster_->size(); ++k) {
    const serverpb::Member* m = membership.Find(cluster_->member_id(k));
    if (m != nullptr && !m->is_learner()) now.member_voters.insert(m->id());
  }
  std::optional<checkers::Violation> found;
  if (now.term == seen.term && now.commit > seen.commit && !seen.raft_voters.empty()) {
    ++checked_;
    const uint64_t c = now.commit;
    const uint64_t term = r.log().TermOrZero(c);
    std::set<uint64_t> holders;
    auto holds = [&](uint64_t id) {
      const int k = cluster_->IndexOf(id);
      if (k < 0) return false;
      const server::ServerImpl* h = cluster_->server(k);
      if (h == nullptr) return true;  // down: its storage cannot be read (lenient)
      const raft::MemoryStorage& storage = h->raft_log();
      if (storage.FirstIndex().value_or(1) - 1 >= c) return true;  // under its snapshot
      absl::StatusOr<uint64_t> t = storage.Term(c);
      return t.ok() && *t == term;
    };
    auto majority = [&](const std::set<uint64_t>& config) {
      if (config.empty()) return false;
      size_t n = 0;
      for (uint64_t id : config) {
        if (holds(id)) {
          ++n;
          holders.insert(id);
        }
      }
      return n * 2 > config.size();
    };
    auto raft_quorum = [&](const std::set<uint64_t>& in, const std::set<uint64_t>& out) {
      const bool a = majority(in);
      const bool b = out.empty() || majority(out);
      return a && b;
    };
    const bool ok = raft_quorum(now.raft_voters, now.raft_outgoing) ||
                    raft_quorum(seen.raft_voters, seen.raft_outgoing) ||
                    majority(now.member_voters) || majority(seen.member_voters);
    if (!ok) {
      found = checkers::Violation{
          "commit-quorum",
          absl::StrFormat("n%d (leader, term %d) advanced its commit index %d -> %d, but entry %d "
                          "(term %d) is durable only on %s: no majority of the voters in force "
                          "(Raft %s%s, membership %s; before the event Raft %s, membership %s)",
                          i + 1, now.term, seen.commit, c, c, term, Ids(holders), Ids(now.raft_voters),
                          now.raft_outgoing.empty() ? "" : absl::StrCat("&&", Ids(now.raft_outgoing)),
                          Ids(now.member_voters), Ids(seen.raft_voters), Ids(seen.member_voters)),
          {}};
      violation_ = found;
    }
  }
  seen = std::move(now);
  return found;
}

std::optional<checkers::Violation> AppliedConfigChecker::AfterEvent(uint64_t event_node) {
  return CheckEventMembers(cluster_, event_node, [this](int i) { return Check(i); });
}

std::optional<checkers::Violation> AppliedConfigChecker::Check(int i) {
  server::ServerImpl* s = cluster_->server(i);
  if (s == nullptr || s->stopped()) return std::nullopt;
  const raft::Raft& r = s->raft_node().raft();
  const raft::TrackerConfig& config = r.tracker().config;
  if (seen_.size() < static_cast<size_t>(cluster_->size())) seen_.resize(cluster_->size());
  const std::array<uint64_t, 5> now{s->applied_index(), r.log().committed(), config.voters.incoming.ids().size(),
                                    config.learners.size(), config.learners_next.size()};
  if (seen_[i] == now) return std::nullopt;
  seen_[i] = now;
  const server::Membership& membership = s->membership();
  const uint64_t self = cluster_->member_id(i);
  if (membership.IsRemoved(self)) {
    return checkers::Violation{
        "removed-kept-running",
        absl::StrFormat("n%d applied its own removal (applied index %d) and still runs, as %s of term %d",
                        i + 1, s->applied_index(), raft::StateTypeName(r.state()), r.term()),
        {}};
  }
  // Raft has no configuration before its first entries apply (a fresh start, a joiner);
  // and while committed entries wait to be applied the two views legitimately differ. So
  // they do while a restart replays entries the backend already holds: a member that
  // crashed after restoring a received image to its backend but before that snapshot's WAL
  // marker was durable restarts from an older snapshot, so Raft's commit index and
  // configuration lag the backend's membership until the leader resends those entries
  // (keelsim seed 233: snapshot 156 in Raft, backend at 164 with one more voter).
  if (config.voters.incoming.ids().empty() || s->applied_index() < r.log().committed() ||
      s->applied_index() < s->store().consistent_index()) {
    return std::nullopt;
  }
  ++checked_;
  std::set<uint64_t> raft_learners = config.learners;
  raft_learners.insert(config.learners_next.begin(), config.learners_next.end());
  std::set<uint64_t> voters, learners;
  for (const serverpb::Member& m : membership.List()) (m.is_learner() ? learners : voters).insert(m.id());
  if (voters == config.voters.incoming.ids() && learners == raft_learners) return std::nullopt;
  return checkers::Violation{
      "config-not-applied",
      absl::StrFormat("n%d (%s, term %d, applied = committed = %d): Raft's configuration is voters %s "
                      "learners %s, but the membership it applied lists voters %s learners %s",
                      i + 1, raft::StateTypeName(r.state()), r.term(), s->applied_index(),
                      Ids(config.voters.incoming.ids()), Ids(raft_learners), Ids(voters), Ids(learners)),
      {}};
}

std::optional<checkers::Violation> CheckMembershipAtEnd(SimCluster& cluster,
                                                        const std::set<uint64_t>& removed_ids) {
  std::string reference;
  int reference_member = -1;
  for (int i = 0; i < cluster.size(); ++i) {
    if (cluster.retired(i)) {
      if (cluster.up(i)) {
        return checkers::Violation{"removed-rejoined",
                                   absl::StrFormat("n%d was removed but its process runs", i + 1), {}};
      }
      continue;
    }
    server::ServerImpl* s = cluster.server(i);
    if (s == nullptr) continue;  // member-down judges it
    std::string listed;
    for (const serverpb::Member& m : s->membership().List()) {
      if (removed_ids.count(m.id()) > 0) {
        return checkers::Violation{
            "removed-rejoined",
            absl::StrFormat("n%d lists member %x, which was removed earlier", i + 1, m.id()), {}};
      }
      absl::StrAppend(&listed, absl::StrFormat("%x%s[%s] ", m.id(), m.is_learner() ? "(learner)" : "",
                                               absl::StrJoin(m.peer_urls(), ",")));
    }
    if (reference_member < 0) {
      reference = listed;
      reference_member = i;
    } else if (listed != reference) {
      return checkers::Violation{
          "membership-diverged",
          absl::StrFormat("after convergence n%d lists %s but n%d lists %s", i + 1, listed,
                          reference_member + 1, reference),
          {}};
    }
  }
  return std::nullopt;
}

}  // namespace keel::sim
