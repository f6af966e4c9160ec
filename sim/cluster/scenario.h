// A scenario: everything one simulated run does, drawn from its seed (swarm testing, as
// TigerBeetle's VOPR): cluster size, timing, workload mix, and a fault schedule. Each
// choice draws from its own named Rng stream, so adding a knob never reshuffles the rest.
//
// The fault schedule is an explicit list, so a failing run can be shrunk by replaying the
// same seed with a subset of its faults (`keelsim shrink`): the workload and every other
// draw stay identical because they come from other streams.
#ifndef KEEL_SIM_CLUSTER_SCENARIO_H_
#define KEEL_SIM_CLUSTER_SCENARIO_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sim/disk.h"
#include "sim/network.h"

namespace keel::sim {

enum class FaultKind {
  kCrash,          // node loses volatile state and unsynced disk data; restarts later
  kPause,          // node stops processing (SIGSTOP), resumes later
  kIsolate,        // node cut off from everyone, healed later
  kSplit,          // cluster split into two sides, healed later
  kAsymmetric,     // one direction of one link blocked, healed later
  kClockDrift,     // node clock runs at a different rate from then on
  kClockJump,      // node clock steps forward
  kWallStep,       // node's wall clock only (env::Env::WallClockMillis) steps by `amount`
                   // ns, forward or backward (NTP); its monotonic Loop clock is untouched
  kDiskSlow,       // node's fsyncs become slow for a while
  // Triggered faults (triggers.h): armed at at_ns, they fire at the first protocol-sensitive
  // moment after it, which a fixed time would almost never hit.
  kVoteCrash,      // the next member to grant a vote crashes `amount` ns later and restarts
                   // `duration_ns` after that (kill -9 between the vote and the next one)
  kFlap,           // node's links to every other member (both directions) flap: blocked
                   // for `amount` ns, open for `open_ns`, again and again, healed after
                   // `duration_ns` (a bad switch port, a NIC renegotiating)
  kLeaderChurn,    // rolling isolation of fresh leaders, `other` steps: at step i the
                   // current leader is isolated right after it appends (bit i of `amount`
                   // clear) or right after its commit index advances (bit i set), and the
                   // member isolated at step i-1 is reconnected (the Figure 8 sequence)
};

// Triggered faults are armed by the run loop instead of scheduled at a fixed time.
bool IsTriggered(FaultKind kind);

const char* FaultKindName(FaultKind kind);

struct Fault {
  int64_t at_ns = 0;
  FaultKind kind = FaultKind::kCrash;
  int node = 0;        // index into the cluster (0-based), or first side member
  int other = 0;       // kAsymmetric: the other end; kSplit: size of the first side;
                       // kLeaderChurn: number of steps
  int64_t duration_ns = 0;  // how long until restart / resume / heal
  int64_t amount = 0;  // kClockDrift: rate in ppm; kClockJump, kWallStep: ns; kVoteCrash: delay
                       // before the crash; kLeaderChurn: bit mask of step triggers;
                       // kFlap: blocked spell
  int64_t open_ns = 0;  // kFlap: open spell
};

struct WorkloadMix {
  int clients = 3;
  int keys = 8;
  int value_bytes = 16;
  // Relative weights of operations.
  int put = 40;
  int get = 30;
  int serializable_get = 5;
  int del = 5;
  int cas = 15;
  int lease = 5;
  int64_t think_ns = 2'000'000;  // pause between a client's operations
  int watchers = 1;              // watch streams, each over the whole key space
  // A client gives up waiting (outcome unknown) after this; longer than the server's own
  // request timeout so that server-side answers usually arrive first.
  int64_t client_timeout_ns = 15'000'000'000;
};

// Scenario families (swarm testing: each seed draws one). "mixed" is the broad default;
// the others concentrate faults where Raft's hardest invariants live.
//  election-storm: election timeouts short against network latency (heavy tail), PreVote
//                  often off, members crashed right after they vote: contested elections
//                  with voters restarting in the middle of them.
//  leader-churn:   fresh leaders isolated right after they append or commit, one MsgApp
//                  entry per message (tiny batches): old-term entries re-replicated by a
//                  returning leader while another leader holds conflicting entries.
// When a member's LevelDB background work (memtable flushes, compactions) runs.
enum class LevelDbTiming {
  // Right after the DB call that queued it: compactions are part of the call, and a
  // crash (which falls between events) never finds work pending.
  kDrained,
  // Later, like keeld's background thread: a drain event a random delay after the call
  // (up to Scenario::leveldb_deferral_max_ns), or earlier when a write could otherwise
  // wait for it (kv::WriteCouldWaitForQueuedWork). A crash in between
  // loses the pending work, as a kill -9 loses keeld's thread; with
  // Scenario::leveldb_power_cut_probability the member loses power right at the end of
  // the window instead of running the work (restarted one election timeout later).
  kDeferred,
};
std::string_view LevelDbTimingName(LevelDbTiming timing);

struct Scenario {
  uint64_t seed = 0;
  std::string family = "mixed";
  int nodes = 3;
  int64_t heartbeat_ms = 20;
  int64_t election_ms = 200;
  uint64_t snapshot_count = 1000;
  bool pre_vote = true;
  // BUGGIFY-style: the Raft max_size_per_msg (0 = the server's default). 1 sends one entry
  // per MsgApp, which makes partial replication of a leader's log common.
  uint64_t max_msg_bytes = 0;
  // Restarted members see their Loop clock start over, as keeld's does (ClockConfig::
  // restart_starts_loop_clock_over). Off in generated scenarios, so seeds replay as before.
  bool restart_starts_loop_clock_over = false;
  NetworkOptions network;
  DiskOptions disk;
  // Nodes whose disks may misbehave beyond crashes: at most a minority, so the cluster can
  // always recover without them. They fire `disk.faults`' EIO, bit flip, misdirected write
  // and capacity settings (drawn per seed); every other disk only loses power.
  std::vector<int> faulty_disk_nodes;
  LevelDbTiming leveldb_timing = LevelDbTiming::kDrained;
  int64_t leveldb_deferral_max_ns = 0;  // kDeferred only
  double leveldb_power_cut_probability = 0;  // kDeferred only, per deferred run of the queue
  size_t leveldb_write_buffer_bytes = 0;     // the backend's memtable; 0 = server default
  WorkloadMix workload;
  std::vector<Fault> faults;
  int64_t safety_phase_ns = 20'000'000'000;
  // After faults stop: the cluster must elect a leader, serve, and converge within this.
  int64_t liveness_bound_ns = 30'000'000'000;

  // One line a human can read: "nodes=5 clients=4 faults=12 drop=0.05 ...".
  std::string Summary() const;
  // "n2,n4" or "none"; " (eio_sync=0.001 capacity_kib=4096)" or "".
  std::string FaultyDisks() const;
  std::string DiskFaultRates() const;
};

// Draws the whole scenario from `seed`.
Scenario GenerateScenario(uint64_t seed);

// Keeps only the faults whose indices are listed (for shrinking and replaying a shrunk run).
void KeepFaults(Scenario* scenario, const std::vector<int>& indices);

}  // namespace keel::sim

#endif  // KEEL_SIM_CLUSTER_SCENARIO_H_
