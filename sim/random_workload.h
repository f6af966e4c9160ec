// A random three-node workload on the simulated Env, for determinism tests, the trace
// probe and benchmarks: each node's agent ticks at random and sends messages, appends and
// syncs a WAL asynchronously, and publishes snapshot files synchronously; a chaos
// schedule on the global queue crashes, restarts, pauses and resumes nodes, partitions
// and heals the network, and drifts and jumps clocks. Disks inject every fault class.
#ifndef KEEL_SIM_RANDOM_WORKLOAD_H_
#define KEEL_SIM_RANDOM_WORKLOAD_H_

#include <cstdint>
#include <ostream>
#include <string>

#include "sim/disk.h"
#include "sim/network.h"

namespace keel::sim {

struct RandomWorkloadResult {
  std::string trace_hash;
  uint64_t records = 0;
  uint64_t events = 0;
  DiskCounters disk;  // summed over nodes
  NetworkCounters net;
  int crashes = 0;
  int pauses = 0;
  int partitions = 0;
};

// Runs `seed` for `duration_ns` of simulated time; `json` (may be null) receives the
// trace as JSON lines.
RandomWorkloadResult RunRandomWorkload(uint64_t seed, int64_t duration_ns,
                                       std::ostream* json);

}  // namespace keel::sim

#endif  // KEEL_SIM_RANDOM_WORKLOAD_H_
