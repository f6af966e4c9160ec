#include "papers/raft-figure16/election_trial.h"

#include <cassert>
#include <memory>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "env/rng.h"
#include "raft/config.h"
#include "raft/random_source.h"
#include "raft/rawnode.h"
#include "raft/storage.h"
#include "sim/trace.h"
#include "sim/world.h"

namespace keel::papers {
namespace {

using raft::StateType;

const char* RoleName(StateType s) {
  switch (s) {
    case StateType::kFollower: return "follower";
    case StateType::kCandidate: return "candidate";
    case StateType::kLeader: return "leader";
    case StateType::kPreCandidate: return "precandidate";
  }
  return "unknown";
}

// What the trace reports about a server; a record is written whenever it changes.
struct Observed {
  StateType role = StateType::kFollower;
  uint64_t term = 0, lead = 0, vote = 0, commit = 0, last_index = 0, last_term = 0;
  bool operator==(const Observed& o) const {
    return role == o.role && term == o.term && lead == o.lead && vote == o.vote &&
           commit == o.commit && last_index == o.last_index && last_term == o.last_term;
  }
};

// raft::RandomSource over one named World stream, so every server's timeouts replay from
// the seed. Config::election_tick_max gives the range; Raft asks for Uniform(max - min).
class RngRandomSource final : public raft::RandomSource {
 public:
  explicit RngRandomSource(env::Rng rng) : rng_(rng) {}
  uint64_t Uniform(uint64_t n) override { return rng_.Uniform(n); }

 private:
  env::Rng rng_;
};

struct Server {
  uint64_t id = 0;
  bool up = true;
  raft::MemoryStorage storage;
  std::unique_ptr<RngRandomSource> random;
  std::unique_ptr<raft::RawNode> node;
  Observed observed;
  // Appends to this follower are dropped beyond this index while `drop_appends_` is on
  // (0 = never lags).
  uint64_t lag_cutoff_index = 0;
};

class ElectionTrial {
 public:
  ElectionTrial(const TrialOptions& options, uint64_t seed, std::ostream* json_trace)
      : options_(options), world_(seed), net_rng_(world_.NewRng("net")) {
    if (json_trace != nullptr) world_.trace().set_json_sink(json_trace);
  }

  absl::StatusOr<TrialResult> Run();

 private:
  int64_t heartbeat_interval_ns() const { return heartbeat_tick_ * options_.tick_ns; }
  Server& server(uint64_t id) { return *servers_[id - 1]; }

  absl::Status CreateServers();
  void ScheduleTick(uint64_t id, int64_t at_ns);
  void Send(uint64_t from, raftpb::Message m);
  bool DropByLag(const raftpb::Message& m) const;
  // Drains every Ready of `id`; `cause` says what woke it ("tick", "recv", "propose"...).
  void HandleReadies(uint64_t id, std::string_view cause);
  void TraceState(Server& s, std::string_view cause);
  // Once a first leader exists: choose the lagging followers, then schedule proposals.
  void MaybeScheduleProposals();
  void PickLaggingFollowers(uint64_t leader);
  void MaybeScheduleCrash(uint64_t id, const raft::Ready& rd);
  // Every live server has `leader`'s term and knows it as leader.
  bool ClusterStableUnder(uint64_t leader);
  void Crash(uint64_t id);
  void CheckReelected();

