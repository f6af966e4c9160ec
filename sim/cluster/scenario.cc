#include "sim/cluster/scenario.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "env/rng.h"

namespace keel::sim {
namespace {

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kSec = 1'000'000'000;

template <typename T>
T Pick(env::Rng& rng, std::initializer_list<T> choices) {
  const size_t i = static_cast<size_t>(rng.Uniform(choices.size()));
  return *(choices.begin() + i);
}

int PickClusterSize(env::Rng& rng) {
  // Mostly 3 and 5, some single-node runs (the degenerate quorum), occasionally 7.
  const uint64_t r = rng.Uniform(100);
  if (r < 10) return 1;
  if (r < 55) return 3;
  if (r < 93) return 5;
  return 7;
}

void DrawNetwork(env::Rng rng, Scenario* s) {
  s->network.delay_min_ns = Pick<int64_t>(rng, {50'000, 500'000, 2 * kMs});
  s->network.delay_jitter_ns = Pick<int64_t>(rng, {100'000, 1 * kMs, 5 * kMs});
  s->network.tail_probability = Pick<double>(rng, {0.0, 0.01, 0.05});
  s->network.tail_base_ns = Pick<int64_t>(rng, {10 * kMs, 50 * kMs, 200 * kMs});
  s->network.drop_probability = Pick<double>(rng, {0.0, 0.0, 0.01, 0.05, 0.2});
  s->network.duplicate_probability = Pick<double>(rng, {0.0, 0.0, 0.01, 0.05});
}

// Half the seeds run LevelDB's background work deferred, like keeld's thread; the delay
// bound spans a tiny memtable's flush to a 4 MiB one's on a slow disk. Small memtables
// make the switches (and so the windows) happen within a run's few hundred writes.
void DrawLevelDbTiming(env::Rng rng, Scenario* s) {
  if (!rng.Chance(0.5)) return;
  s->leveldb_timing = LevelDbTiming::kDeferred;
  s->leveldb_deferral_max_ns = Pick<int64_t>(rng, {2 * kMs, 20 * kMs, 200 * kMs});
  s->leveldb_power_cut_probability = Pick<double>(rng, {0.0, 0.05, 0.2});
  s->leveldb_write_buffer_bytes = Pick<size_t>(rng, {16 << 10, 64 << 10, 0});
}

void DrawDisks(env::Rng rng, Scenario* s) {
  s->disk.torn_write_probability = Pick<double>(rng, {0.0, 0.5, 1.0});
  s->disk.faults.sync_latency_min_ns = Pick<int64_t>(rng, {50'000, 500'000, 2 * kMs});
  s->disk.faults.sync_latency_max_ns = s->disk.faults.sync_latency_min_ns * 4;
  // A minority of nodes may get a misbehaving disk.
  const int minority = (s->nodes - 1) / 2;
  if (minority > 0 && rng.Chance(0.5)) {
    const int count = 1 + static_cast<int>(rng.Uniform(minority));
    for (int i = 0; i < count; ++i) s->faulty_disk_nodes.push_back(static_cast<int>(rng.Uniform(s->nodes)));
    std::sort(s->faulty_disk_nodes.begin(), s->faulty_disk_nodes.end());
    s->faulty_disk_nodes.erase(std::unique(s->faulty_disk_nodes.begin(), s->faulty_disk_nodes.end()),
                               s->faulty_disk_nodes.end());
  }
}

// Which faults the faulty disks (a minority, DrawDisks) fire, and how often (swarm testing:
// each kind is on in about half the seeds that have a faulty disk, at a rate per operation
// that a run of a few thousand writes per member actually hits). Drawn last, from a
// stream of its own, after the family settled the faulty set.
void DrawDiskFaults(env::Rng rng, Scenario* s) {
  if (s->faulty_disk_nodes.empty()) return;
  DiskFaults& f = s->disk.faults;
  const auto rate = [&](std::initializer_list<double> choices) {
    return rng.Chance(0.5) ? Pick<double>(rng, choices) : 0.0;
  };
  f.write_error_probability = rate({1e-4, 1e-3});
  f.sync_error_probability = rate({1e-4, 1e-3});
  // Directories fail with files' fsyncs (no draw of its own, so other choices stay). A
  // failed fsync after a rename that took effect once made LevelDB delete the MANIFEST its
  // CURRENT named (seed 221); env::LevelDbEnv::RenameFile now fences the DB instead.
  f.dir_sync_error_probability = f.sync_error_probability;
  // Reads reach the disk far less often than writes (LevelDB serves most from memory; the
  // WAL and snapshots are read at restart): higher rates so that they fire at all.
  f.read_error_probability = rate({1e-3, 1e-2});
  f.read_bit_flip_probability = rate({1e-3, 1e-2});
  f.misdirected_write_probability = rate({1e-4, 1e-3});
  // A small disk: full after a few seconds of a busy workload (WAL, snapshots, LevelDB).
  if (rng.Chance(0.3)) f.capacity_bytes = Pick<uint64_t>(rng, {128 << 10, 512 << 10, 2 << 20});
}

void DrawWorkload(env::Rng rng, Scenario* s) {
  WorkloadMix& w = s->workload;
  w.clients = 1 + static_cast<int>(rng.Uniform(6));
  w.keys = Pick<int>(rng, {1, 3, 8, 32});
  w.value_bytes = Pick<int>(rng, {1, 16, 256});
  w.put = 10 + static_cast<int>(rng.Uniform(50));
  w.get = 10 + static_cast<int>(rng.Uniform(40));
  w.serializable_get = static_cast<int>(rng.Uniform(10));
  w.del = static_cast<int>(rng.Uniform(15));
  w.cas = static_cast<int>(rng.Uniform(30));
  w.lease = static_cast<int>(rng.Uniform(10));
  w.think_ns = Pick<int64_t>(rng, {0, 1 * kMs, 10 * kMs, 50 * kMs});
  w.watchers = static_cast<int>(rng.Uniform(3));
}

void DrawFaults(env::Rng rng, Scenario* s) {
  const int count = Pick<int>(rng, {0, 2, 5, 10, 20});
  const int64_t election_ns = s->election_ms * kMs;
  for (int i = 0; i < count; ++i) {
    Fault f;
    f.at_ns = static_cast<int64_t>(rng.Uniform(static_cast<uint64_t>(s->safety_phase_ns)));
    f.node = static_cast<int>(rng.Uniform(s->nodes));
    f.duration_ns = election_ns * (1 + static_cast<int64_t>(rng.Uniform(20)));
    const uint64_t k = rng.Uniform(100);
    if (k < 30) {
      f.kind = FaultKind::kCrash;
    } else if (k < 40) {
      f.kind = FaultKind::kPause;
    } else if (k < 60) {
      f.kind = FaultKind::kIsolate;
    } else if (k < 72) {
      f.kind = FaultKind::kSplit;
      f.other = s->nodes <= 1 ? 1 : 1 + static_cast<int>(rng.Uniform(s->nodes - 1));
    } else if (k < 82) {
      f.kind = FaultKind::kAsymmetric;
      f.other = static_cast<int>(rng.Uniform(s->nodes));
    } else if (k < 90) {
      f.kind = FaultKind::kClockDrift;
      f.amount = Pick<int64_t>(rng, {800'000, 950'000, 1'050'000, 1'200'000});
    } else if (k < 95) {
      f.kind = FaultKind::kClockJump;
      f.amount = election_ns * static_cast<int64_t>(1 + rng.Uniform(5));
    } else {
      f.kind = FaultKind::kDiskSlow;
    }
    s->faults.push_back(f);
  }
  std::stable_sort(s->faults.begin(), s->faults.end(),
                   [](const Fault& a, const Fault& b) { return a.at_ns < b.at_ns; });
}

// Flapping links and large clock steps, drawn from a stream of their own after the family
// settled the cluster, so every earlier draw of every seed stays as it was. Clock steps are
// forward only: the Env's clock is monotonic by contract (env.h, "never decreases"; keeld
// reads CLOCK_MONOTONIC), Keel reads no wall clock, and a backward step of a wall clock is
// invisible to it. Forward steps of seconds (a VM paused and migrated, a suspended host)
// go past lease TTLs and election timeouts at once.
void DrawFlapsAndSteps(env::Rng rng, Scenario* s) {
  if (s->nodes < 2) return;
  const int64_t election_ns = s->election_ms * kMs;
  std::vector<Fault> drawn;
  if (rng.Chance(0.3)) {
    const int flaps = 1 + static_cast<int>(rng.Uniform(3));
    for (int i = 0; i < flaps; ++i) {
      Fault f;
      f.kind = FaultKind::kFlap;
      f.at_ns = static_cast<int64_t>(rng.Uniform(static_cast<uint64_t>(s->safety_phase_ns)));
      f.node = static_cast<int>(rng.Uniform(s->nodes));
      f.amount = election_ns * Pick<int64_t>(rng, {1, 2, 4}) / 2;
      f.open_ns = election_ns * Pick<int64_t>(rng, {1, 2, 4}) / 2;
      f.duration_ns = election_ns * (5 + static_cast<int64_t>(rng.Uniform(16)));
      drawn.push_back(f);
    }
  }
  if (rng.Chance(0.2)) {
    Fault f;
    f.kind = FaultKind::kClockJump;
    f.at_ns = static_cast<int64_t>(rng.Uniform(static_cast<uint64_t>(s->safety_phase_ns)));
    f.node = static_cast<int>(rng.Uniform(s->nodes));
    f.amount = Pick<int64_t>(rng, {1, 5, 30}) * kSec;
    drawn.push_back(f);
  }
  if (drawn.empty()) return;
  s->faults.insert(s->faults.end(), drawn.begin(), drawn.end());
  std::stable_sort(s->faults.begin(), s->faults.end(),
                   [](const Fault& a, const Fault& b) { return a.at_ns < b.at_ns; });
}

// Wall-clock steps, from a stream of their own (drawn last, so every earlier draw of every
// seed stays as it was): in 20% of the seeds, one or two members' wall clocks (the only
// clock Keel must not time anything by) step 1, 5 or 30 s forward or backward, as NTP steps
// CLOCK_REALTIME after a long disconnection. The monotonic Loop clock does not move, so a
// correct server does not notice: nothing excuses a lease that expires early because of one.
void DrawWallSteps(env::Rng rng, Scenario* s) {
  if (!rng.Chance(0.2)) return;
  const int steps = 1 + static_cast<int>(rng.Uniform(2));
  for (int i = 0; i < steps; ++i) {
    Fault f;
    f.kind = FaultKind::kWallStep;
    f.at_ns = static_cast<int64_t>(rng.Uniform(static_cast<uint64_t>(s->safety_phase_ns)));
    f.node = static_cast<int>(rng.Uniform(s->nodes));
    f.amount = Pick<int64_t>(rng, {1, 5, 30}) * kSec * (rng.Chance(0.5) ? 1 : -1);
    s->faults.push_back(f);
  }
  std::stable_sort(s->faults.begin(), s->faults.end(),
                   [](const Fault& a, const Fault& b) { return a.at_ns < b.at_ns; });
}

// Election storm: contested elections (timeouts close to a heavy-tailed latency, PreVote
// often off) with voters killed right after they vote and restarted at once, so a vote
// request delayed in the network can reach a voter that restarted within the same term.
void ApplyElectionStorm(env::Rng rng, Scenario* s) {
  s->nodes = Pick<int>(rng, {3, 3, 3, 5});
  s->heartbeat_ms = Pick<int64_t>(rng, {5, 10});
  s->election_ms = s->heartbeat_ms * Pick<int64_t>(rng, {3, 4, 5});
  s->pre_vote = rng.Chance(0.4);
  s->network.delay_min_ns = Pick<int64_t>(rng, {500'000, 1 * kMs, 2 * kMs});
  s->network.delay_jitter_ns = Pick<int64_t>(rng, {2 * kMs, 5 * kMs});
  s->network.tail_probability = Pick<double>(rng, {0.1, 0.2, 0.3});
  s->network.tail_base_ns = s->election_ms * kMs / Pick<int64_t>(rng, {8, 4, 2});
  s->network.duplicate_probability = Pick<double>(rng, {0.0, 0.05, 0.1});
  // Fast disks: a vote is durable (and answered) well within a network delay.
  s->disk.faults.sync_latency_min_ns = Pick<int64_t>(rng, {20'000, 50'000, 100'000});
  s->disk.faults.sync_latency_max_ns = s->disk.faults.sync_latency_min_ns * 2;
  const int crashes = Pick<int>(rng, {10, 20, 40, 80});
  for (int i = 0; i < crashes; ++i) {
    Fault f;
    f.kind = FaultKind::kVoteCrash;
    f.at_ns = static_cast<int64_t>(rng.Uniform(static_cast<uint64_t>(s->safety_phase_ns)));
    f.node = -1;
    // After the vote was persisted and answered (fsync latency), before the next one.
    f.amount = Pick<int64_t>(rng, {300'000, 500'000, 1 * kMs, 3 * kMs});
    f.duration_ns = Pick<int64_t>(rng, {100'000, 100'000, 1 * kMs, 5 * kMs});
    s->faults.push_back(f);
  }
  // Fresh leaders cut off right after their first append: a voter that restarted after
  // electing one hears no leader, so a late vote request of the same term reaches it.
  const int chains = Pick<int>(rng, {0, 4, 8});
  for (int i = 0; i < chains; ++i) {
    Fault f;
    f.kind = FaultKind::kLeaderChurn;
    f.at_ns = static_cast<int64_t>(rng.Uniform(static_cast<uint64_t>(s->safety_phase_ns)));
    f.node = -1;
    f.other = 3 + static_cast<int>(rng.Uniform(4));
    f.amount = 0;  // every step right after an append
    f.duration_ns = s->election_ms * kMs * (1 + static_cast<int64_t>(rng.Uniform(3)));
    s->faults.push_back(f);
  }
}

// Leader churn: rolling isolation of fresh leaders at the moments the Figure 8 sequence
// needs, with one entry per MsgApp so a returning leader re-replicates old-term entries
// one at a time.
void ApplyLeaderChurn(env::Rng rng, Scenario* s) {
  s->nodes = Pick<int>(rng, {3, 3, 3, 5});
  s->heartbeat_ms = Pick<int64_t>(rng, {10, 20, 50});
  s->election_ms = s->heartbeat_ms * Pick<int64_t>(rng, {5, 10});
  s->safety_phase_ns = Pick<int64_t>(rng, {10, 20}) * kSec;
  s->pre_vote = rng.Chance(0.5);
  s->max_msg_bytes = rng.Chance(0.8) ? 1 : 0;
  // Random drops would mostly break the chains' timing; other families have them.
  s->network.drop_probability = std::min(s->network.drop_probability, 0.01);
  if (rng.Chance(0.7)) s->faults.clear();  // the drawn fixed-time faults, usually none
  const int chains = Pick<int>(rng, {2, 4, 8});
  for (int i = 0; i < chains; ++i) {
    Fault f;
    f.kind = FaultKind::kLeaderChurn;
    f.at_ns = static_cast<int64_t>(rng.Uniform(static_cast<uint64_t>(s->safety_phase_ns)));
    f.node = -1;
    f.other = 3 + static_cast<int>(rng.Uniform(4));
    // Half the chains rotate "after append, after append, after commit": the old leader
    // comes back between two leaders of later terms and re-replicates its old-term entry
    // (Figure 8). The others trigger each step at random.
    constexpr int64_t kFigure8Rotation = 0b100100;
    f.amount = rng.Chance(0.5) ? (kFigure8Rotation & ((int64_t{1} << f.other) - 1))
                               : static_cast<int64_t>(rng.Uniform(uint64_t{1} << f.other));
    // How long the last isolated leader stays cut off once the chain ends.
    f.duration_ns = s->election_ms * kMs * (1 + static_cast<int64_t>(rng.Uniform(10)));
    s->faults.push_back(f);
  }
}

}  // namespace

bool IsTriggered(FaultKind kind) {
  return kind == FaultKind::kVoteCrash || kind == FaultKind::kLeaderChurn;
}

const char* FaultKindName(FaultKind kind) {
  switch (kind) {
    case FaultKind::kCrash: return "crash";
    case FaultKind::kPause: return "pause";
    case FaultKind::kIsolate: return "isolate";
    case FaultKind::kSplit: return "split";
    case FaultKind::kAsymmetric: return "asymmetric";
    case FaultKind::kClockDrift: return "clock_drift";
    case FaultKind::kClockJump: return "clock_jump";
    case FaultKind::kWallStep: return "wall_step";
    case FaultKind::kDiskSlow: return "disk_slow";
    case FaultKind::kFlap: return "flap";
    case FaultKind::kVoteCrash: return "vote_crash";
    case FaultKind::kLeaderChurn: return "leader_churn";
  }
  return "unknown";
}

Scenario GenerateScenario(uint64_t seed) {
  const env::Rng root(seed);
  Scenario s;
  s.seed = seed;
  env::Rng shape = root.Stream("scenario.shape");
  s.nodes = PickClusterSize(shape);
  s.heartbeat_ms = Pick<int64_t>(shape, {10, 20, 50, 100});
  s.election_ms = s.heartbeat_ms * Pick<int64_t>(shape, {5, 10, 20});
  s.snapshot_count = Pick<uint64_t>(shape, {20, 100, 1000, 100000});
  s.safety_phase_ns = Pick<int64_t>(shape, {5, 10, 20}) * kSec;
  s.liveness_bound_ns = std::max<int64_t>(20 * kSec, 40 * s.election_ms * kMs);
  // The cluster layer sets the server's request timeout to max(2 s, 5 elections).
  s.workload.client_timeout_ns = 2 * std::max<int64_t>(2 * kSec, 5 * s.election_ms * kMs);
  DrawNetwork(root.Stream("scenario.network"), &s);
  DrawDisks(root.Stream("scenario.disk"), &s);
  const int64_t client_timeout_ns = s.workload.client_timeout_ns;
  DrawWorkload(root.Stream("scenario.workload"), &s);
  s.workload.client_timeout_ns = client_timeout_ns;
  DrawFaults(root.Stream("scenario.faults"), &s);
  // Its own stream, added after the others: every other choice stays as it was.
  DrawLevelDbTiming(root.Stream("scenario.leveldb"), &s);
  // The family is drawn last, from its own stream, so "mixed" seeds keep the scenario they
  // had before families existed.
  env::Rng family = root.Stream("scenario.family");
  const uint64_t f = family.Uniform(100);
  if (f < 20) {
    s.family = "election-storm";
    ApplyElectionStorm(family, &s);
  } else if (f < 40) {
    s.family = "leader-churn";
    ApplyLeaderChurn(family, &s);
  }
  if (s.family != "mixed") {
    // Re-derive what depends on the shape the family changed.
    s.liveness_bound_ns = std::max<int64_t>(20 * kSec, 40 * s.election_ms * kMs);
    s.workload.client_timeout_ns = 2 * std::max<int64_t>(2 * kSec, 5 * s.election_ms * kMs);
    // Faults belong to the safety phase, which the family may have shortened.
    s.faults.erase(std::remove_if(s.faults.begin(), s.faults.end(),
                                  [&](const Fault& fault) { return fault.at_ns >= s.safety_phase_ns; }),
                   s.faults.end());
    for (Fault& fault : s.faults) {
      if (!IsTriggered(fault.kind)) fault.node %= s.nodes;
      if (fault.kind == FaultKind::kAsymmetric) fault.other %= s.nodes;
      if (fault.kind == FaultKind::kSplit) fault.other = std::max(1, std::min(fault.other, s.nodes - 1));
    }
    // Disks: keep faulty disks a minority of the (possibly smaller) cluster.
    std::vector<int> faulty;
    for (int n : s.faulty_disk_nodes) {
      if (n < s.nodes && static_cast<int>(faulty.size()) < (s.nodes - 1) / 2) faulty.push_back(n);
    }
    s.faulty_disk_nodes = faulty;
    std::stable_sort(s.faults.begin(), s.faults.end(),
                     [](const Fault& a, const Fault& b) { return a.at_ns < b.at_ns; });
  }
  DrawDiskFaults(root.Stream("scenario.disk_faults"), &s);
  DrawFlapsAndSteps(root.Stream("scenario.flaps_and_steps"), &s);
  DrawWallSteps(root.Stream("scenario.wall_steps"), &s);
  return s;
}

void KeepFaults(Scenario* scenario, const std::vector<int>& indices) {
  std::vector<Fault> kept;
  for (int i : indices) {
    if (i >= 0 && i < static_cast<int>(scenario->faults.size())) kept.push_back(scenario->faults[i]);
  }
  scenario->faults = std::move(kept);
}

std::string_view LevelDbTimingName(LevelDbTiming timing) {
  switch (timing) {
    case LevelDbTiming::kDrained: return "drained";
    case LevelDbTiming::kDeferred: return "deferred";
  }
  return "unknown";
}

std::string Scenario::Summary() const {
  std::string leveldb(LevelDbTimingName(leveldb_timing));
  if (leveldb_timing == LevelDbTiming::kDeferred) {
    absl::StrAppendFormat(&leveldb, "<=%dms,cut=%.2f,memtable=%s", leveldb_deferral_max_ns / kMs,
                          leveldb_power_cut_probability,
                          leveldb_write_buffer_bytes == 0
                              ? std::string("default")
                              : absl::StrCat(leveldb_write_buffer_bytes >> 10, "KiB"));
  }
  return absl::StrFormat(
      "family=%s nodes=%d heartbeat_ms=%d election_ms=%d snapshot_count=%d prevote=%d "
      "max_msg=%d clients=%d keys=%d faults=%d drop=%.2f dup=%.2f faulty_disks=%s%s "
      "leveldb=%s safety_s=%d",
      family, nodes, heartbeat_ms, election_ms, snapshot_count, pre_vote ? 1 : 0,
      max_msg_bytes, workload.clients, workload.keys,
      faults.size(), network.drop_probability, network.duplicate_probability,
      FaultyDisks(), DiskFaultRates(), leveldb, safety_phase_ns / kSec);
}

std::string Scenario::FaultyDisks() const {
  if (faulty_disk_nodes.empty()) return "none";
  std::string out;
  for (int n : faulty_disk_nodes) absl::StrAppend(&out, out.empty() ? "n" : ",n", n + 1);
  return out;
}

std::string Scenario::DiskFaultRates() const {
  if (faulty_disk_nodes.empty()) return "";
  const DiskFaults& f = disk.faults;
  std::string out;
  for (const auto& [name, p] : {std::pair<const char*, double>{"eio_read", f.read_error_probability},
                                {"eio_write", f.write_error_probability},
                                {"eio_sync", f.sync_error_probability},
                                {"bit_flip", f.read_bit_flip_probability},
                                {"misdirected", f.misdirected_write_probability}}) {
    if (p > 0) absl::StrAppend(&out, " ", name, "=", p);
  }
  if (f.capacity_bytes > 0) absl::StrAppend(&out, " capacity_kib=", f.capacity_bytes >> 10);
  return out.empty() ? "" : absl::StrCat(" (", out.substr(1), ")");
}

}  // namespace keel::sim
