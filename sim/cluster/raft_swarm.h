// RaftSwarm: joint consensus under faults, at the Raft level (issue #16).
//
// Why a separate swarm: Raft enters a joint configuration only for a ConfChangeV2 with more
// than one change (or an explicit joint transition), and etcd 3.4's server never proposes
// one (its Cluster API makes one v1 ConfChange per request), so the cluster runs of keelsim
// can never reach it (sim/README.md, "Joint consensus: the Raft-level swarm"). Here the
// real raft/ RawNodes run on SimEnvs (the world's loops and clocks, the simulated network,
// the simulated disk through the server's real storage::Wal), with a toy state machine (a
// digest of the applied entries), and a driver proposes what etcd's server does not:
// multi-change ConfChangeV2s (add voter, add learner, demote, promote, remove) left
// automatically or explicitly (an empty ConfChangeV2), leader transfers, and a stream of
// normal proposals, while crashes, isolations and splits are scheduled.
//
// Checked: the Raft safety properties (sim/checkers/raft_safety.h) after every event, and
// joint-quorum: when a leader's commit index advances to C, the voters whose durable log
// (the WAL's acknowledged saves) holds entry C are a majority of BOTH halves of the
// leader's configuration (a member that is down counts as a holder: lenient, never a false
// alarm). Then a liveness phase: faults stop, every member still in the configuration
// restarts, an explicit joint configuration is left, and within a bound the leader's
// configuration is not joint and every member in it applied a fresh entry.
//
// Deterministic: everything runs on its own World(seed), whose trace hash the caller folds
// into the run's trace_hash; the random choices come from that world's "swarm.*" streams.
#ifndef KEEL_SIM_CLUSTER_RAFT_SWARM_H_
#define KEEL_SIM_CLUSTER_RAFT_SWARM_H_

#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>

#include "sim/checkers/violation.h"

namespace keel::sim {

struct RaftSwarmResult {
  std::optional<checkers::Violation> violation;
  // swarm.* counters, plus the Raft paths under their raft.* names (joint_entered,
  // joint_left, leader_transfers, elections_won); zero counts omitted.
  std::map<std::string, uint64_t> coverage;
  uint64_t trace_hash = 0;
  double sim_seconds = 0;
  uint64_t events = 0;
  std::string summary;  // members, timing and options drawn, for the run's output
};

// Runs the swarm for `seed`; `trace` (may be null) receives its JSON-lines trace.
RaftSwarmResult RunRaftSwarm(uint64_t seed, std::ostream* trace);

}  // namespace keel::sim

#endif  // KEEL_SIM_CLUSTER_RAFT_SWARM_H_
