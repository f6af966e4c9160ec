// figure16: reproduces the Raft paper's Figure 16 on our RawNode.
//
//   bazel run //papers:figure16 -- --out=DIR [--trials=N] [--seed=S]
//       writes DIR/figure16.csv (timeout_range,trial,downtime_ms), DIR/figure16_top.svg,
//       DIR/figure16_bottom.svg, and prints a summary table (Markdown) on stdout.
//   bazel run //papers:figure16 -- --trace=FILE [--trace_range=150-300] [--trace_trial=0]
//       runs one trial and writes its JSON-lines trace (papers/viz/TRACE_SCHEMA.md).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "papers/raft-figure16/cdf_svg.h"
#include "papers/raft-figure16/figure16.h"

ABSL_FLAG(std::string, out, "", "Directory for figure16.csv and the two SVG plots.");
ABSL_FLAG(int, trials, 1000, "Trials per line (150-150 runs a tenth of this, like the paper).");
ABSL_FLAG(uint64_t, seed, 1, "Base seed; each trial's seed derives from it, range and trial.");
ABSL_FLAG(bool, pre_vote, false, "Enable Raft PreVote (not in the paper; see README).");
ABSL_FLAG(std::string, latency_ms, "5-10",
          "One-way network latency range MIN-MAX in ms, uniform (default: RTT about 15 ms).");
ABSL_FLAG(std::string, only, "",
          "Comma-separated timeout ranges to run (e.g. 150-151,150-155); default all.");
ABSL_FLAG(std::string, trace, "", "Run one trial and write its JSON-lines trace here.");
ABSL_FLAG(std::string, trace_range, "150-300", "Timeout range of the --trace trial.");
ABSL_FLAG(int, trace_trial, 0, "Trial number of the --trace trial (selects its seed).");

