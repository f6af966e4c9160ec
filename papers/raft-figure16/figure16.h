// The whole Figure-16 experiment: which lines, how many trials, per-trial seeds, and
// summary statistics. The binary (figure16_main.cc) only adds files and flags.
#ifndef KEEL_PAPERS_RAFT_FIGURE16_FIGURE16_H_
#define KEEL_PAPERS_RAFT_FIGURE16_FIGURE16_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "papers/raft-figure16/election_trial.h"

namespace keel::papers {

struct LineSpec {
  TimeoutRange range;
  int trials = 0;
  bool top_graph = false;     // 150-150 ... 150-300 (randomness varies)
  bool bottom_graph = false;  // 12-24 ... 150-300 (minimum timeout varies)
};

// The paper's eleven lines with 150-300 shared by both graphs (ten runs). `trials` is the
// count of the 1000-trial lines; 150-150 gets a tenth of it (the paper ran 100), at least 1.
std::vector<LineSpec> Figure16Lines(int trials);

// Seed of one trial: a function of the base seed, the range and the trial number only.
uint64_t TrialSeed(uint64_t base_seed, const TimeoutRange& range, int trial);

struct LineResult {
  LineSpec spec;
  std::vector<TrialResult> trials;
};

// Runs `spec.trials` trials; fails on the first failing trial (naming its seed).
absl::StatusOr<LineResult> RunLine(const TrialOptions& base, const LineSpec& spec,
                                   uint64_t base_seed);

struct Summary {
  size_t n = 0;
  double min_ms = 0, median_ms = 0, mean_ms = 0, p99_ms = 0, max_ms = 0;
};
Summary Summarize(std::vector<double> values_ms);

std::vector<double> DowntimesMs(const LineResult& line);

}  // namespace keel::papers

#endif  // KEEL_PAPERS_RAFT_FIGURE16_FIGURE16_H_
