// The checks keelchaos runs after each round (workloads quiesced, faults healed), each
// returning anomaly texts (empty = pass). The judging is sim/checkers' own, unchanged.
#ifndef KEEL_CHAOS_ROUND_CHECKS_H_
#define KEEL_CHAOS_ROUND_CHECKS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "chaos/chaos_cluster.h"
#include "chaos/workloads.h"

namespace keel::chaos {

// Linearizability (revision precheck + per-key search) of one round's register history.
// An exhausted search budget is not an anomaly: *inconclusive is set instead.
std::vector<std::string> CheckRegisterRound(const checkers::History& history, bool* inconclusive);

// Every watcher's chain of incarnations against the acknowledged writes (CheckWatchStream,
// CommittedLog complete = false), and the watchers against each other: up to the lowest
// revision all have seen, they must have delivered the very same events.
std::vector<std::string> CheckWatches(std::map<int64_t, std::vector<checkers::WatchEvent>> acked,
                                      const std::vector<std::vector<checkers::WatcherHistory>>& streams);

// Waits (bounded) until every running member reports the same revision, then compares
// HashKV at that revision. *summary gets "hashkv equal at rev R" on success.
std::vector<std::string> CheckReplicaHashes(const ChaosCluster& cluster, absl::Duration timeout,
                                            std::string* summary);

}  // namespace keel::chaos

#endif  // KEEL_CHAOS_ROUND_CHECKS_H_
