#include "sim/cluster/runner.h"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>

#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "env/buggify.h"
#include "env/rng.h"
#include "sim/checkers/durability.h"
#include "sim/checkers/history.h"
#include "sim/checkers/linearizability.h"
#include "sim/checkers/raft_safety.h"
#include "sim/cluster/cluster.h"
#include "sim/checkers/check_tally.h"
#include "sim/cluster/coverage.h"
#include "sim/cluster/raft_swarm.h"
#include "sim/cluster/end_checks.h"
#include "sim/cluster/log_reporter.h"
#include "sim/cluster/membership_checks.h"
#include "sim/cluster/membership_ops.h"
#include "sim/cluster/raft_trace.h"
#include "sim/cluster/scenario.h"
#include "sim/cluster/storage_commit.h"
#include "sim/cluster/triggers.h"
#include "sim/cluster/workload.h"
#include "sim/cluster/workload_checks.h"
#include "sim/world.h"

namespace keel::sim {
namespace {

constexpr int64_t kSec = 1'000'000'000;

// Feeds the Raft safety checker from every member after every event: role, term, commit,
// the delta of its stable log, and the entries it applied.
class RaftObserver {
 public:
  explicit RaftObserver(SimCluster* cluster) : cluster_(cluster), views_(cluster->size()) {
    cluster_->on_apply = [this](int node, const raftpb::Entry& e) {
      GrowViews();
      views_[node].applied.push_back({e.index(), e.term(), EntryHash(e)});
      CheckRevisionAt(node, e.index());
    };
  }

  // Replica agreement at every log index: a member that just applied entry i must be at
  // the same store revision as every other member was right after applying i. (Entries
  // skipped because the backend already held them are not "just applied".)
  void CheckRevisionAt(int node, uint64_t index) {
    server::ServerImpl* s = cluster_->server(node);
    if (s == nullptr || divergence_.has_value() || s->store().consistent_index() != index) return;
    const int64_t revision = s->store().current_revision();
    auto [it, inserted] = revision_at_index_.emplace(index, std::make_pair(revision, node));
    if (inserted || it->second.first == revision) return;
    divergence_ = checkers::Violation{
        "replica-divergence",
        absl::StrFormat("after applying log index %d, n%d is at revision %d but n%d was at %d", index,
                        node + 1, revision, it->second.second + 1, it->second.first),
        {}};
  }

  // `force`: also members whose state did not change (see ObserveAfter).
  std::optional<checkers::Violation> ObserveAll(bool force = false) {
    if (divergence_.has_value()) return divergence_;
    for (int i = 0; i < cluster_->size(); ++i) {
      std::optional<checkers::Violation> v = Observe(i, force);
      if (v.has_value()) return v;
    }
    return std::nullopt;
  }

  // After one world event: observes the member the event ran in (World::event_node), or
  // every member when the event was not confined to one (faults, clients, restarts).
  // As strong as ObserveAll after every event: a member's state changes only in its own
  // events (members reach each other only through the network, whose deliveries are
  // events of the receiver), and observing an unchanged member again tells the checker
  // nothing new except leader completeness against entries committed meanwhile, so
  // newly committed entries re-observe everyone.
  std::optional<checkers::Violation> ObserveAfter(uint64_t event_node) {
    if (divergence_.has_value()) return divergence_;
    const int i = event_node == World::kAnyNode ? -1 : cluster_->IndexOf(event_node);
    if (i < 0) return ObserveAll();
    const size_t committed_before = checker_.committed_entries();
    if (std::optional<checkers::Violation> v = Observe(i, /*force=*/false)) return v;
    if (checker_.committed_entries() > committed_before) return ObserveAll(/*force=*/true);
    return std::nullopt;
  }

 private:
  // Everything Observe reads from a member. Equal to the last observation's (and nothing
  // applied since, and the reported log reaching the last index) means the observation
  // would be identical, which tells the checker nothing: skipped unless forced.
  struct Fingerprint {
    uint64_t term = 0, lead = 0, committed = 0, stable_last = 0, raft_first = 0;
    uint64_t first = 0, last = 0, last_term = 0, snapshot_term = 0;
    int role = -1;
    bool operator==(const Fingerprint& o) const {
      return term == o.term && lead == o.lead && committed == o.committed &&
             stable_last == o.stable_last && raft_first == o.raft_first && first == o.first &&
             last == o.last && last_term == o.last_term && snapshot_term == o.snapshot_term &&
             role == o.role;
    }
  };

  struct View {
    LogReporter reporter;                           // the log reported so far
    uint64_t commit_index = 0;                      // last reported
    // Entries Raft counted committed beyond its stable prefix at the last observation
    // without a pending snapshot (see storage_commit.h).
    std::vector<checkers::EntryDigest> claimed;
    std::vector<checkers::EntryDigest> applied;     // since the last observation
    bool observed = false;
    Fingerprint fingerprint;                        // at the last observation
  };

