#include "sim/cluster/cluster.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/member_id.h"
#include "sim/bug_switch_setter.h"
#include "base/check.h"

namespace keel::sim {
namespace {

constexpr char kClusterToken[] = "keelsim";

// Peer URLs are labels only: the simulated network routes by member ID and never dials.
std::string PeerUrl(int i) { return absl::StrFormat("http://127.0.0.1:%d", 23800 + i); }
std::string ClientUrl(int i) { return absl::StrFormat("http://127.0.0.1:%d", 23790 + i); }

// Turns a bug-zoo name into the switch of a member's configuration (env/bug_switches.h).
absl::Status SwitchOnBug(std::string_view bug, server::ServerConfig* c) {
  if (bug.empty()) return absl::OkStatus();
  if (bug == "leveldb-log-switch-gap") return absl::OkStatus();  // an env::LevelDbEnv option: StartNode
  return BugSwitchSetter::TurnOn(bug, &c->bugs);
}

}  // namespace

SimCluster::SimCluster(World* world, const Scenario& scenario)
    : world_(world), scenario_(scenario) {}

SimCluster::~SimCluster() {
  // Servers first: they hold pointers into their Envs.
  for (Node& n : nodes_) n.server.reset();
  for (Node& n : nodes_) n.leveldb.reset();
}

absl::StatusOr<std::unique_ptr<SimCluster>> SimCluster::Create(World* world,
                                                               const Scenario& scenario,
                                                               std::string_view bug) {
  std::unique_ptr<SimCluster> cluster(new SimCluster(world, scenario));
  cluster->bug_ = std::string(bug);
  cluster->network_ = std::make_unique<SimNetwork>(world, scenario.network, world->NewRng("net"));
  cluster->nodes_.resize(scenario.nodes);
  for (int i = 0; i < scenario.nodes; ++i) {
    cluster->nodes_[i].member_id = server::ComputeMemberId({PeerUrl(i)}, kClusterToken);
    cluster->nodes_[i].peer_url = PeerUrl(i);
    absl::Status configured = cluster->Configure(i);
    if (!configured.ok()) return configured;
  }
  for (int i = 0; i < scenario.nodes; ++i) {
    // A first start can fail like any other (a faulty disk's EIO while bootstrapping): the
    // member stays down until the liveness phase retries it, and must then come back.
    absl::Status started = cluster->StartNode(i);
    if (!started.ok()) cluster->Refused(i, started);
  }
  return cluster;
}

absl::Status SimCluster::Configure(int i) {
  Node& n = nodes_[i];
  n.leveldb_rng.emplace(world_->NewRng(absl::StrCat("leveldb.n", i + 1)));
  SimEnvOptions options;
  options.clock.restart_starts_loop_clock_over = scenario_.restart_starts_loop_clock_over;
  options.disk = scenario_.disk;
  // A joiner's disk is a fresh, healthy one: faulty disks stay a minority of the
  // original members, as the scenario drew them.
  const bool faulty = !n.joiner && std::find(scenario_.faulty_disk_nodes.begin(),
                                             scenario_.faulty_disk_nodes.end(),
                                             i) != scenario_.faulty_disk_nodes.end();
  if (!faulty) {
    options.disk.faults.read_error_probability = 0;
    options.disk.faults.write_error_probability = 0;
    options.disk.faults.sync_error_probability = 0;
    options.disk.faults.dir_sync_error_probability = 0;
    options.disk.faults.read_bit_flip_probability = 0;
    options.disk.faults.misdirected_write_probability = 0;
    options.disk.faults.capacity_bytes = 0;
  }
  auto env = SimEnv::Create(world_, network_.get(), n.member_id, options);
  if (!env.ok()) return env.status();
  n.env = *std::move(env);

  server::ServerConfig& c = n.config;
  c.name = absl::StrCat("n", i + 1);
  c.data_dir = "/data";
  c.advertise_client_urls = {ClientUrl(i)};
  c.advertise_peer_urls = {n.peer_url};
  if (!n.joiner) {
    for (int k = 0; k < scenario_.nodes; ++k) {
      c.initial_cluster.push_back({absl::StrCat("n", k + 1), {PeerUrl(k)}});
    }
  }
  c.initial_cluster_token = kClusterToken;
  c.heartbeat_interval_ms = scenario_.heartbeat_ms;
  c.election_timeout_ms = scenario_.election_ms;
  c.snapshot_count = scenario_.snapshot_count;
  c.snapshot_catchup_entries = std::min<uint64_t>(scenario_.snapshot_count, 50);
  c.request_timeout_ms = std::max<int64_t>(2000, 5 * scenario_.election_ms);
  c.pre_vote = scenario_.pre_vote;
  c.sim_max_size_per_msg = scenario_.max_msg_bytes;
  c.backend_write_buffer_bytes = scenario_.leveldb_write_buffer_bytes;
  return SwitchOnBug(bug_, &c);
}

std::string SimCluster::PeerUrlOf(int i) { return PeerUrl(i); }

int SimCluster::AddJoiner(uint64_t member_id, const std::string& peer_url) {
  const int i = size();
  KEEL_CHECK(IndexOf(member_id) < 0);   // an ID is never reused
  nodes_.emplace_back();
  nodes_[i].member_id = member_id;
  nodes_[i].peer_url = peer_url;
  nodes_[i].joiner = true;
  absl::Status configured = Configure(i);
  KEEL_CHECK(configured.ok());
  world_->trace().Record(world_->now_ns(), member_id, "node.added", {{"index", i}});
  // Until it starts, its process is up with no server (like a refused start).
  return i;
}

bool SimCluster::PrepareJoin(int i) {
  Node& n = nodes_[i];
  for (int j = 0; j < size(); ++j) {
    if (j == i || nodes_[j].retired || nodes_[j].server == nullptr || nodes_[j].server->stopped()) continue;
    const server::Membership& m = nodes_[j].server->membership();
    if (m.Find(n.member_id) == nullptr) continue;
    server::ExistingCluster existing;
    existing.cluster_id = m.cluster_id();
    n.config.initial_cluster.clear();
    for (const serverpb::Member& member : m.List()) {
      const int k = IndexOf(member.id());
      n.config.initial_cluster.push_back(
          {k >= 0 ? absl::StrCat("n", k + 1) : member.name(),
           {member.peer_urls().begin(), member.peer_urls().end()}});
      server::ExistingCluster::Member e;
      e.id = member.id();
      e.name = member.name();
      e.peer_urls.assign(member.peer_urls().begin(), member.peer_urls().end());
      e.client_urls.assign(member.client_urls().begin(), member.client_urls().end());
      e.is_learner = member.is_learner();
      existing.members.push_back(std::move(e));
    }
    n.config.initial_cluster_state_new = false;
    // keeld asks the peers over the network; here the answer of the member chosen above,
    // taken when the joiner starts (the fetch itself is not what is under test).
    n.config.fetch_existing_cluster = [existing]() -> absl::StatusOr<server::ExistingCluster> {
      return existing;
    };
    return true;
  }
  return false;
}

int SimCluster::TryStartJoiners() {
  int started = 0;
  for (int i = 0; i < size(); ++i) {
    Node& n = nodes_[i];
    if (!n.joiner || n.retired || n.ever_started || n.server != nullptr) continue;
    if (!PrepareJoin(i)) continue;
    n.refusal.clear();
    if (!n.env->node_loop().up()) n.env->Restart();
    absl::Status s = StartNode(i);
    if (s.ok()) {
      ++started;
    } else {
      Refused(i, s);
    }
  }
  return started;
}

void SimCluster::Retire(int i, std::string why) {
  Node& n = nodes_[i];
  if (n.retired) return;
  world_->trace().Record(world_->now_ns(), n.member_id, "node.retired", {{"why", std::string_view(why)}});
  Crash(i);
  n.retired = true;
  n.retired_reason = std::move(why);
}

int SimCluster::retired_count() const {
  int count = 0;
  for (const Node& n : nodes_) count += n.retired ? 1 : 0;
  return count;
}

absl::Status SimCluster::StartNode(int i) {
  Node& n = nodes_[i];
  KEEL_CHECK(!n.retired);  // a removed member never comes back with its old ID
  env::LevelDbEnv::Options ldb;
  ldb.fs = n.env->fs();
  ldb.background = env::LevelDbEnv::BackgroundMode::kQueued;
  if (bug_ == "leveldb-log-switch-gap") ldb.sync_rule = env::LevelDbEnv::SyncRule::kPosixEnv;
  env::Loop* loop = n.env->loop();
  ldb.now_micros = [loop]() { return static_cast<uint64_t>(loop->NowNanos() / 1000); };
  auto leveldb = env::LevelDbEnv::Create(std::move(ldb));
  if (!leveldb.ok()) return leveldb.status();
  n.leveldb = *std::move(leveldb);
  n.drain_scheduled = false;  // a pending drain died with the previous incarnation's loop
  server::ServerConfig config = n.config;
  config.leveldb_env = n.leveldb.get();
  env::LevelDbEnv* raw = n.leveldb.get();
  // LevelDB's background work runs on this thread, at points of the deterministic
  // schedule (DESIGN.md): right after each DB call, or deferred like keeld's thread.
  if (scenario_.leveldb_timing == LevelDbTiming::kDrained) {
    config.after_db_call = [raw]() { raw->RunQueuedWork(); };
  } else {
    config.after_db_call = [this, i]() { ScheduleDeferredDrain(i); };
    config.run_queued_db_work = [raw]() { raw->RunQueuedWork(); };
  }
  config.on_fatal = [this, i](const absl::Status& s) { OnFatal(i, s); };
  config.on_apply = [this, i](const raftpb::Entry& e) {
    if (on_apply) on_apply(i, e);
  };
  config.on_persisted = [this, i]() { RecordPromise(i); };
  auto server = server::Server::Open(n.env.get(), std::move(config));
  if (!server.ok()) {
    n.leveldb.reset();
    return server.status();
  }
  n.server.reset(static_cast<server::ServerImpl*>(server->release()));
  n.ever_started = true;
  CheckPromise(i);
  n.server->Start();
  world_->trace().Record(world_->now_ns(), n.member_id, "node.start", {});
  return absl::OkStatus();
}

int SimCluster::IndexOf(uint64_t member_id) const {
  for (int i = 0; i < size(); ++i) {
    if (nodes_[i].member_id == member_id) return i;
  }
  return -1;
}

void SimCluster::ScheduleDeferredDrain(int i) {
  Node& n = nodes_[i];
  if (n.drain_scheduled || n.leveldb->QueuedWork() == 0) return;
  n.drain_scheduled = true;
  n.snapshot_index_at_queue = n.server != nullptr ? n.server->snapshot_index() : 0;
  const int64_t delay_ns = n.leveldb_rng->UniformRange(0, scenario_.leveldb_deferral_max_ns);
  // On the member's own loop: a pause holds it back and a crash discards it, as they
  // would keeld's background thread.
  n.env->loop()->RunAfter(delay_ns, [this, i, raw = n.leveldb.get()]() mutable {
    Node& node = nodes_[i];
    if (node.leveldb.get() != raw) return;  // another incarnation's timer
    node.drain_scheduled = false;
    // Power lost before the background thread got to the work: the worst moment of the
    // window (every write since the switch is at stake). Aimed, like a triggered fault:
    // a window in which the member took a snapshot (synced the backend and released WAL
    // it no longer needs) is where lost backend writes cannot be replayed, so a cut
    // there is 4x as likely.
    const bool snapshot_in_window =
        node.server != nullptr && node.server->snapshot_index() > node.snapshot_index_at_queue;
    const double cut = std::min(1.0, scenario_.leveldb_power_cut_probability *
                                         (snapshot_in_window ? 4 : 1));
    if (leveldb_power_cuts_ && raw->QueuedWork() > 0 && node.leveldb_rng->Chance(cut)) {
      world_->trace().Record(world_->now_ns(), node.member_id, "leveldb.power_cut",
                             {{"queued", raw->QueuedWork()}});
      CrashNowRestartLater(i);
      return;
    }
    const size_t ran = raw->RunQueuedWork();
    world_->trace().Record(world_->now_ns(), node.member_id, "leveldb.drain", {{"ran", ran}});
  });
}

void SimCluster::Crash(int i) {
  Node& n = nodes_[i];
  if (n.server == nullptr) return;
  world_->trace().Record(world_->now_ns(), n.member_id, "node.crash", {});
  // LevelDB work still queued (deferred timing: keeld's background thread, killed with
  // the process) must not complete when the server is torn down: it fails instead.
  n.leveldb->Fence();
  n.server.reset();
  n.leveldb.reset();
  n.env->Crash();
}

absl::Status SimCluster::Restart(int i) {
  Node& n = nodes_[i];
  if (n.server != nullptr || !n.refusal.empty() || n.retired) return absl::OkStatus();
  // A joiner that never ran starts through TryStartJoiners (it needs a member to ask).
  if (n.joiner && !n.ever_started) return absl::OkStatus();
  // A joiner that crashed before its WAL was durable joins again, with the membership as
  // it is now (with a WAL, these settings are ignored).
  if (n.joiner) (void)PrepareJoin(i);
  // A refused start left the process up without a server (HealAll retries it).
  if (!n.env->node_loop().up()) n.env->Restart();
  absl::Status started = StartNode(i);
  if (!started.ok()) Refused(i, started);
  return started;
}

void SimCluster::Refused(int i, const absl::Status& status) {
  // Detected corruption (or another refusal): the member stays down, as keeld would
  // refuse to start. Never silently served.
  Node& n = nodes_[i];
  n.refusal = std::string(status.message());
  ++n.refusals;
  world_->trace().Record(world_->now_ns(), n.member_id, "node.refused",
                         {{"reason", std::string_view(n.refusal)}});
}

void SimCluster::Pause(int i) {
  if (nodes_[i].retired || nodes_[i].server == nullptr || paused(i)) return;
  nodes_[i].env->node_loop().Pause();
}

void SimCluster::Resume(int i) {
  // A paused member may have crashed meanwhile; its restart starts it unpaused.
  if (!up(i) || !paused(i)) return;
  nodes_[i].env->node_loop().Resume();
}

void SimCluster::OnFatal(int i, const absl::Status& status) {
  const std::string reason(status.message());
  nodes_[i].last_fatal = reason;
  ++nodes_[i].fatals;
  world_->trace().Record(world_->now_ns(), nodes_[i].member_id, "node.fatal",
                         {{"reason", std::string_view(reason)}});
  // Not from inside the server's own callback.
  CrashNowRestartLater(i);
}

void SimCluster::CrashNowRestartLater(int i) {
  world_->ScheduleAfter(0, [this, i]() mutable { Crash(i); });
  world_->ScheduleAfter(scenario_.election_ms * 1'000'000, [this, i]() mutable { (void)Restart(i); });
}

void SimCluster::RecordPromise(int i) {
  Node& n = nodes_[i];
  const raft::MemoryStorage& log = n.server->raft_log();
  n.promise.valid = true;
  n.promise.term = log.hard_state().term();
  n.promise.vote = log.hard_state().vote();
  n.promise.last_index = log.LastIndex().value_or(0);
  n.promise.last_term = log.Term(n.promise.last_index).value_or(0);
}

void SimCluster::CheckPromise(int i) {
  const Node& n = nodes_[i];
  const Node::Promise& p = n.promise;
  if (!p.valid || amnesia_.has_value()) return;
  const raft::MemoryStorage& log = n.server->raft_log();
  const raftpb::HardState& hs = log.hard_state();
  std::string lost;
  if (hs.term() < p.term || (hs.term() == p.term && p.vote != 0 && hs.vote() != p.vote)) {
    lost = absl::StrFormat("recovered term %d vote %x, but it had persisted term %d vote %x", hs.term(),
                           hs.vote(), p.term, p.vote);
  } else if (const uint64_t snapshot_index = log.FirstIndex().value_or(1) - 1;
             p.last_index > snapshot_index && log.Term(p.last_index).value_or(0) != p.last_term) {
    // An entry under the recovered snapshot is in the state the snapshot stands for; one
    // above it must be in the log, with the same term.
    lost = absl::StrFormat("recovered log ends at %d (snapshot %d), but it had persisted entry %d of term %d",
                           log.LastIndex().value_or(0), snapshot_index, p.last_index, p.last_term);
  }
  if (!lost.empty()) amnesia_ = absl::StrFormat("n%d restarted without what it acknowledged: %s", i + 1, lost);
}

void SimCluster::HealAll() {
  network_->Heal();
  for (int i = 0; i < size(); ++i) {
    if (nodes_[i].retired) continue;
    if (paused(i)) Resume(i);
    // An operator's second attempt: a refusal caused by a transient fault (EIO or a bit
    // flip on a read during recovery, a full disk) must not outlive it.
    nodes_[i].refusal.clear();
    if (!up(i)) (void)Restart(i);
  }
}

bool SimCluster::MediumDamaged(int i) const {
  return nodes_[i].env->disk().counters().misdirected_writes > 0;
}

std::string SimCluster::DiskFaultSummary(int i) const {
  const DiskCounters& c = nodes_[i].env->disk().counters();
  std::string out;
  for (const auto& [name, count] :
       {std::pair<const char*, uint64_t>{"misdirected_write", c.misdirected_writes},
        {"eio_read", c.read_errors}, {"eio_write", c.write_errors}, {"eio_sync", c.sync_errors},
        {"eio_dir_sync", c.dir_sync_errors},
        {"enospc", c.full_errors}, {"bit_flip", c.bit_flips}}) {
    if (count > 0) absl::StrAppend(&out, out.empty() ? "" : " ", name, "=", count);
  }
  return out;
}

int SimCluster::Leader() const {
  // The member that most live members name as leader at the highest term they know.
  uint64_t best_term = 0;
  std::map<uint64_t, int> votes;
  int members = 0;
  for (const Node& n : nodes_) {
    if (n.retired || (n.joiner && !n.ever_started)) continue;
    ++members;
    if (n.server == nullptr) continue;
    // Raft's own state, not Stats(): this runs often and must stay cheap.
    const raft::Raft& r = n.server->raft_node().raft();
    if (r.term() > best_term) {
      best_term = r.term();
      votes.clear();
    }
    if (r.term() == best_term && r.lead() != 0) votes[r.lead()]++;
  }
  for (const auto& [id, count] : votes) {
    if (count * 2 > members) return IndexOf(id);
  }
  return -1;
}

}  // namespace keel::sim
