#include "sim/cluster/raft_swarm.h"

#include <algorithm>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "env/rng.h"
#include "raft/random_source.h"
#include "raft/rawnode.h"
#include "raft/storage.h"
#include "base/check.h"
#include "sim/checkers/raft_safety.h"
#include "sim/cluster/log_reporter.h"
#include "sim/network.h"
#include "sim/sim_env.h"
#include "sim/world.h"
#include "storage/wal.h"

namespace keel::sim {
namespace {

constexpr int64_t kMs = 1'000'000;
constexpr uint64_t kMaxIds = 7;   // node ids 1..7; the ones not bootstrapped are spares
constexpr int kMaxVoters = 5;
constexpr int kMinVoters = 2;
constexpr int kMaxReadiesPerPump = 64;  // a Ready strictly shrinks the work; bound the loop
constexpr char kWalDir[] = "/wal";

class RngSource final : public raft::RandomSource {
 public:
  explicit RngSource(env::Rng rng) : rng_(rng) {}
  uint64_t Uniform(uint64_t n) override { return rng_.Uniform(n); }

 private:
  env::Rng rng_;
};

class Swarm {
 public:
  Swarm(uint64_t seed, std::ostream* trace) : world_(seed), rng_(world_.NewRng("swarm.driver")) {
    if (trace != nullptr) world_.trace().set_json_sink(trace);
  }

  RaftSwarmResult Run();

 private:
  struct Node final : env::TransportHandler {
    Swarm* swarm = nullptr;
    uint64_t id = 0;
    std::unique_ptr<SimEnv> env;
    // The initial voters when this member bootstraps the cluster; empty for a spare,
    // which starts with no configuration and learns it from the log it is sent.
    std::vector<uint64_t> bootstrap;
    bool up = false;
    bool stopped = false;  // left the configuration; stopped for good (liveness phase)
    // One incarnation (reset at a crash).
    std::shared_ptr<bool> alive;
    std::unique_ptr<RngSource> random;
    std::unique_ptr<storage::Wal> wal;
    std::unique_ptr<raft::MemoryStorage> storage;  // exactly what the WAL acknowledged
    std::unique_ptr<raft::RawNode> raft;
    bool saving = false;
    uint64_t applied = 0;
    bool joint = false;
    // The checker's view, across incarnations.
    LogReporter reporter;
    std::vector<checkers::EntryDigest> applied_since;
    uint64_t checked_commit = 0;  // joint-quorum: the last commit index checked as leader
    uint64_t checked_term = 0;
    // The voters in force at the previous observation: a commit may advance in the event
    // that applied a configuration change (Advance after the apply), under the old one.
    raft::JointConfig voters_before;
    uint64_t leader_term = 0;  // the term it was last seen leading, for swarm.elections_won

    void OnMessage(uint64_t from, std::string payload) override { swarm->Receive(*this, payload); }
    void OnPeerUnreachable(uint64_t peer) override {
      if (raft != nullptr) raft->ReportUnreachable(peer);
    }
  };

  void Fail(std::string property, std::string message) {
    if (!violation_.has_value()) violation_ = checkers::Violation{std::move(property), std::move(message), {}};
  }
  void Count(const std::string& name, uint64_t n = 1) { counts_[name] += n; }
  Node& node(uint64_t id) { return *nodes_[id - 1]; }

  void Start(Node& n);
  void Crash(Node& n);
  void Receive(Node& n, const std::string& payload);
  void Send(Node& n, const raftpb::Message& m);
  void Pump(Node& n);
  void Persisted(Node& n, raft::Ready rd);
  void Apply(Node& n, const raftpb::Entry& e);
  void ScheduleTick(Node& n);
  void Observe(Node& n);
  void ObserveAfterEvent();
  void CheckJointQuorum(Node& n);
  // The up member that is leader in the highest term, or nullptr.
  Node* Leader();
  void DriverTick();
  void ProposeConfChange(Node& leader);
  void ScheduleFaults(int64_t until_ns);
  bool Converged(std::string* why);
  void StopRemoved();

