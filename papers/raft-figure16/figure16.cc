#include "papers/raft-figure16/figure16.h"

#include <algorithm>
#include <cassert>
#include <numeric>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "env/rng.h"

namespace keel::papers {

std::vector<LineSpec> Figure16Lines(int trials) {
  assert(trials > 0);
  const int fixed_trials = std::max(1, trials / 10);
  std::vector<LineSpec> lines = {
      {{150, 150}, fixed_trials, true, false}, {{150, 151}, trials, true, false},
      {{150, 155}, trials, true, false},       {{150, 175}, trials, true, false},
      {{150, 200}, trials, true, false},       {{150, 300}, trials, true, true},
      {{12, 24}, trials, false, true},         {{25, 50}, trials, false, true},
      {{50, 100}, trials, false, true},        {{100, 200}, trials, false, true},
  };
  return lines;
}

uint64_t TrialSeed(uint64_t base_seed, const TimeoutRange& range, int trial) {
  return env::Rng(base_seed).Stream(absl::StrCat(range.Label(), "/", trial)).Next();
}

absl::StatusOr<LineResult> RunLine(const TrialOptions& base, const LineSpec& spec,
                                   uint64_t base_seed) {
  LineResult line;
  line.spec = spec;
  TrialOptions options = base;
  options.timeout = spec.range;
  for (int t = 0; t < spec.trials; ++t) {
    const uint64_t seed = TrialSeed(base_seed, spec.range, t);
    absl::StatusOr<TrialResult> r = RunElectionTrial(options, seed);
    if (!r.ok()) {
      return absl::Status(r.status().code(),
                          absl::StrCat(spec.range.Label(), " trial ", t, " (trial seed ", seed,
                                       "): ", r.status().message()));
    }
    line.trials.push_back(std::move(*r));
  }
  return line;
}

Summary Summarize(std::vector<double> v) {
  Summary s;
  s.n = v.size();
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  s.min_ms = v.front();
  s.max_ms = v.back();
  s.median_ms = v.size() % 2 == 1 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  s.mean_ms = std::accumulate(v.begin(), v.end(), 0.0) / v.size();
  // Nearest-rank percentile.
  const size_t rank = (99 * v.size() + 99) / 100;
  s.p99_ms = v[std::max<size_t>(rank, 1) - 1];
  return s;
}

std::vector<double> DowntimesMs(const LineResult& line) {
  std::vector<double> out;
  out.reserve(line.trials.size());
  for (const TrialResult& t : line.trials) out.push_back(t.downtime_ns / 1e6);
  return out;
}

}  // namespace keel::papers
