// Cost of one Figure-16 trial (warm-up, crash, re-election) on the host CPU:
//   bazel run -c opt //papers:election_trial_benchmark
#include <cstdint>

#include "benchmark/benchmark.h"
#include "papers/raft-figure16/election_trial.h"

namespace keel::papers {
namespace {

void BM_ElectionTrial(benchmark::State& state) {
  TrialOptions options;
  options.timeout = {static_cast<int>(state.range(0)), static_cast<int>(state.range(1))};
  uint64_t seed = 1;
  int64_t simulated_downtime_ns = 0;
  for (auto _ : state) {
    absl::StatusOr<TrialResult> r = RunElectionTrial(options, seed++);
    if (!r.ok()) {
      state.SkipWithError("trial failed");
      return;
    }
    simulated_downtime_ns += r->downtime_ns;
  }
  state.counters["trials/s"] = benchmark::Counter(state.iterations(), benchmark::Counter::kIsRate);
  state.counters["mean_downtime_ms"] =
      benchmark::Counter(simulated_downtime_ns / 1e6 / state.iterations());
}
BENCHMARK(BM_ElectionTrial)->Args({150, 300})->Args({150, 155})->Args({12, 24})
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace keel::papers
