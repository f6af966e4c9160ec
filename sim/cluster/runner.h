// One simulated run, start to verdict: build the seed's scenario, run the safety phase
// under faults with the Raft safety checker watching every event, then the liveness phase
// (faults stop, everything heals, the cluster must elect, serve and converge within a
// bound), then the end-of-run checkers over the client history and the replicas' states.
//
// Deterministic: the result, including trace_hash, is a function of RunOptions alone.
// Wall-clock time is measured by the caller (the CLI), never in here.
#ifndef KEEL_SIM_CLUSTER_RUNNER_H_
#define KEEL_SIM_CLUSTER_RUNNER_H_

#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace keel::sim {

struct RunOptions {
  uint64_t seed = 0;
  // Replays a shrunk run: keep only these entries of the scenario's fault schedule.
  std::optional<std::vector<int>> keep_faults;
  // ... and send only these membership requests (ordinals, MembershipOps::KeepOnlyRequests).
  std::optional<std::vector<int>> keep_member_requests;
  // A bug-zoo entry to switch on (see `keelsim bugs`); empty for none.
  std::string bug;
  // JSON-lines trace sink (`--trace=FILE`); not owned.
  std::ostream* trace = nullptr;
  // BUGGIFY sites in the core (env/buggify.h): each enabled with probability 1/4 per run,
  // from the seed. Off only to compare against a run without them.
  bool buggify = true;
  // Hard bound on simulated events (a livelocked run stops instead of spinning).
  uint64_t max_events = 200'000'000;
};

struct RunResult {
  uint64_t seed = 0;
  bool ok = false;
  // Which checker failed ("election-safety", "linearizability", "liveness", ...) and why.
  std::string checker;
  std::string message;
  std::string trace_hash;  // 16 hex digits
  double sim_seconds = 0;
  uint64_t events = 0;
  size_t operations = 0;
  size_t faults = 0;
  std::string scenario;  // Scenario::Summary()
  std::vector<std::string> fault_descriptions;  // the schedule, one line per fault
  std::vector<std::string> buggify_sites;       // BUGGIFY sites enabled in this run
  uint64_t buggify_fires = 0;                   // how often they fired
  // Coverage of the disk faults over the run, summed over members: how often each fired
  // (eio_read, eio_write, eio_sync, enospc, bit_flip, misdirected_write, torn_write) and
  // how the servers answered (fail_stop, refused_start, excused). Zero counts are omitted.
  std::map<std::string, uint64_t> coverage;
  // Members that ended the run down (or unable to read their own store) with an excuse: a
  // disk fault that damaged their medium. One line each, naming the member, the faults its
  // disk fired and the server's own reason.
  std::vector<std::string> excused;
  // Members left out of the liveness and end checks because they were removed from the
  // cluster (membership_ops.h), one line each with who saw the removal.
  std::vector<std::string> removed;
};

RunResult RunSeed(const RunOptions& options);

// The fault schedule of `options`, described as RunSeed describes it, without running it
// (for a run that crashed its process before it could report).
std::vector<std::string> DescribeFaults(const RunOptions& options);

}  // namespace keel::sim

#endif  // KEEL_SIM_CLUSTER_RUNNER_H_