  World world_;
  env::Rng rng_;
  std::unique_ptr<SimNetwork> network_;
  std::vector<std::unique_ptr<Node>> nodes_;
  checkers::RaftSafetyChecker checker_;
  std::optional<checkers::Violation> violation_;
  std::map<std::string, uint64_t> counts_;
  int election_tick_ = 10;
  int64_t tick_ns_ = 10 * kMs;
  bool pre_vote_ = false;
  bool check_quorum_ = false;
  int max_inflight_ = 256;
  bool liveness_ = false;
  uint64_t next_cmd_ = 0;
  uint64_t probe_index_ = 0;  // the liveness phase's entry every member must apply
  uint64_t probe_term_ = 0;
};

void Swarm::Start(Node& n) {
  if (!n.env->node_loop().up()) n.env->Restart();
  n.alive = std::make_shared<bool>(true);
  n.env->transport()->SetHandler(&n);
  for (uint64_t p = 1; p <= kMaxIds; ++p) {
    if (p != n.id) n.env->transport()->AddPeer(p, absl::StrCat("swarm-n", p));
  }
  n.storage = std::make_unique<raft::MemoryStorage>();
  env::FileSystem* fs = n.env->fs();
  bool bootstrapping = false;
  if (storage::Wal::Exists(fs, kWalDir)) {
    absl::StatusOr<std::unique_ptr<storage::Wal>> wal = storage::Wal::Open(fs, kWalDir, {});
    if (!wal.ok()) return Fail("swarm-restart", absl::StrCat("n", n.id, ": ", wal.status().ToString()));
    absl::StatusOr<storage::WalContents> contents = (*wal)->ReadAll();
    if (!contents.ok()) return Fail("swarm-restart", absl::StrCat("n", n.id, ": ", contents.status().ToString()));
    if (!contents->entries.empty()) KEEL_CHECK(n.storage->Append(std::move(contents->entries)).ok());
    n.storage->SetHardState(contents->hard_state);
    n.wal = *std::move(wal);
  } else {
    absl::StatusOr<std::unique_ptr<storage::Wal>> wal = storage::Wal::Create(fs, kWalDir, "swarm");
    if (!wal.ok()) return Fail("swarm-restart", absl::StrCat("n", n.id, ": ", wal.status().ToString()));
    n.wal = *std::move(wal);
    bootstrapping = !n.bootstrap.empty();
  }
  std::vector<raftpb::Entry> boot_entries;
  raftpb::HardState boot_hs;
  if (bootstrapping) {
    // As etcd's raft Bootstrap: the initial configuration is the log's first entries (one
    // AddNode each, term 1, committed), so a member added later learns it by replication
    // like any other change. Durable before anything else happens (no Ready meanwhile).
    for (uint64_t peer : n.bootstrap) {
      raftpb::ConfChange cc;
      cc.set_type(raftpb::ConfChangeAddNode);
      cc.set_node_id(peer);
      raftpb::Entry e;
      e.set_type(raftpb::EntryConfChange);
      e.set_term(1);
      e.set_index(boot_entries.size() + 1);
      e.set_data(cc.SerializeAsString());
      boot_entries.push_back(std::move(e));
    }
    boot_hs.set_term(1);
    boot_hs.set_commit(boot_entries.size());
    KEEL_CHECK(n.storage->Append(boot_entries).ok());
    n.storage->SetHardState(boot_hs);
  }
  n.random = std::make_unique<RngSource>(n.env->NewRng("raft.election"));
  raft::Config c;
  c.id = n.id;
  c.election_tick = election_tick_;
  c.heartbeat_tick = 1;
  c.storage = n.storage.get();
  c.applied = 0;  // the toy state machine is volatile: every restart re-applies the log
  c.pre_vote = pre_vote_;
  c.check_quorum = check_quorum_;
  c.max_inflight_msgs = max_inflight_;
  c.random = n.random.get();
  absl::StatusOr<std::unique_ptr<raft::RawNode>> rn = raft::RawNode::Create(c);
  if (!rn.ok()) return Fail("swarm-restart", absl::StrCat("n", n.id, ": ", rn.status().ToString()));
  n.raft = *std::move(rn);
  n.applied = 0;
  n.saving = false;
  if (bootstrapping) {
    n.saving = true;
    KEEL_CHECK(n.wal->Save(boot_hs, boot_entries, [this, &n, alive = n.alive](absl::Status s) {
                          if (!*alive) return;
                          KEEL_CHECK(s.ok());
                          n.saving = false;
                          Pump(n);
                        }).ok());
  }

  n.joint = n.raft->raft().tracker().config.voters.IsJoint();
  n.up = true;
  world_.trace().Annotate(world_.now_ns(), n.id, "swarm.start",
                          {{"last", n.storage->LastIndex().value_or(0)},
                           {"last_term", n.storage->Term(n.storage->LastIndex().value_or(0)).value_or(0)},
                           {"hs_commit", n.storage->hard_state().commit()},
                           {"hs_term", n.storage->hard_state().term()}});
  ScheduleTick(n);
}

void Swarm::Crash(Node& n) {
  if (!n.up) return;
  n.env->Crash();
  *n.alive = false;
  n.raft.reset();
  n.wal.reset();
  n.storage.reset();
  n.random.reset();
  n.applied_since.clear();
  n.up = false;
}

void Swarm::ScheduleTick(Node& n) {
  n.env->loop()->RunAfter(tick_ns_, [this, &n, alive = n.alive]() {
    if (!*alive) return;
    n.raft->Tick();
    Pump(n);
    ScheduleTick(n);
  });
}

void Swarm::Receive(Node& n, const std::string& payload) {
  if (n.raft == nullptr) return;
  raftpb::Message m;
  KEEL_CHECK(m.ParseFromString(payload));
  (void)n.raft->Step(std::move(m));  // a message for another term or config may be refused
  Pump(n);
}

void Swarm::Send(Node& n, const raftpb::Message& m) {
  if (m.to() == n.id) return;  // self-addressed acks: Raft already counted them
  if (m.type() == raftpb::MsgTimeoutNow) Count("raft.leader_transfers");
  KEEL_CHECK(m.type() != raftpb::MsgSnap);  // nothing is compacted: logs replicate whole
  n.env->transport()->Send(m.to(), m.SerializeAsString());
}

void Swarm::Pump(Node& n) {
  for (int k = 0; k < kMaxReadiesPerPump && n.raft != nullptr && !n.saving && n.raft->HasReady(); ++k) {
    raft::Ready rd = n.raft->GetReady();
    for (const raftpb::Message& m : rd.messages) Send(n, m);
    KEEL_CHECK(!rd.snapshot.has_value());
    if (rd.entries.empty() && !rd.hard_state.has_value()) {
      Persisted(n, std::move(rd));
      continue;
    }
    // One Ready at a time: the next is taken once this one is durable (the WAL's ack).
    n.saving = true;
    auto ready = std::make_shared<raft::Ready>(std::move(rd));
    absl::Status issued = n.wal->Save(ready->hard_state.value_or(raftpb::HardState()), ready->entries,
                                      [this, &n, alive = n.alive, ready](absl::Status s) {
                                        if (!*alive) return;
                                        // A healthy disk (the swarm draws no disk faults)
                                        // never fails a save.
                                        KEEL_CHECK(s.ok());
                                        Persisted(n, std::move(*ready));
                                        Pump(n);
                                      });
    KEEL_CHECK(issued.ok());
    return;
  }
}

void Swarm::Persisted(Node& n, raft::Ready rd) {
  if (world_.trace().has_json_sink()) {
    world_.trace().Annotate(world_.now_ns(), n.id, "swarm.persisted",
                            {{"term", n.raft->raft().term()},
                             {"first", rd.entries.empty() ? 0 : rd.entries.front().index()},
                             {"last", rd.entries.empty() ? 0 : rd.entries.back().index()},
                             {"last_term", rd.entries.empty() ? 0 : rd.entries.back().term()},
                             {"hs_commit", rd.hard_state.has_value() ? rd.hard_state->commit() : 0},
                             {"committed", rd.committed_entries.size()},
                             {"raft_commit", n.raft->raft().log().committed()}});
  }
  if (!rd.entries.empty()) KEEL_CHECK(n.storage->Append(rd.entries).ok());
  if (rd.hard_state.has_value()) n.storage->SetHardState(*rd.hard_state);
  for (const raftpb::Message& m : rd.messages_after_persist) Send(n, m);
  for (const raftpb::Entry& e : rd.committed_entries) Apply(n, e);
  n.raft->Advance();
  n.saving = false;
}

void Swarm::Apply(Node& n, const raftpb::Entry& e) {
  KEEL_CHECK(e.index() == n.applied + 1);
  n.applied = e.index();
  n.applied_since.push_back({e.index(), e.term(), EntryHash(e)});
  if (e.type() != raftpb::EntryConfChangeV2 && e.type() != raftpb::EntryConfChange) return;
  absl::StatusOr<raftpb::ConfState> cs;
  if (e.type() == raftpb::EntryConfChangeV2) {
    raftpb::ConfChangeV2 cc;
    KEEL_CHECK(cc.ParseFromString(e.data()));
    cs = n.raft->ApplyConfChange(cc);
  } else {
    raftpb::ConfChange cc;
    KEEL_CHECK(cc.ParseFromString(e.data()));
    cs = n.raft->ApplyConfChange(cc);
  }
  Count(cs.ok() ? "swarm.conf_applied" : "swarm.conf_refused_at_apply");
  const raft::TrackerConfig& config = n.raft->raft().tracker().config;
  const bool joint = config.voters.IsJoint();
  if (joint && !n.joint) {
    Count("raft.joint_entered");
    Count(config.auto_leave ? "swarm.joint_entered_auto" : "swarm.joint_entered_explicit");
  }
  if (!joint && n.joint) Count("raft.joint_left");
  n.joint = joint;
}

// Commit in joint consensus needs a majority of each half (thesis §4.3): check it against
// the durable logs, independently of Raft's own progress tracking.
void Swarm::CheckJointQuorum(Node& n) {
  const raft::Raft& r = n.raft->raft();
  const raft::JointConfig before = std::exchange(n.voters_before, r.tracker().config.voters);
  if (r.state() != raft::StateType::kLeader) return;
  if (n.leader_term != r.term()) {
    n.leader_term = r.term();
    Count("swarm.elections_won");
  }
  const uint64_t commit = r.log().committed();
  if (r.term() != n.checked_term) {
    n.checked_term = r.term();
    n.checked_commit = commit;
    return;
  }
  if (commit <= n.checked_commit) return;
  n.checked_commit = commit;
  const absl::StatusOr<uint64_t> term = r.log().Term(commit);
  if (!term.ok()) return;
  auto holds = [&](uint64_t id) {
    if (id < 1 || id > kMaxIds) return false;
    Node& m = node(id);
    if (!m.up) return true;  // lenient: what it held before it went down is unknown here
    absl::StatusOr<uint64_t> t = m.storage->Term(commit);
    return t.ok() && *t == *term;
  };
  // The first half of `voters` without a durable majority, or "" if both have one.
  auto short_half = [&](const raft::JointConfig& voters) -> std::string {
    for (const raft::MajorityConfig* half : {&voters.incoming, &voters.outgoing}) {
      if (half->ids().empty()) continue;
      size_t held = 0;
      for (uint64_t id : half->ids()) held += holds(id) ? 1 : 0;
      if (held * 2 <= half->ids().size()) {
        return absl::StrFormat("%d of the voters {%s}", held, absl::StrJoin(half->ids(), ","));
      }
    }
    return "";
  };
  const raft::JointConfig& voters = r.tracker().config.voters;
  const std::string now = short_half(voters);
  if (!now.empty() && !short_half(before).empty()) {
    return Fail("joint-quorum",
                absl::StrFormat("leader n%d committed index %d (term %d) held durably by only %s of its "
                                "configuration %s (and of the one before)",
                                n.id, commit, *term, now, r.tracker().config.ToString()));
  }
  if (voters.IsJoint() || before.IsJoint()) Count("swarm.joint_commits_checked");
  Count("swarm.commits_checked");
}

void Swarm::Observe(Node& n) {
  if (!n.up || n.raft == nullptr || violation_.has_value()) return;
  const raft::Raft& r = n.raft->raft();
  checkers::RaftObservation o;
  o.node = n.id;
  o.term = r.term();
  o.role = ToRole(r.state());
  o.leader_id = r.lead();
  o.commit_index = std::min<uint64_t>(
      {r.log().committed(), r.log().StableLastIndex(), n.storage->LastIndex().value_or(0)});
  if (absl::Status s = n.reporter.Report(*n.storage, o); !s.ok()) {
    return Fail("malformed-observation", absl::StrCat("n", n.id, ": ", s.message()));
  }
  o.applied = std::move(n.applied_since);
  n.applied_since.clear();
  if (world_.trace().has_json_sink()) {
    world_.trace().Annotate(world_.now_ns(), n.id, "swarm.observe",
                            {{"term", o.term}, {"role", static_cast<int>(o.role)}, {"commit", o.commit_index},
                             {"last", o.last_index}, {"stable", r.log().StableLastIndex()},
                             {"raft_commit", r.log().committed()},
                             {"appended_from", o.appended.empty() ? 0 : o.appended.front().index}});
  }
  if (std::optional<checkers::Violation> v = checker_.Observe(o)) {
    violation_ = std::move(v);
    return;
  }
  CheckJointQuorum(n);
}

void Swarm::ObserveAfterEvent() {
  const uint64_t who = world_.event_node();
  const size_t committed_before = checker_.committed_entries();
  if (who != World::kAnyNode && who >= 1 && who <= kMaxIds) {
    Observe(node(who));
    if (checker_.committed_entries() == committed_before) return;
  }
  // Not confined to one member, or the committed prefix grew (leader completeness is
  // checked against every member's log then).
  for (auto& n : nodes_) Observe(*n);
}

Swarm::Node* Swarm::Leader() {
  Node* best = nullptr;
  for (auto& n : nodes_) {
    if (!n->up || n->raft->raft().state() != raft::StateType::kLeader) continue;
    if (best == nullptr || n->raft->raft().term() > best->raft->raft().term()) best = n.get();
  }
  return best;
}

void Swarm::ProposeConfChange(Node& leader) {
  const raft::TrackerConfig& config = leader.raft->raft().tracker().config;
  raftpb::ConfChangeV2 cc;
  if (config.voters.IsJoint()) {
    // Joint: only leaving is allowed. Raft leaves an auto-leave config by itself.
    if (config.auto_leave) return;
    Count("swarm.leave_joint_proposed");
  } else {
    std::set<uint64_t> voters = config.voters.incoming.ids();
    std::set<uint64_t> learners = config.learners;
    const int changes = 1 + static_cast<int>(rng_.Uniform(3));  // one change: a simple one
    std::set<uint64_t> touched{leader.id};  // never demote or remove the leader itself
    for (int k = 0; k < changes; ++k) {
      const uint64_t id = 1 + rng_.Uniform(kMaxIds);
      if (!touched.insert(id).second) continue;
      raftpb::ConfChangeSingle ch;
      ch.set_node_id(id);
      const bool voter = voters.count(id) > 0;
      const int what = static_cast<int>(rng_.Uniform(3));
      if (voter) {
        if (static_cast<int>(voters.size()) <= kMinVoters) continue;
        ch.set_type(what == 0 ? raftpb::ConfChangeAddLearnerNode : raftpb::ConfChangeRemoveNode);
        voters.erase(id);
        if (what == 0) learners.insert(id);
      } else {
        if (what != 0 && static_cast<int>(voters.size()) < kMaxVoters) {
          ch.set_type(raftpb::ConfChangeAddNode);
          voters.insert(id);
          learners.erase(id);
        } else if (learners.count(id) > 0) {
          ch.set_type(raftpb::ConfChangeRemoveNode);
          learners.erase(id);
        } else {
          ch.set_type(raftpb::ConfChangeAddLearnerNode);
          learners.insert(id);
        }
      }
      *cc.add_changes() = ch;
    }
    if (cc.changes_size() == 0) return;
    const int transition = static_cast<int>(rng_.Uniform(3));
    cc.set_transition(transition == 0   ? raftpb::ConfChangeTransitionAuto
                      : transition == 1 ? raftpb::ConfChangeTransitionJointImplicit
                                        : raftpb::ConfChangeTransitionJointExplicit);
    Count(absl::StrCat("swarm.conf_proposed.", cc.changes_size() > 1 || transition != 0 ? "joint" : "simple"));
  }
  world_.trace().Record(world_.now_ns(), leader.id, "swarm.conf_change",
                        {{"changes", cc.changes_size()}, {"transition", static_cast<int>(cc.transition())}});
  leader.env->loop()->Post([this, &leader, alive = leader.alive, cc]() {
    if (!*alive) return;
    if (!leader.raft->ProposeConfChange(cc).ok()) Count("swarm.conf_refused_at_propose");
    Pump(leader);
  });
}

void Swarm::DriverTick() {
  Node* leader = Leader();
  const uint64_t draw = rng_.Uniform(100);
  if (leader != nullptr && draw < 8 &&
      (!liveness_ || leader->raft->raft().tracker().config.voters.IsJoint())) {
    ProposeConfChange(*leader);
  } else if (leader != nullptr && draw < 12 && !liveness_) {
    // A leader transfer, to any id (itself, learners and strangers included: Raft ignores
    // what it cannot do).
    const uint64_t to = 1 + rng_.Uniform(kMaxIds);
    Count("swarm.transfer_requested");
    world_.trace().Record(world_.now_ns(), leader->id, "swarm.transfer", {{"to", to}});
    leader->env->loop()->Post([this, leader, alive = leader->alive, to]() {
      if (!*alive) return;
      leader->raft->TransferLeader(to);
      Pump(*leader);
    });
  } else {
    // A normal entry, through a random live member (a follower forwards it).
    std::vector<Node*> live;
    for (auto& n : nodes_) {
      if (n->up) live.push_back(n.get());
    }
    if (live.empty()) return;
    Node* n = live[rng_.Uniform(live.size())];
    const std::string cmd = absl::StrCat("c", next_cmd_++);
    n->env->loop()->Post([this, n, alive = n->alive, cmd]() {
      if (!*alive) return;
      (void)n->raft->Propose(cmd);  // no leader known: dropped, as a client would retry
      Pump(*n);
    });
  }
}

void Swarm::ScheduleFaults(int64_t until_ns) {
  const int faults = static_cast<int>(rng_.UniformRange(2, 12));
  for (int k = 0; k < faults; ++k) {
    const int64_t at = rng_.UniformRange(200 * kMs, until_ns - 100 * kMs);
    const int64_t duration = rng_.UniformRange(50 * kMs, 1500 * kMs);
    const uint64_t id = 1 + rng_.Uniform(kMaxIds);
    const int kind = static_cast<int>(rng_.Uniform(3));
    world_.ScheduleAt(at, [this, id, kind, duration]() {
      if (liveness_) return;
      Node& n = node(id);
      if (kind == 0) {
        if (!n.up) return;
        Count("swarm.fault.crash");
        Crash(n);
        world_.ScheduleAfter(duration, [this, &n]() {
          if (!n.up && !liveness_) Start(n);
        });
      } else if (kind == 1) {
        Count("swarm.fault.isolate");
        network_->Isolate(id);
        world_.ScheduleAfter(duration, [this]() { network_->Heal(); });
      } else {
        Count("swarm.fault.split");
        std::vector<uint64_t> side;
        for (uint64_t p = 1; p <= kMaxIds; ++p) {
          if (rng_.OneIn(2)) side.push_back(p);
        }
        network_->Split(side);
        world_.ScheduleAfter(duration, [this]() { network_->Heal(); });
      }
    });
  }
}

// Liveness phase: a member the configuration no longer lists stops for good (etcd's
// member exits when it learns it was removed), so it cannot disrupt the others.
void Swarm::StopRemoved() {
  Node* reference = nullptr;
  for (auto& n : nodes_) {
    if (n->up && (reference == nullptr || n->applied > reference->applied)) reference = n.get();
  }
  if (reference == nullptr) return;
  // A copy: the reference itself may be stopped below (it applied its own removal).
  const raft::TrackerConfig config = reference->raft->raft().tracker().config;
  for (auto& n : nodes_) {
    const bool listed = config.voters.Contains(n->id) || config.learners.count(n->id) > 0 ||
                        config.learners_next.count(n->id) > 0;
    if (listed && n->stopped) {
      // Re-added by a change committed after it was stopped (the swarm reuses ids).
      n->stopped = false;
      Start(*n);
    } else if (!listed && !n->stopped) {
      world_.trace().Annotate(world_.now_ns(), n->id, "swarm.stop",
                              {{"reference", reference->id}, {"config", config.ToString()}});
      Crash(*n);
      n->stopped = true;
    }
  }
}

bool Swarm::Converged(std::string* why) {
  Node* leader = Leader();
  if (leader == nullptr) {
    *why = "no leader";
    return false;
  }
  const raft::TrackerConfig& config = leader->raft->raft().tracker().config;
  if (config.voters.IsJoint()) {
    *why = absl::StrCat("leader n", leader->id, " still joint: ", config.ToString());
    return false;
  }
  if (probe_index_ == 0 || leader->raft->raft().log().TermOrZero(probe_index_) != probe_term_) {
    *why = "probe not appended";
    return false;
  }
  for (uint64_t id : config.voters.incoming.ids()) {
    Node& n = node(id);
    if (!n.up || n.applied < probe_index_) {
      *why = absl::StrFormat("n%d applied %d < probe %d (up=%d)", id, n.up ? n.applied : 0, probe_index_, n.up);
      return false;
    }
  }
  for (uint64_t id : config.learners) {
    Node& n = node(id);
    if (!n.up || n.applied < probe_index_) {
      *why = absl::StrFormat("learner n%d applied %d < probe %d", id, n.up ? n.applied : 0, probe_index_);
      return false;
    }
  }
  return true;
}

RaftSwarmResult Swarm::Run() {
  RaftSwarmResult result;
  const int members = rng_.OneIn(2) ? 3 : 5;
  pre_vote_ = rng_.OneIn(2);
  check_quorum_ = rng_.OneIn(2);
  max_inflight_ = rng_.OneIn(2) ? 256 : 2;
  tick_ns_ = rng_.UniformRange(5, 20) * kMs;
  const int64_t safety_ns = rng_.UniformRange(5, 15) * 1000 * kMs;
  const int64_t liveness_bound_ns = std::max<int64_t>(10'000 * kMs, 60 * election_tick_ * tick_ns_);
  NetworkOptions net;
  net.delay_min_ns = tick_ns_ / 20;
  net.delay_jitter_ns = tick_ns_ / 4;
  net.drop_probability = rng_.OneIn(2) ? 0 : 0.01 * static_cast<double>(rng_.Uniform(6));
  net.duplicate_probability = rng_.OneIn(2) ? 0 : 0.02;
  net.tail_probability = rng_.OneIn(2) ? 0 : 0.02;
  network_ = std::make_unique<SimNetwork>(&world_, net, world_.NewRng("swarm.net"));
  std::vector<uint64_t> initial;
  for (int i = 1; i <= members; ++i) initial.push_back(i);
  for (uint64_t id = 1; id <= kMaxIds; ++id) {
    auto n = std::make_unique<Node>();
    n->swarm = this;
    n->id = id;
    if (id <= static_cast<uint64_t>(members)) n->bootstrap = initial;
    SimEnvOptions options;
    options.disk.faults.slow_sync_probability = rng_.OneIn(3) ? 0.05 : 0;
    absl::StatusOr<std::unique_ptr<SimEnv>> env = SimEnv::Create(&world_, network_.get(), id, options);
    KEEL_CHECK(env.ok());
    n->env = *std::move(env);
    nodes_.push_back(std::move(n));
  }
  for (auto& n : nodes_) Start(*n);
  result.summary = absl::StrFormat(
      "swarm: members=%d spares=%d tick=%dms pre_vote=%d check_quorum=%d inflight=%d drop=%.2f safety=%.1fs",
      members, kMaxIds - members, tick_ns_ / kMs, pre_vote_, check_quorum_, max_inflight_, net.drop_probability,
      safety_ns / 1e9);
  ScheduleFaults(safety_ns);
  const int64_t driver_ns = rng_.UniformRange(10, 40) * kMs;
  std::function<void()> drive = [&]() {
    DriverTick();
    world_.ScheduleAfter(driver_ns, [&]() { drive(); });
  };
  world_.ScheduleAfter(driver_ns, [&]() { drive(); });

  // Safety phase.
  while (!violation_.has_value() && world_.now_ns() < safety_ns && world_.Step()) ObserveAfterEvent();
  // Liveness phase: faults stop, everything heals and restarts.
  liveness_ = true;
  NetworkOptions calm = net;
  calm.drop_probability = 0;
  calm.duplicate_probability = 0;
  network_->set_options(calm);
  network_->Heal();
  for (auto& n : nodes_) {
    if (!n->up && !violation_.has_value()) Start(*n);
  }
  const int64_t deadline = world_.now_ns() + liveness_bound_ns;
  int64_t next_check = world_.now_ns();
  bool converged = false;
  std::string why = "not checked";
  while (!violation_.has_value() && world_.now_ns() < deadline && world_.Step()) {
    ObserveAfterEvent();
    if (world_.now_ns() < next_check) continue;
    next_check = world_.now_ns() + 50 * kMs;
    StopRemoved();
    Node* leader = Leader();
    if (leader != nullptr && probe_index_ == 0 && !leader->raft->raft().tracker().config.voters.IsJoint()) {
      // The probe: one entry proposed at the leader, whose index every member must reach.
      const uint64_t before = leader->raft->raft().log().LastIndex();
      if (leader->raft->Propose("probe").ok() && leader->raft->raft().log().LastIndex() > before) {
        probe_index_ = leader->raft->raft().log().LastIndex();
        probe_term_ = leader->raft->raft().term();
      }
      Pump(*leader);
    }
    if (Converged(&why)) {
      converged = true;
      break;
    }
    // A probe that a leader change lost is proposed again.
    if (leader != nullptr && probe_index_ > 0 &&
        leader->raft->raft().log().TermOrZero(probe_index_) != probe_term_) {
      probe_index_ = 0;
    }
  }
  if (!violation_.has_value() && !converged) {
    Fail("swarm-liveness", absl::StrFormat("no convergence within %.1fs after healing: %s",
                                           liveness_bound_ns / 1e9, why));
  }
  result.violation = violation_;
  for (const auto& [name, n] : counts_) {
    if (n > 0) result.coverage[name] += n;
  }
  result.coverage["swarm.runs"] += 1;
  result.trace_hash = world_.trace().hash();
  result.sim_seconds = static_cast<double>(world_.now_ns()) / 1e9;
  result.events = world_.events_run();
  // Tear down members while the world and network still exist.
  for (auto& n : nodes_) Crash(*n);
  return result;
}

}  // namespace

RaftSwarmResult RunRaftSwarm(uint64_t seed, std::ostream* trace) {
  Swarm swarm(seed, trace);
  return swarm.Run();
}

}  // namespace keel::sim