  // Members added during the run (SimCluster::AddJoiner) get a view on first sight.
  void GrowViews() {
    if (views_.size() < static_cast<size_t>(cluster_->size())) views_.resize(cluster_->size());
  }

  std::optional<checkers::Violation> Observe(int i, bool force) {
    GrowViews();
    server::ServerImpl* s = cluster_->server(i);
    View& view = views_[i];
    if (s == nullptr) {
      view.applied.clear();
      view.claimed.clear();
      return std::nullopt;
    }
    const raft::Raft& r = s->raft_node().raft();
    const raft::MemoryStorage& storage = s->raft_log();
    Fingerprint f;
    f.term = r.term();
    f.lead = r.lead();
    f.committed = r.log().committed();
    f.stable_last = r.log().StableLastIndex();
    f.raft_first = r.log().FirstIndex();
    f.first = storage.FirstIndex().value_or(1);
    f.last = storage.LastIndex().value_or(0);
    f.last_term = storage.Term(f.last).value_or(0);
    f.snapshot_term = storage.Term(f.first - 1).value_or(0);
    f.role = static_cast<int>(r.state());
    const bool caught_up = view.reporter.CaughtUp(storage);
    if (!force && view.observed && view.applied.empty() && caught_up && f == view.fingerprint) {
      return std::nullopt;
    }
    view.observed = true;
    view.fingerprint = f;
    checkers::RaftObservation o;
    o.node = cluster_->member_id(i);
    o.term = r.term();
    o.role = ToRole(r.state());
    o.leader_id = r.lead();
    // Entries from the unstable offset on are being replaced in storage (a follower took a
    // conflicting append that is not yet durable); Raft may already count them committed.
    // Report commitment only over the stable prefix that agrees with Raft's own log.
    o.commit_index = std::min<uint64_t>({r.log().committed(), r.log().StableLastIndex(),
                                         storage.LastIndex().value_or(0)});
    auto storage_entry = [&](uint64_t index) -> std::optional<checkers::EntryDigest> {
      absl::StatusOr<std::vector<raftpb::Entry>> held =
          storage.Entries(index, index + 1, std::numeric_limits<uint64_t>::max());
      if (!held.ok() || held->size() != 1) return std::nullopt;
      return checkers::EntryDigest{index, held->front().term(), EntryHash(held->front())};
    };
    // A received snapshot not yet installed: Raft's commit already jumped to its index
    // while storage still holds the entries the snapshot will replace. Until it is
    // installed, the commitment we can vouch for over storage is what it was, extended
    // over the entries Raft had counted committed while their write was in flight, as
    // that write completes (storage_commit.h).
    if (r.log().FirstIndex() > storage.FirstIndex().value_or(1)) {
      const uint64_t vouched = CommitOverClaimedEntries(
          view.commit_index, view.claimed, storage.FirstIndex().value_or(1) - 1, storage_entry);
      o.commit_index = std::min(o.commit_index, vouched);
    } else {
      // Raft's own log: what it counts committed beyond its stable prefix.
      view.claimed.clear();
      for (const raftpb::Entry& e : r.log().UnstableEntries()) {
        if (e.index() > r.log().committed()) break;
        view.claimed.push_back({e.index(), e.term(), EntryHash(e)});
      }
      // Raft's stable prefix can lag what storage holds: a write of entries 62..65 was in
      // flight when a newer leader replaced only 65, so Advance could not mark 62..64
      // stable (the Ready's last entry no longer matches), yet storage holds them exactly
      // as Raft does, committed, and the server applies them (seed 30099). Commitment
      // extends over unstable entries storage holds identically.
      const uint64_t durable = CommitOverClaimedEntries(
          std::min<uint64_t>(r.log().StableLastIndex(), storage.LastIndex().value_or(0)),
          view.claimed, /*compacted_through=*/0, storage_entry);
      o.commit_index = std::min<uint64_t>(
          {r.log().committed(), durable, storage.LastIndex().value_or(0)});
    }
    view.commit_index = o.commit_index;
    if (absl::Status reported = view.reporter.Report(storage, o); !reported.ok()) {
      divergence_ = checkers::Violation{
          "malformed-observation", absl::StrFormat("n%d: %s", i + 1, reported.message()), {}};
      return divergence_;
    }
    o.applied = std::move(view.applied);
    view.applied.clear();
    return checker_.Observe(o);
  }

