// Same seed, same trace_hash: the random workload of sim/random_workload.h (timers,
// messages and disk operations on three nodes under every fault the foundation injects),
// run twice per seed.
//
// KEEL_SIM_DETERMINISM_SEEDS=<n> runs n seeds instead of the default few.
#include <algorithm>
#include <cstdlib>
#include <set>
#include <sstream>
#include <string>

#include "gtest/gtest.h"
#include "sim/random_workload.h"

namespace keel::sim {
namespace {

constexpr int64_t kRunNs = 2'000'000'000;

struct SeedRun {
  RandomWorkloadResult result;
  std::string json;
};

SeedRun RunSeed(uint64_t seed, bool with_json = false) {
  std::ostringstream json;
  SeedRun run{RunRandomWorkload(seed, kRunNs, with_json ? &json : nullptr), ""};
  run.json = json.str();
  return run;
}

int SeedCount() {
  const char* env = std::getenv("KEEL_SIM_DETERMINISM_SEEDS");
  return env != nullptr ? std::atoi(env) : 4;
}

TEST(DeterminismTest, SameSeedSameTraceHash) {
  for (uint64_t seed = 1; seed <= static_cast<uint64_t>(SeedCount()); ++seed) {
    const RandomWorkloadResult a = RunSeed(seed).result;
    const RandomWorkloadResult b = RunSeed(seed).result;
    EXPECT_EQ(a.trace_hash, b.trace_hash) << "seed " << seed;
    EXPECT_EQ(a.records, b.records) << "seed " << seed;
  }
}

TEST(DeterminismTest, JsonTraceIsIdenticalAndHasOneLinePerRecord) {
  const SeedRun a = RunSeed(11, /*with_json=*/true);
  const SeedRun b = RunSeed(11, /*with_json=*/true);
  EXPECT_EQ(a.json, b.json);
  EXPECT_EQ(static_cast<uint64_t>(std::count(a.json.begin(), a.json.end(), '\n')),
            a.result.records);
  // The sink does not change the run.
  EXPECT_EQ(a.result.trace_hash, RunSeed(11).result.trace_hash);
}

TEST(DeterminismTest, DifferentSeedsGiveDifferentTraces) {
  std::set<std::string> hashes;
  for (uint64_t seed = 100; seed < 108; ++seed) hashes.insert(RunSeed(seed).result.trace_hash);
  EXPECT_EQ(hashes.size(), 8u);
}

// Guards the test itself: a workload that injected no faults would prove little.
TEST(DeterminismTest, WorkloadExercisesEveryFaultClass) {
  const RandomWorkloadResult r = RunSeed(5).result;
  EXPECT_GT(r.records, 5'000u);
  EXPECT_GT(r.crashes, 0);
  EXPECT_GT(r.pauses, 0);
  EXPECT_GT(r.partitions, 0);
  EXPECT_GT(r.net.delivered, 0u);
  EXPECT_GT(r.net.dropped_random, 0u);
  EXPECT_GT(r.net.dropped_partition, 0u);
  EXPECT_GT(r.net.duplicated, 0u);
  EXPECT_GT(r.disk.syncs, 0u);
  EXPECT_GT(r.disk.read_errors + r.disk.write_errors + r.disk.sync_errors, 0u);
  EXPECT_GT(r.disk.bit_flips, 0u);
  EXPECT_GT(r.disk.misdirected_writes, 0u);
  EXPECT_GT(r.disk.torn_writes, 0u);
}

}  // namespace
}  // namespace keel::sim