  const TrialOptions options_;
  sim::World world_;
  env::Rng net_rng_;
  std::vector<std::unique_ptr<Server>> servers_;
  int election_tick_ = 0;
  int heartbeat_tick_ = 0;
  uint64_t next_msg_id_ = 1;
  bool drop_appends_ = true;
  bool proposals_scheduled_ = false;
  int64_t warmup_done_ns_ = -1;  // Earliest time a crash may be armed.
  bool crash_armed_ = false;
  int64_t last_heartbeat_ns_ = 0;
  std::optional<int64_t> crash_ns_;
  std::optional<int64_t> done_ns_;
  TrialResult result_;
};

absl::Status ElectionTrial::CreateServers() {
  const TimeoutRange& r = options_.timeout;
  if (options_.tick_ns <= 0 || 1'000'000 % options_.tick_ns != 0) {
    return absl::InvalidArgumentError("tick_ns must divide 1 ms");
  }
  const int64_t ticks_per_ms = 1'000'000 / options_.tick_ns;
  if (r.min_ms <= 0 || r.max_ms < r.min_ms || r.max_ms > raft::kMaxElectionTickSpread * r.min_ms) {
    return absl::InvalidArgumentError(absl::StrCat("timeout range ", r.Label(),
                                                   " not expressible (needs min <= max <= ",
                                                   raft::kMaxElectionTickSpread, "*min)"));
  }
  if (options_.num_servers < 3 || options_.lagging_followers > (options_.num_servers - 1) / 2) {
    return absl::InvalidArgumentError("lagging followers must leave a quorum of full logs");
  }
  election_tick_ = static_cast<int>(r.min_ms * ticks_per_ms);
  heartbeat_tick_ = election_tick_ / 2;
  const uint64_t span_ticks = static_cast<uint64_t>((r.max_ms - r.min_ms) * ticks_per_ms);

  raftpb::ConfState cs;
  for (int i = 1; i <= options_.num_servers; ++i) cs.add_voters(i);
  env::Rng phase_rng = world_.NewRng("tick_phase");
  for (int i = 1; i <= options_.num_servers; ++i) {
    auto s = std::make_unique<Server>();
    s->id = i;
    s->storage.SetInitialConfState(cs);
    s->random = std::make_unique<RngRandomSource>(world_.NewRng(absl::StrCat("timeout.n", i)));
    raft::Config c;
    c.id = i;
    c.election_tick = election_tick_;
    // Uniform in [min, max) ticks of 0.1 ms (raft/config.h); max == min is a fixed timeout.
    c.election_tick_max = election_tick_ + static_cast<int>(span_ticks);
    c.heartbeat_tick = heartbeat_tick_;
    c.storage = &s->storage;
    c.random = s->random.get();
    c.pre_vote = options_.pre_vote;
    auto node = raft::RawNode::Create(std::move(c));
    if (!node.ok()) return node.status();
    s->node = std::move(*node);
    servers_.push_back(std::move(s));
    ScheduleTick(i, static_cast<int64_t>(phase_rng.Uniform(options_.tick_ns)));
  }
  return absl::OkStatus();
}

void ElectionTrial::ScheduleTick(uint64_t id, int64_t at_ns) {
  world_.ScheduleAt(at_ns, [this, id, at_ns] {
    Server& s = server(id);
    if (!s.up || done_ns_) return;  // A crashed server's clock stops.
    s.node->Tick();
    HandleReadies(id, "tick");
    ScheduleTick(id, at_ns + options_.tick_ns);
  });
}

bool ElectionTrial::DropByLag(const raftpb::Message& m) const {
  if (!drop_appends_ || m.type() != raftpb::MsgApp || m.entries_size() == 0) return false;
  const uint64_t cutoff = servers_[m.to() - 1]->lag_cutoff_index;
  return cutoff != 0 && m.entries(m.entries_size() - 1).index() > cutoff;
}

void ElectionTrial::Send(uint64_t from, raftpb::Message m) {
  const uint64_t id = next_msg_id_++;
  const std::string type = raftpb::MessageType_Name(m.type());
  uint64_t last_entry_index = m.entries_size() > 0 ? m.entries(m.entries_size() - 1).index() : 0;
  world_.trace().Record(world_.now_ns(), from, "raft.send",
                        {{"id", id}, {"to", m.to()}, {"type", type}, {"term", m.term()},
                         {"index", m.index()}, {"log_term", m.logterm()},
                         {"entries", m.entries_size()}, {"last_entry", last_entry_index},
                         {"commit", m.commit()}, {"reject", m.reject()}});
  if (DropByLag(m)) {
    world_.trace().Record(world_.now_ns(), from, "raft.drop",
                          {{"id", id}, {"to", m.to()}, {"reason", "lagging_follower"}});
    return;
  }
  const int64_t latency_ns = net_rng_.UniformRange(options_.latency_min_ns, options_.latency_max_ns);
  world_.ScheduleAfter(latency_ns, [this, id, m = std::move(m)]() mutable {
    Server& to = server(m.to());
    if (!to.up) {
      world_.trace().Record(world_.now_ns(), m.to(), "raft.drop",
                            {{"id", id}, {"from", m.from()}, {"reason", "down"}});
      return;
    }
    if (done_ns_) return;
    world_.trace().Record(world_.now_ns(), m.to(), "raft.recv",
                          {{"id", id}, {"from", m.from()}});
    const uint64_t to_id = m.to();
    (void)to.node->Step(std::move(m));  // Stale or refused messages are Raft's business.
    HandleReadies(to_id, "recv");
  });
}

void ElectionTrial::HandleReadies(uint64_t id, std::string_view cause) {
  Server& s = server(id);
  // A Ready's Advance may deliver self-acks that produce one more Ready (e.g. a commit);
  // more than a handful in a row would be a feedback loop.
  for (int round = 0; s.node->HasReady(); ++round) {
    assert(round < 16);
    raft::Ready rd = s.node->GetReady();
    MaybeScheduleCrash(id, rd);
    for (raftpb::Message& m : rd.messages) Send(id, std::move(m));
    if (!rd.entries.empty()) {
      for (const raftpb::Entry& e : rd.entries) {
        world_.trace().Record(world_.now_ns(), id, "raft.append",
                              {{"index", e.index()}, {"term", e.term()}});
      }
      absl::Status st = s.storage.Append(rd.entries);
      assert(st.ok());
      (void)st;
    }
    if (rd.hard_state) s.storage.SetHardState(*rd.hard_state);
    for (raftpb::Message& m : rd.messages_after_persist) Send(id, std::move(m));
    s.node->Advance();
  }
  TraceState(s, cause);
  MaybeScheduleProposals();
  CheckReelected();
}

void ElectionTrial::TraceState(Server& s, std::string_view cause) {
  const raft::Raft& r = s.node->raft();
  Observed now{r.state(), r.term(), r.lead(), r.vote(), r.log().committed(),
               r.log().LastIndex(), r.log().LastTerm()};
  if (now == s.observed) return;
  if (crash_ns_ && now.role == StateType::kCandidate &&
      (s.observed.role != StateType::kCandidate || now.term != s.observed.term)) {
    ++result_.elections;
  }
  s.observed = now;
  world_.trace().Record(world_.now_ns(), s.id, "raft.state",
                        {{"role", RoleName(now.role)}, {"term", now.term}, {"lead", now.lead},
                         {"vote", now.vote}, {"commit", now.commit},
                         {"last_index", now.last_index}, {"last_term", now.last_term},
                         {"cause", cause}});
}

void ElectionTrial::MaybeScheduleProposals() {
  if (proposals_scheduled_) return;
  uint64_t leader = 0;
  for (auto& s : servers_) {
    if (s->observed.role == StateType::kLeader) leader = s->id;
  }
  if (leader == 0) return;
  proposals_scheduled_ = true;
  PickLaggingFollowers(leader);
  for (int k = 1; k <= options_.entries; ++k) {
    world_.ScheduleAfter(k * options_.proposal_interval_ns, [this, k] {
      for (auto& s : servers_) {
        if (s->up && s->node->raft().state() == StateType::kLeader) {
          (void)s->node->Propose(absl::StrCat("entry-", k));
          HandleReadies(s->id, "propose");
          return;
        }
      }
    });
  }
  // Quiet period after the last proposal: appends settle before we look for the crash.
  warmup_done_ns_ = world_.now_ns() + (options_.entries + 4) * options_.proposal_interval_ns;
}

void ElectionTrial::PickLaggingFollowers(uint64_t leader) {
  env::Rng lag_rng = world_.NewRng("lag");
  std::vector<uint64_t> followers;
  for (auto& s : servers_) {
    if (s->id != leader) followers.push_back(s->id);
  }
  const uint64_t base_index = server(leader).node->raft().log().LastIndex();
  assert(base_index >= 1);  // A new leader's empty entry: cutoff 0 keeps meaning "no lag".
  for (int k = 0; k < options_.lagging_followers; ++k) {
    const size_t pick = lag_rng.Uniform(followers.size());
    Server& lagger = server(followers[pick]);
    // Proposals will occupy base_index+1 .. base_index+entries.
    lagger.lag_cutoff_index = base_index + lag_rng.Uniform(options_.entries + 1);
    world_.trace().Record(world_.now_ns(), lagger.id, "fig16.lagging",
                          {{"cutoff_index", lagger.lag_cutoff_index}});
    followers.erase(followers.begin() + pick);
  }
}

bool ElectionTrial::ClusterStableUnder(uint64_t leader) {
  const uint64_t term = server(leader).node->raft().term();
  for (auto& s : servers_) {
    const raft::Raft& r = s->node->raft();
    if (!s->up) continue;  // Only the survivors need to know.
    if (r.term() != term || r.lead() != leader) return false;
  }
  return true;
}

void ElectionTrial::MaybeScheduleCrash(uint64_t id, const raft::Ready& rd) {
  if (crash_armed_ || warmup_done_ns_ < 0 || world_.now_ns() < warmup_done_ns_) return;
  if (server(id).node->raft().state() != StateType::kLeader || !ClusterStableUnder(id)) return;
  int heartbeats = 0;
  for (const raftpb::Message& m : rd.messages) heartbeats += m.type() == raftpb::MsgHeartbeat;
  if (heartbeats != options_.num_servers - 1) return;  // Not a full broadcast.
  crash_armed_ = true;
  last_heartbeat_ns_ = world_.now_ns();
  env::Rng crash_rng = world_.NewRng("crash");
  const int64_t offset_ns = static_cast<int64_t>(crash_rng.Uniform(heartbeat_interval_ns()));
  world_.trace().Record(world_.now_ns(), sim::kWorldNode, "fig16.crash_planned",
                        {{"victim", id}, {"offset_ns", offset_ns}});
  world_.ScheduleAfter(offset_ns, [this, id] { Crash(id); });
}

void ElectionTrial::Crash(uint64_t id) {
  Server& s = server(id);
  assert(s.up);
  s.up = false;
  drop_appends_ = false;
  crash_ns_ = world_.now_ns();
  result_.crash_offset_ns = *crash_ns_ - last_heartbeat_ns_;
  result_.old_leader = id;
  result_.old_term = s.node->raft().term();
  for (auto& srv : servers_) {
    result_.last_index_at_crash.push_back(srv->node->raft().log().LastIndex());
    result_.last_term_at_crash.push_back(srv->node->raft().log().LastTerm());
  }
  world_.trace().Record(world_.now_ns(), id, "node.crash", {});
}

void ElectionTrial::CheckReelected() {
  if (!crash_ns_ || done_ns_) return;
  for (auto& s : servers_) {
    const raft::Raft& r = s->node->raft();
    if (!s->up || r.state() != StateType::kLeader || r.term() <= result_.old_term) continue;
    if (result_.elected_ns == 0) result_.elected_ns = world_.now_ns() - *crash_ns_;
    if (!ClusterStableUnder(s->id)) return;
    done_ns_ = world_.now_ns();
    result_.new_leader = s->id;
    result_.new_term = r.term();
    result_.downtime_ns = *done_ns_ - *crash_ns_;
    world_.trace().Record(world_.now_ns(), sim::kWorldNode, "fig16.leader_known",
                          {{"leader", s->id}, {"term", r.term()},
                           {"downtime_ns", result_.downtime_ns}});
    return;
  }
}

absl::StatusOr<TrialResult> ElectionTrial::Run() {
  if (absl::Status st = CreateServers(); !st.ok()) return st;
  world_.trace().Record(0, sim::kWorldNode, "fig16.start",
                        {{"servers", options_.num_servers},
                         {"timeout", options_.timeout.Label()},
                         {"heartbeat_ns", heartbeat_interval_ns()}});
  for (auto& s : servers_) TraceState(*s, "start");
  if (absl::Status st = server(1).node->Campaign(); !st.ok()) return st;
  HandleReadies(1, "campaign");
  // Warm-up must produce a stable leader within a few seconds of simulated time.
  const int64_t warmup_limit_ns = int64_t{30} * 1'000'000'000;
  while (!done_ns_) {
    if (!world_.Step()) return absl::InternalError("event queue ran dry");
    if (!crash_ns_ && world_.now_ns() > warmup_limit_ns) {
      return absl::DeadlineExceededError("cluster never stabilised under one leader");
    }
    if (crash_ns_ && world_.now_ns() - *crash_ns_ > options_.max_downtime_ns) {
      return absl::DeadlineExceededError("no leader established after the crash");
    }
  }
  return result_;
}

}  // namespace

std::string TimeoutRange::Label() const { return absl::StrCat(min_ms, "-", max_ms); }

absl::StatusOr<TrialResult> RunElectionTrial(const TrialOptions& options, uint64_t seed,
                                             std::ostream* json_trace) {
  ElectionTrial trial(options, seed, json_trace);
  return trial.Run();
}

}  // namespace keel::papers
