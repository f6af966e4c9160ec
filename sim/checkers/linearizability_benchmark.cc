// Checking time for generated histories. Target: a 10,000-operation history (5 clients,
// 20 keys, mixed ops, some unknown) in under 1 s. Run with
//   bazel run -c opt //sim/checkers:linearizability_benchmark
#include "benchmark/benchmark.h"
#include "env/rng.h"
#include "sim/checkers/linearizability.h"
#include "sim/checkers/random_history.h"

namespace keel::sim::checkers {
namespace {

void BM_CheckLinearizability(benchmark::State& state) {
  RandomHistoryOptions o;
  o.operations = static_cast<int>(state.range(0));
  o.clients = static_cast<int>(state.range(2));
  o.keys = static_cast<int>(state.range(3));
  o.unknown_probability = static_cast<double>(state.range(4)) / 100.0;
  env::Rng rng(42);
  const History h = GenerateLinearizableHistory(o, &rng);
  LinearizabilityOptions options;
  options.revision_precheck = state.range(1) != 0;
  int64_t steps = 0;
  for (auto _ : state) {
    LinearizabilityResult r = CheckLinearizability(h, options);
    if (r.verdict != Verdict::kOk) {
      state.SkipWithError(r.explanation.c_str());
      break;
    }
    steps = r.search_steps;
  }
  state.counters["ops"] = static_cast<double>(h.size());
  state.counters["search_steps"] = static_cast<double>(steps);
}
// Args: operations, revision precheck on/off, clients, keys, percent of unknown outcomes.
// Lowe-style search degrades with many concurrent lost writes per key: 50 clients on
// 2 keys with 10% unknown outcomes exhausts the default budget (kInconclusive).
BENCHMARK(BM_CheckLinearizability)
    ->ArgNames({"ops", "precheck", "clients", "keys", "unknown_pct"})
    ->Args({1000, 1, 5, 20, 2})
    ->Args({10000, 1, 5, 20, 2})   // the target: < 1 s
    ->Args({10000, 0, 5, 20, 2})
    ->Args({10000, 1, 20, 5, 10})  // contended: more concurrency and lost responses per key
    ->Args({10000, 1, 50, 2, 0})   // 25 concurrent ops per key, all outcomes known
    ->Args({10000, 1, 10, 2, 10})
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace keel::sim::checkers