namespace keel::papers {
namespace {

// `bazel run` starts us inside the runfiles tree; relative paths mean the user's cwd.
std::string UserPath(const std::string& path) {
  const char* cwd = std::getenv("BUILD_WORKING_DIRECTORY");
  if (path.empty() || path[0] == '/' || cwd == nullptr) return path;
  return std::string(cwd) + "/" + path;
}

bool ParseRange(const std::string& s, TimeoutRange* r) {
  std::vector<std::string> parts = absl::StrSplit(s, '-');
  return parts.size() == 2 && absl::SimpleAtoi(parts[0], &r->min_ms) &&
         absl::SimpleAtoi(parts[1], &r->max_ms);
}

// Options shared by every trial: the flags that change the model.
bool BaseOptions(TrialOptions* options) {
  TimeoutRange latency;  // Reuses the MIN-MAX parser; the values are milliseconds.
  if (!ParseRange(absl::GetFlag(FLAGS_latency_ms), &latency) || latency.min_ms < 0 ||
      latency.max_ms < latency.min_ms) {
    std::cerr << "bad --latency_ms (want MIN-MAX)\n";
    return false;
  }
  options->latency_min_ns = int64_t{latency.min_ms} * 1'000'000;
  options->latency_max_ns = int64_t{latency.max_ms} * 1'000'000;
  options->pre_vote = absl::GetFlag(FLAGS_pre_vote);
  return true;
}

int WriteTrace() {
  TimeoutRange range;
  if (!ParseRange(absl::GetFlag(FLAGS_trace_range), &range)) {
    std::cerr << "bad --trace_range (want MIN-MAX)\n";
    return 2;
  }
  std::ofstream out(UserPath(absl::GetFlag(FLAGS_trace)));
  TrialOptions options;
  if (!BaseOptions(&options)) return 2;
  options.timeout = range;
  const uint64_t seed = TrialSeed(absl::GetFlag(FLAGS_seed), range, absl::GetFlag(FLAGS_trace_trial));
  absl::StatusOr<TrialResult> r = RunElectionTrial(options, seed, &out);
  if (!r.ok()) {
    std::cerr << r.status() << "\n";
    return 1;
  }
  std::cout << absl::StrFormat("%s trial %d: downtime %.3f ms (leader %d -> %d, term %d -> %d)\n",
                               range.Label(), absl::GetFlag(FLAGS_trace_trial),
                               r->downtime_ns / 1e6, r->old_leader, r->new_leader, r->old_term,
                               r->new_term);
  return out.good() ? 0 : 1;
}

bool WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream f(path);
  f << contents;
  return f.good();
}

int RunAll() {
  const std::string dir = UserPath(absl::GetFlag(FLAGS_out));
  const int trials = absl::GetFlag(FLAGS_trials);
  if (dir.empty() || trials <= 0) {
    std::cerr << "usage: figure16 --out=DIR [--trials=N] [--seed=S] | --trace=FILE\n";
    return 2;
  }
  // Made (or refused) before a minute of trials, not after.
  std::error_code made;
  std::filesystem::create_directories(dir, made);
  if (made || !std::filesystem::is_directory(dir)) {
    std::cerr << "figure16: cannot create the output directory " << dir
              << (made ? ": " + made.message() : std::string()) << "\n";
    return 1;
  }
  std::string csv = "timeout_range,trial,downtime_ms\n";
  std::vector<CdfSeries> top, bottom;
  std::cout << "| timeout (ms) | trials | min | median | mean | p99 | max | mean elections |\n"
               "|---|---|---|---|---|---|---|---|\n";
  const std::vector<std::string> only = absl::StrSplit(absl::GetFlag(FLAGS_only), ',',
                                                      absl::SkipEmpty());
  for (const LineSpec& spec : Figure16Lines(trials)) {
    if (!only.empty() && std::find(only.begin(), only.end(), spec.range.Label()) == only.end()) {
      continue;
    }
    TrialOptions options;
    if (!BaseOptions(&options)) return 2;
    absl::StatusOr<LineResult> line = RunLine(options, spec, absl::GetFlag(FLAGS_seed));
    if (!line.ok()) {
      std::cerr << line.status() << "\n";
      return 1;
    }
    std::vector<double> ms = DowntimesMs(*line);
    double elections = 0;
    for (size_t t = 0; t < ms.size(); ++t) {
      absl::StrAppendFormat(&csv, "%s,%d,%.3f\n", spec.range.Label(), t, ms[t]);
      elections += line->trials[t].elections;
    }
    Summary s = Summarize(ms);
    std::cout << absl::StrFormat("| %s | %d | %.1f | %.1f | %.1f | %.1f | %.1f | %.2f |\n",
                                 spec.range.Label(), s.n, s.min_ms, s.median_ms, s.mean_ms,
                                 s.p99_ms, s.max_ms, elections / ms.size())
              << std::flush;
    if (spec.top_graph) top.push_back({spec.range.Label(), ms});
    if (spec.bottom_graph) bottom.push_back({spec.range.Label(), ms});
  }
  // The paper's bottom graph lists its lines by minimum timeout.
  std::stable_sort(bottom.begin(), bottom.end(), [](const CdfSeries& a, const CdfSeries& b) {
    return std::stoi(a.label) < std::stoi(b.label);
  });
  CdfAxis top_axis{true, 100, 100000, {100, 1000, 10000, 100000}};
  CdfAxis bottom_axis{false, 0, 600, {0, 100, 200, 300, 400, 500, 600}};
  const bool ok =
      WriteFile(dir + "/figure16.csv", csv) &&
      WriteFile(dir + "/figure16_top.svg",
                RenderCdfSvg(top, top_axis, "Randomness of the election timeout (Keel RawNode)")) &&
      WriteFile(dir + "/figure16_bottom.svg",
                RenderCdfSvg(bottom, bottom_axis, "Minimum election timeout (Keel RawNode)"));
  if (!ok) std::cerr << "could not write to " << dir << "\n";
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace keel::papers

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  if (!absl::GetFlag(FLAGS_trace).empty()) return keel::papers::WriteTrace();
  return keel::papers::RunAll();
}