  SimCluster* const cluster_;
  std::vector<View> views_;
  checkers::RaftSafetyChecker checker_;
  // log index -> (store revision after applying it, first member that did)
  absl::flat_hash_map<uint64_t, std::pair<int64_t, int>> revision_at_index_;
  std::optional<checkers::Violation> divergence_;
};

// The highest commit index any live member knows. Commitment is global, so every live
// member must apply up to it; the current leader's own index can lag (a fresh leader's does
// until an entry of its term commits).
uint64_t HighestCommit(const SimCluster& cluster) {
  uint64_t commit = 0;
  for (int i = 0; i < cluster.size(); ++i) {
    if (cluster.up(i)) commit = std::max(commit, cluster.server(i)->raft_node().raft().log().committed());
  }
  return commit;
}

std::string DescribeFault(const Fault& f, const SimCluster& c) {
  if (f.kind == FaultKind::kLeaderChurn) {
    return absl::StrFormat("t=%.3fs leader_churn armed steps=%d commit_step_mask=%d last_isolated_for=%.3fs",
                           f.at_ns / 1e9, f.other, f.amount, f.duration_ns / 1e9);
  }
  if (f.kind == FaultKind::kVoteCrash) {
    return absl::StrFormat("t=%.3fs vote_crash armed crash_after=%.4fs restart_after=%.4fs", f.at_ns / 1e9,
                           f.amount / 1e9, f.duration_ns / 1e9);
  }
  if (f.kind == FaultKind::kFlap) {
    return absl::StrFormat("t=%.3fs flap n%d blocked=%.3fs open=%.3fs duration=%.3fs", f.at_ns / 1e9,
                           f.node + 1, f.amount / 1e9, f.open_ns / 1e9, f.duration_ns / 1e9);
  }
  if (f.kind == FaultKind::kClockJump) {
    return absl::StrFormat("t=%.3fs clock_jump n%d forward=%.3fs", f.at_ns / 1e9, f.node + 1, f.amount / 1e9);
  }
  if (f.kind == FaultKind::kWallStep) {
    return absl::StrFormat("t=%.3fs wall_step n%d by=%+.3fs", f.at_ns / 1e9, f.node + 1, f.amount / 1e9);
  }
  return absl::StrFormat("t=%.3fs %s n%d%s duration=%.3fs", f.at_ns / 1e9, FaultKindName(f.kind),
                         f.node + 1, f.kind == FaultKind::kAsymmetric ? absl::StrCat("->n", f.other + 1) : "",
                         f.duration_ns / 1e9);
}

void ScheduleFault(World* world, SimCluster* c, const Fault& f) {
  world->ScheduleAt(f.at_ns, [world, c, f]() mutable {
    const uint64_t id = c->member_id(f.node);
    world->trace().Record(world->now_ns(), kWorldNode, "fault", {{"kind", FaultKindName(f.kind)}, {"node", id}});
    switch (f.kind) {
      case FaultKind::kCrash:
        c->Crash(f.node);
        world->ScheduleAfter(f.duration_ns, [c, n = f.node]() mutable { (void)c->Restart(n); });
        break;
      case FaultKind::kPause:
        c->Pause(f.node);
        world->ScheduleAfter(f.duration_ns, [c, n = f.node]() mutable { c->Resume(n); });
        break;
      case FaultKind::kIsolate:
        c->network().Isolate(id);
        world->ScheduleAfter(f.duration_ns, [c]() mutable { c->network().Heal(); });
        break;
      case FaultKind::kSplit: {
        std::vector<uint64_t> side;
        for (int k = 0; k < f.other && k < c->size(); ++k) side.push_back(c->member_id((f.node + k) % c->size()));
        c->network().Split(side);
        world->ScheduleAfter(f.duration_ns, [c]() mutable { c->network().Heal(); });
        break;
      }
      case FaultKind::kAsymmetric: {
        const uint64_t other = c->member_id(f.other);
        if (other == id) break;
        c->network().Block(id, other);
        world->ScheduleAfter(f.duration_ns, [c, id, other]() mutable { c->network().Unblock(id, other); });
        break;
      }
      case FaultKind::kFlap: {
        std::vector<Link> links;
        for (int k = 0; k < c->size(); ++k) {
          if (k == f.node) continue;
          links.push_back({id, c->member_id(k)});
          links.push_back({c->member_id(k), id});
        }
        c->network().StartFlapping(std::move(links), f.amount, f.open_ns);
        world->ScheduleAfter(f.duration_ns, [c]() mutable { c->network().Heal(); });
        break;
      }
      case FaultKind::kClockDrift:
        c->env(f.node).node_loop().SetRatePpm(f.amount);
        break;
      case FaultKind::kClockJump:
        c->env(f.node).node_loop().JumpForward(f.amount);
        break;
      case FaultKind::kWallStep:
        c->env(f.node).node_loop().StepWallClock(f.amount);
        break;
      case FaultKind::kDiskSlow: {
        DiskFaults faults = c->env(f.node).disk().faults();
        faults.slow_sync_probability = 0.5;
        c->env(f.node).disk().set_faults(faults);
        world->ScheduleAfter(f.duration_ns, [c, n = f.node]() mutable {
          DiskFaults healed = c->env(n).disk().faults();
          healed.slow_sync_probability = 0;
          c->env(n).disk().set_faults(healed);
        });
        break;
      }
      case FaultKind::kVoteCrash:
      case FaultKind::kLeaderChurn:
        break;  // armed by FaultTriggers, never scheduled here
    }
  });
}

checkers::History ToCheckerHistory(const std::vector<ClientOp>& ops) {
  checkers::History history;
  for (const ClientOp& op : ops) {
    // Serializable gets, lease keys and every extended operation (multi-key txns on the
    // account keys, compaction, historical reads, leases) are not in the per-key model:
    // workload_checks.h judges them against the committed log.
    if (op.kind == OpKind::kSerializableGet || op.kind == OpKind::kLeasePut) continue;
    if (op.kind > OpKind::kLeasePut) continue;
    if (op.outcome == Outcome::kPending) continue;
    checkers::Operation h;
    h.client_id = static_cast<uint64_t>(op.client);
    h.key = op.key;
    h.value = op.value;
    h.invoke_ns = op.invoke_ns;
    h.complete_ns = op.complete_ns;
    h.outcome = op.outcome == Outcome::kOk ? checkers::Outcome::kOk
                : op.outcome == Outcome::kFail ? checkers::Outcome::kFailed
                                               : checkers::Outcome::kUnknown;
    h.header_revision = op.revision;
    switch (op.kind) {
      case OpKind::kPut: h.kind = checkers::OpKind::kPut; break;
      case OpKind::kGet:
        h.kind = checkers::OpKind::kGet;
        h.found = op.found;
        h.read_value = op.read_value;
        h.read_mod_revision = op.read_mod_revision;
        break;
      case OpKind::kDelete:
        h.kind = checkers::OpKind::kDelete;
        h.deleted = op.deleted > 0;
        break;
      case OpKind::kCas:
        h.kind = checkers::OpKind::kCas;
        h.cas_succeeded = op.cas_succeeded;
        if (op.expect_absent) {
          h.cas_target = checkers::CasTarget::kVersion;
          h.cas_expected_number = 0;
        } else {
          h.cas_target = checkers::CasTarget::kValue;
          h.cas_expected_value = op.expected;
        }
        break;
      default: break;
    }
    history.push_back(std::move(h));
  }
  return history;
}

// Reads a live replica's whole workload key space ("k".."l"), lease keys excluded.
absl::StatusOr<checkers::ReplicaFinalState> FinalState(SimCluster* c, int i) {
  server::ServerImpl* s = c->server(i);
  etcdserverpb::RangeRequest req;
  req.set_key("k");
  req.set_range_end("l");
  absl::StatusOr<etcdserverpb::RangeResponse> r = s->store().Range(req);
  if (!r.ok()) return r.status();
  checkers::ReplicaFinalState state;
  state.node = c->member_id(i);
  state.revision = s->store().current_revision();
  for (const mvccpb::KeyValue& kv : r->kvs()) {
    if (Workload::IsLeaseKey(kv.key()) || Workload::IsAccountKey(kv.key())) continue;
    state.kvs[kv.key()] = {kv.value(), kv.mod_revision()};
  }
  return state;
}

// After the liveness phase: a member that is down must have an excuse, a disk fault that
// damaged its medium (SimCluster::MediumDamaged); transient faults were switched off and
// every refused member retried, so anything else that keeps it down is a bug (a restart
// that cannot read what it wrote, a fail-stop without a fault). Returns the failure, or
// appends the excuse to `excused`.
std::optional<std::string> CheckEveryMemberBack(const SimCluster& c, std::vector<std::string>* excused,
                                                std::vector<std::string>* removed) {
  for (int i = 0; i < c.size(); ++i) {
    if (c.retired(i)) {
      // Left out because it was removed from the cluster, and said so.
      removed->push_back(absl::StrFormat("n%d (%x) removed: %s", i + 1, c.member_id(i), c.retired_reason(i)));
      continue;
    }
    if (c.up(i)) continue;
    const std::string why = !c.refusal(i).empty() ? absl::StrCat("refused to start: ", c.refusal(i))
                            : !c.last_fatal(i).empty() ? absl::StrCat("fail-stopped: ", c.last_fatal(i))
                                                        : std::string("down");
    const std::string faults = c.DiskFaultSummary(i);
    const std::string line =
        absl::StrFormat("n%d %s (disk: %s)", i + 1, why, faults.empty() ? "no faults" : faults);
    if (!c.MediumDamaged(i)) {
      return absl::StrCat(line, "; only a damaged medium excuses a member that cannot come back");
    }
    excused->push_back(line);
  }
  return std::nullopt;
}

// What the run exercised (sim/README.md, "Coverage"): disk faults and the servers'
// answers, network and scheduled faults that fired, triggered faults, Raft paths and
// BUGGIFY sites. Zero counts are omitted.
std::map<std::string, uint64_t> Coverage(SimCluster& c, size_t excused, const Scenario& scenario,
                                         World& world, const RaftCoverage* raft,
                                         const env::Buggify& buggify) {
  std::map<std::string, uint64_t> out;
  auto add = [&](const std::string& name, uint64_t n) {
    if (n > 0) out[name] += n;
  };
  for (int i = 0; i < c.size(); ++i) {
    const DiskCounters& d = c.env(i).disk().counters();
    add("disk.eio_read", d.read_errors);
    add("disk.eio_write", d.write_errors);
    add("disk.eio_sync", d.sync_errors);
    add("disk.eio_dir_sync", d.dir_sync_errors);
    add("disk.enospc", d.full_errors);
    add("disk.bit_flip", d.bit_flips);
    add("disk.misdirected_write", d.misdirected_writes);
    add("disk.torn_write", d.torn_writes);
    add("server.fail_stop", static_cast<uint64_t>(c.fatals(i)));
    add("server.refused_start", static_cast<uint64_t>(c.refusals(i)));
  }
  add("server.excused", excused);
  const NetworkCounters& net = c.network().counters();
  add("net.dropped_random", net.dropped_random);
  add("net.dropped_partition", net.dropped_partition);
  add("net.dropped_overflow", net.dropped_overflow);
  add("net.duplicated", net.duplicated);
  add("net.tail_delayed", net.tail_delayed);
  // Scheduled faults fire at their time; the safety phase runs past every one of them
  // unless the run ended early.
  for (const Fault& f : scenario.faults) {
    if (!IsTriggered(f.kind) && f.at_ns <= world.now_ns()) add(absl::StrCat("fault.", FaultKindName(f.kind)), 1);
  }
  // Triggered faults: the trace's tally of "fault.*" records (arming, each churn step,
  // each vote crash).
  for (const auto& [kind, n] : world.trace().tally()) add(kind, n);
  if (raft != nullptr) raft->AddTo(&out);
  for (const auto& [name, n] : buggify.FiresBySite()) add(absl::StrCat("buggify.", name), n);
  return out;
}

Scenario ScenarioOf(const RunOptions& options) {
  Scenario scenario = GenerateScenario(options.seed);
  if (options.keep_faults.has_value()) KeepFaults(&scenario, *options.keep_faults);
  return scenario;
}

}  // namespace

std::vector<std::string> DescribeFaults(const RunOptions& options) {
  const Scenario scenario = ScenarioOf(options);
  World world(options.seed);
  auto cluster = SimCluster::Create(&world, scenario, options.bug);
  std::vector<std::string> out;
  for (const Fault& f : scenario.faults) {
    out.push_back(cluster.ok() ? DescribeFault(f, **cluster) : "(cluster did not start)");
  }
  return out;
}

RunResult RunSeed(const RunOptions& options) {
  RunResult result;
  result.seed = options.seed;
  Scenario scenario = ScenarioOf(options);
  result.scenario = scenario.Summary();
  result.faults = scenario.faults.size();

  World world(options.seed);
  if (options.trace != nullptr) world.trace().set_json_sink(options.trace);
  world.trace().set_tally_prefix("fault.");
  // Installed before the cluster starts (servers consult some sites at start-up) and
  // destroyed after it is torn down.
  env::Buggify buggify(world.NewRng("buggify"));
  std::optional<env::Buggify::Scope> buggify_scope;
  if (options.buggify) buggify_scope.emplace(&buggify);
  // The checkers' branches this run reached (check.* in the coverage line).
  checkers::CheckTally check_tally;
  checkers::CheckTally::Scope check_tally_scope(&check_tally);
  std::unique_ptr<SimCluster> cluster;
  std::unique_ptr<RaftCoverage> raft_coverage;
  const Workload* workload_seen = nullptr;  // for the per-kind operation counts
  std::unique_ptr<MembershipOps> membership_ops;
  std::unique_ptr<CommitQuorumChecker> commit_quorum;
  std::optional<RaftSwarmResult> swarm;  // raft_swarm.h, when this seed ran it
  std::unique_ptr<AppliedConfigChecker> applied_config;
  auto finish = [&](bool ok, std::string checker, std::string message) {
    if (cluster != nullptr) {
      result.coverage = Coverage(*cluster, result.excused.size(), scenario, world, raft_coverage.get(), buggify);
    }
    if (workload_seen != nullptr) {
      for (const auto& [name, n] : workload_seen->OpCounts()) result.coverage[name] += n;
    }
    if (membership_ops != nullptr) {
      for (const auto& [name, count] : membership_ops->counters()) result.coverage[name] += count;
    }
    if (commit_quorum != nullptr && commit_quorum->checked() > 0) {
      result.coverage["commit_quorum_checked"] += commit_quorum->checked();
    }
    for (const auto& [name, n] : check_tally.counts()) result.coverage[name] += n;
    if (applied_config != nullptr && applied_config->checked() > 0) {
      result.coverage["applied_config_checked"] += applied_config->checked();
    }
    result.buggify_sites = buggify.EnabledSites();
    result.buggify_fires = buggify.fires();
    result.ok = ok;
    result.checker = std::move(checker);
    result.message = std::move(message);
    result.trace_hash = world.trace().HashHex();
    result.sim_seconds = static_cast<double>(world.now_ns()) / kSec;
    result.events = world.events_run();
    if (swarm.has_value()) {
      // Its own world: fold its hash in, so a replay proves both parts.
      result.trace_hash = absl::StrFormat("%016x", world.trace().hash() ^ (swarm->trace_hash * 0x9e3779b97f4a7c15ULL));
      result.sim_seconds += swarm->sim_seconds;
      result.events += swarm->events;
      for (const auto& [name, n] : swarm->coverage) result.coverage[name] += n;
      absl::StrAppend(&result.scenario, " | ", swarm->summary);
    }
    return result;
  };

  auto cluster_or = SimCluster::Create(&world, scenario, options.bug);
  if (!cluster_or.ok()) return finish(false, "startup", std::string(cluster_or.status().message()));
  cluster = *std::move(cluster_or);
  for (const Fault& f : scenario.faults) result.fault_descriptions.push_back(DescribeFault(f, *cluster));
  RaftObserver observer(cluster.get());
  Workload workload(&world, cluster.get(), scenario.workload, world.NewRng("workload"));
  workload_seen = &workload;
  // The committed log, kept across compactions for the checkers (workload_checks.h).
  EventArchive archive(cluster.get());
  workload.before_compact = [&archive]() { archive.Capture(); };
  // Chains onto the observer's on_apply hook: install after it.
  LeaseRevokeRecorder lease_revokes(cluster.get());
  struct Probe {
    bool done = false;
    bool in_flight = false;
    int64_t sent_ns = 0;  // a probe lost with its member is re-sent after a while
  };
  auto probe = std::make_shared<Probe>();
  // Servers answer their pending requests (with errors) when destroyed: tear the cluster
  // down while the clients and observers those answers reach still exist.
  absl::Cleanup teardown = [&cluster]() { cluster.reset(); };
  // raft.* events for the teaching tools, only into a --trace sink (never hashed).
  RaftTracer raft_trace(cluster.get());
  // After the tracer, whose messages it passes on; destroyed before it.
  raft_coverage = std::make_unique<RaftCoverage>(cluster.get());
  absl::Cleanup coverage_off = [&raft_coverage]() { raft_coverage.reset(); };
  FaultTriggers triggers(&world, cluster.get(), scenario.election_ms * 1'000'000);
  for (const Fault& f : scenario.faults) {
    if (IsTriggered(f.kind)) {
      triggers.Schedule(f);
    } else {
      ScheduleFault(&world, cluster.get(), f);
    }
  }
  workload.Start(scenario.safety_phase_ns);
  // Membership changes and leader transfers (membership_ops.h), from their own stream.
  commit_quorum = std::make_unique<CommitQuorumChecker>(cluster.get());
  applied_config = std::make_unique<AppliedConfigChecker>(cluster.get());
  membership_ops = std::make_unique<MembershipOps>(
      &world, cluster.get(), world.NewRng("membership"), scenario.faulty_disk_nodes,
      std::max<int64_t>(2000, 5 * scenario.election_ms) * 1'000'000 + kSec);
  if (options.keep_member_requests.has_value()) {
    membership_ops->KeepOnlyRequests({options.keep_member_requests->begin(), options.keep_member_requests->end()});
  }
  membership_ops->Start(scenario.safety_phase_ns, scenario.safety_phase_ns + scenario.liveness_bound_ns);
  // The driver outlives the cluster's teardown (declared before `teardown` runs): servers
  // answering its requests while destroyed find it alive.

  // ---- Safety phase: faults on, every event checked.
  int64_t next_watch_revive = kSec;
  while (world.now_ns() < scenario.safety_phase_ns) {
    if (world.events_run() >= options.max_events) return finish(false, "event-budget", "too many events");
    if (!world.Step()) break;
    raft_trace.AfterStep();
    raft_coverage->AfterStep(world.event_node());
    if (auto v = observer.ObserveAfter(world.event_node())) return finish(false, v->property, v->message);
    if (auto v = commit_quorum->AfterEvent(world.event_node())) return finish(false, v->property, v->message);
    if (auto v = applied_config->AfterEvent(world.event_node())) return finish(false, v->property, v->message);
    if (cluster->amnesia().has_value()) return finish(false, "restart-amnesia", *cluster->amnesia());
    triggers.AfterEvent();
    if (world.now_ns() >= next_watch_revive) {
      workload.ReviveWatchers();  // outside any event: observe everyone after it
      if (auto v = observer.ObserveAll()) return finish(false, v->property, v->message);
      next_watch_revive = world.now_ns() + kSec;
    }
  }

  // ---- Liveness phase: faults stop, the cluster must heal, serve and converge.
  NetworkOptions calm = scenario.network;
  calm.drop_probability = 0;
  calm.duplicate_probability = 0;
  cluster->network().set_options(calm);
  for (int i = 0; i < cluster->size(); ++i) {
    DiskFaults quiet = cluster->env(i).disk().faults();
    quiet.read_error_probability = quiet.write_error_probability = quiet.sync_error_probability = 0;
    quiet.dir_sync_error_probability = 0;
    quiet.read_bit_flip_probability = quiet.misdirected_write_probability = 0;
    quiet.slow_sync_probability = 0;
    quiet.capacity_bytes = 0;  // the operator made room
    cluster->env(i).disk().set_faults(quiet);
  }
  triggers.Stop();
  cluster->set_leveldb_power_cuts(false);
  cluster->HealAll();
  world.trace().Record(world.now_ns(), kWorldNode, "phase.liveness", {});
  const int64_t deadline = world.now_ns() + scenario.liveness_bound_ns;
  bool converged = false;
  int64_t next_liveness_check = world.now_ns();
  while (world.now_ns() < deadline) {
    if (world.events_run() >= options.max_events) return finish(false, "event-budget", "too many events");
    if (!world.Step()) break;
    raft_trace.AfterStep();
    raft_coverage->AfterStep(world.event_node());
    if (auto v = observer.ObserveAfter(world.event_node())) return finish(false, v->property, v->message);
    if (auto v = commit_quorum->AfterEvent(world.event_node())) return finish(false, v->property, v->message);
    if (auto v = applied_config->AfterEvent(world.event_node())) return finish(false, v->property, v->message);
    if (cluster->amnesia().has_value()) return finish(false, "restart-amnesia", *cluster->amnesia());
    if (world.now_ns() >= next_watch_revive) {
      workload.ReviveWatchers();  // outside any event: observe everyone after it
      if (auto v = observer.ObserveAll()) return finish(false, v->property, v->message);
      next_watch_revive = world.now_ns() + kSec;
    }
    // The liveness conditions change slowly; look every 10 ms of simulated time.
    if (world.now_ns() < next_liveness_check) continue;
    next_liveness_check = world.now_ns() + 10'000'000;
    const int leader = cluster->Leader();
    if (probe->in_flight && world.now_ns() - probe->sent_ns > scenario.workload.client_timeout_ns) {
      probe->in_flight = false;
    }
    if (leader >= 0 && !probe->done && !probe->in_flight) {
      // A write through the leader must succeed: the cluster serves again.
      probe->in_flight = true;
      probe->sent_ns = world.now_ns();
      SimCluster* c = cluster.get();
      cluster->env(leader).loop()->Post([c, leader, probe]() mutable {
        server::ServerImpl* s = c->server(leader);
        if (s == nullptr) return;
        etcdserverpb::PutRequest put;
        put.set_key("liveness-probe");
        put.set_value("1");
        s->Put(put, [probe](absl::StatusOr<etcdserverpb::PutResponse> r) {
          probe->in_flight = false;
          if (r.ok()) probe->done = true;
        });
      });
    }
    if (probe->done && workload.Done() && leader >= 0) {
      // Converged: every live member applied everything any member knows committed, not
      // just what the current leader knows (seed 49391: a member elected with commit 63
      // while 64..67 were committed and acknowledged; the end checks then saw a member
      // without them).
      const uint64_t commit = HighestCommit(*cluster);
      bool all = true;
      for (int i = 0; i < cluster->size(); ++i) {
        // A member down without a refusal is waiting for its supervisor's restart (a
        // fail-stop in this phase, e.g. a LevelDB background error from the safety phase
        // surfacing at its next write, seed 202): wait for it. A refused one is judged by
        // member-down after this loop.
        // A removed member is left out because it was removed (reported by
        // CheckEveryMemberBack); a joiner not started yet is waited for.
        if (cluster->retired(i)) continue;
        if (!cluster->up(i)) {
          if (cluster->refusal(i).empty()) all = false;
          continue;
        }
        if (cluster->server(i)->applied_index() < commit) all = false;
      }
      if (all) {
        converged = true;
        break;
      }
    }
  }
  if (!converged) {
    // Each member's state and applied index against the highest commit index: which member
    // failed to converge is the first thing a reader of this failure needs.
    const int leader = cluster->Leader();
    std::string state;
    for (int i = 0; i < cluster->size(); ++i) {
      if (cluster->retired(i)) {
        absl::StrAppend(&state, " n", i + 1, "=removed");
        continue;
      }
      absl::StrAppend(&state, " n", i + 1, cluster->up(i) ? "=up" : "=down",
                      cluster->joiner(i) && !cluster->ever_started(i) ? "(joiner, not started)" : "",
                      cluster->refusal(i).empty() ? "" : absl::StrCat("(", cluster->refusal(i), ")"));
      if (cluster->up(i)) absl::StrAppend(&state, "/applied=", cluster->server(i)->applied_index());
    }
    const uint64_t commit = HighestCommit(*cluster);
    return finish(false, "liveness",
                  absl::StrFormat("no convergence within %.1fs after healing (leader=%d commit=%d "
                                  "probe=%d clients_done=%d):%s",
                                  scenario.liveness_bound_ns / 1e9, leader, commit, probe->done,
                                  workload.Done(), state));
  }

  // ---- No free passes: every member must be back, unless its disk was damaged.
  if (std::optional<std::string> down = CheckEveryMemberBack(*cluster, &result.excused, &result.removed)) {
    return finish(false, "member-down", *down);
  }

  // ---- End-of-run checkers.
  if (auto v = CheckMembershipAtEnd(*cluster, membership_ops->removed_ids())) {
    return finish(false, v->property, v->message);
  }
  if (const auto& v = membership_ops->violation()) return finish(false, v->property, v->message);
  checkers::History history = ToCheckerHistory(workload.history());
  result.operations = history.size();
  checkers::LinearizabilityOptions lin_options;
  // Bounded so a sweep never stalls on one pathological history; running out is reported
  // as inconclusive, never as OK.
  lin_options.max_search_steps = 20'000'000;
  checkers::LinearizabilityResult lin = checkers::CheckLinearizability(history, lin_options);
  checkers::CheckTally::Count(lin.verdict == checkers::Verdict::kOk ? "check.linearizability.checked"
                              : lin.verdict == checkers::Verdict::kInconclusive ? "check.linearizability.inconclusive"
                                                                                  : "check.linearizability.violation");
  checkers::CheckTally::Count("check.linearizability.operations", history.size());
  if (lin.verdict == checkers::Verdict::kViolation) {
    return finish(false, lin.property.empty() ? "linearizability" : lin.property, lin.explanation);
  }
  std::vector<checkers::ReplicaFinalState> finals;
  std::vector<checkers::HashKvSample> hashes;
  for (int i = 0; i < cluster->size(); ++i) {
    if (!cluster->up(i)) continue;
    absl::StatusOr<checkers::ReplicaFinalState> state = FinalState(cluster.get(), i);
    absl::StatusOr<etcdserverpb::HashKVResponse> h = cluster->server(i)->store().HashKV(0);
    if (state.ok() && h.ok()) {
      finals.push_back(*std::move(state));
      hashes.push_back({cluster->member_id(i), h->header().revision(), h->compact_revision(),
                        h->hash()});
      continue;
    }
    // A store that cannot be read was never a free pass either: only detected damage to
    // the medium excuses it (and then it must not have served anything, which the history
    // checkers above and below see).
    const absl::Status error = state.ok() ? h.status() : state.status();
    const std::string line = absl::StrFormat("n%d cannot read its store: %s (disk: %s)", i + 1,
                                             error.message(), cluster->DiskFaultSummary(i));
    if (!cluster->MediumDamaged(i)) return finish(false, "member-down", line);
    result.excused.push_back(line);
  }
  checkers::CheckTally::Count("check.durability.replicas", finals.size());
  checkers::CheckTally::Count("check.hashkv.replicas", hashes.size());
  if (auto v = checkers::CheckDurability(history, finals, {})) return finish(false, v->property, v->message);
  if (auto v = checkers::CheckReplicaAgreement(hashes, finals)) return finish(false, v->property, v->message);
  if (auto v = CheckLeases(cluster.get(), lease_revokes, history)) return finish(false, v->property, v->message);
  archive.Capture(/*any_disk=*/true);  // faults are off: any live member will do
  if (!archive.complete()) result.coverage["archive_hole"] += 1;
  if (auto v = CheckWatches(cluster.get(), workload.watch_logs(), &archive)) {
    return finish(false, v->property, v->message);
  }
  {
    const ReferenceState reference(archive);
    std::vector<int64_t> clock_jumps;
    for (const Fault& f : scenario.faults) {
      if (f.kind == FaultKind::kClockJump) clock_jumps.push_back(f.at_ns);
    }
    const std::vector<ClientOp>& ops = workload.history();
    if (auto v = CheckTransfers(ops, reference, workload.accounts())) return finish(false, v->property, v->message);
    if (auto v = CheckFinalTotals(cluster.get(), workload.accounts())) return finish(false, v->property, v->message);
    if (auto v = CheckCompactionReads(ops, reference)) return finish(false, v->property, v->message);
    const int64_t promote_extension_s = (scenario.election_ms + 999) / 1000;
    if (auto v = CheckLeaseKeepAlive(ops, lease_revokes.revoked_at_ns(), clock_jumps, promote_extension_s)) {
      return finish(false, v->property, v->message);
    }
    if (auto v = CheckSerializableReads(ops, reference)) return finish(false, v->property, v->message);
  }
  if (lin.verdict == checkers::Verdict::kInconclusive) {
    return finish(false, "linearizability-inconclusive", lin.explanation);
  }
  // ---- Joint consensus at the Raft level (raft_swarm.h: etcd 3.4's server never enters
  // a joint configuration), in one seed in three, from its own stream and world.
  if (world.NewRng("raftswarm").OneIn(3)) {
    swarm = RunRaftSwarm(options.seed, options.trace);
    if (swarm->violation.has_value()) {
      return finish(false, swarm->violation->property,
                    absl::StrCat("raft-level swarm (", swarm->summary, "): ", swarm->violation->message));
    }
  }
  return finish(true, "", "");
}

}  // namespace keel::sim
