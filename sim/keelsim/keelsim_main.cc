// keelsim: run, sweep, shrink and list the bug zoo. See sim/README.md.
//
//   keelsim run --seed=N [--trace=FILE] [--bug=NAME] [--faults=I,J,...] [--requests=I,J,...]
//   keelsim sweep --seeds=A-B [--jobs=J] [--bug=NAME] [--shard=K/N] [--results=FILE]
//                 [--stop-on-failure]
//   keelsim merge [--allow-mixed] [--out=FILE] FILE...
//   keelsim shrink --seed=N [--bug=NAME]
//   keelsim corpus replay [--dir=sim/corpus] [--jobs=J]
//   keelsim bugs
//   keelsim viz (--seed=N [--bug=NAME] | --trace=FILE) --out=FILE.html [--from_ms --to_ms]
//   keelsim explain (--seed=N [--bug=NAME] | --trace=FILE) [--from_ms --max_lines]
//
// The simulation itself never reads a clock; wall time is measured here, around it.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "sim/cluster/bug_zoo.h"
#include "sim/cluster/runner.h"
#include "sim/keelsim/corpus.h"
#include "sim/keelsim/provenance.h"
#include "sim/keelsim/results_merge.h"
#include "sim/keelsim/sweep_report.h"
#include "sim/keelsim/teach.h"
#include "sim/keelsim/worker_pool.h"

namespace keel::sim {
namespace {

double WallSeconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// --faults: "I,J,..." keeps only those entries of the seed's fault schedule, "none" keeps
// none (a schedule shrunk to nothing); an empty flag keeps them all.
bool ParseFaultsFlag(absl::string_view flag, std::optional<std::vector<int>>* keep) {
  keep->reset();
  if (flag.empty()) return true;
  std::vector<int>& list = keep->emplace();
  if (flag == "none") return true;
  for (absl::string_view part : absl::StrSplit(flag, ',')) {
    int index = 0;
    if (!absl::SimpleAtoi(part, &index) || index < 0) return false;
    list.push_back(index);
  }
  return true;
}

std::string FaultsFlag(const std::vector<int>& keep) {
  return keep.empty() ? "none" : absl::StrJoin(keep, ",");
}

std::string ReplayCommand(uint64_t seed, const std::string& bug, const std::vector<int>* faults,
                          const std::vector<int>* requests = nullptr) {
  std::string cmd = absl::StrCat("bazel run --config=opt //sim/keelsim -- run --seed=", seed);
  if (!bug.empty()) absl::StrAppend(&cmd, " --bug=", bug);
  if (faults != nullptr) absl::StrAppend(&cmd, " --faults=", FaultsFlag(*faults));
  if (requests != nullptr) absl::StrAppend(&cmd, " --requests=", FaultsFlag(*requests));
  return cmd;
}

std::string SummaryLine(const RunResult& r, double wall_s) {
  return absl::StrFormat(
      "seed=%d result=%s trace_hash=%s sim_s=%.3f wall_s=%.3f events=%d ops=%d faults=%d "
      "buggify=%d/%d",
      r.seed, r.ok ? "ok" : "FAIL", r.trace_hash, r.sim_seconds, wall_s, r.events, r.operations,
      r.faults, r.buggify_fires, r.buggify_sites.size());
}

// Runs one seed. For testing how sweeps and shrink treat a seed that brings its process
// down (worker_pool.h): with KEELSIM_TEST_ABORT_SEED=N in the environment, seed N aborts
// its process instead of running. Real crashes come from the code's own invariants; the
// bug zoo's entries are now all caught by a checker before one fires.
RunResult RunSeedOrTestAbort(const RunOptions& options) {
  const char* abort_seed = std::getenv("KEELSIM_TEST_ABORT_SEED");
  uint64_t n = 0;
  if (abort_seed != nullptr && absl::SimpleAtoi(abort_seed, &n) && n == options.seed) {
    std::fprintf(stderr, "keelsim: test invariant KEELSIM_TEST_ABORT_SEED=%s\n", abort_seed);
    std::abort();
  }
  return RunSeed(options);
}

// The last `n` lines of the run's JSON trace, obtained by replaying the seed (which is
// exact, since runs are deterministic).
std::vector<std::string> LastTraceLines(RunOptions options, size_t n) {
  std::ostringstream trace;
  options.trace = &trace;
  (void)RunSeed(options);
  std::vector<std::string> lines = absl::StrSplit(trace.str(), '\n', absl::SkipEmpty());
  if (lines.size() > n) lines.erase(lines.begin(), lines.end() - static_cast<long>(n));
  return lines;
}

int Run(uint64_t seed, const std::string& trace_path, const std::string& bug,
        const std::string& faults_flag, const std::string& requests_flag, bool no_buggify) {
  RunOptions options;
  options.seed = seed;
  options.bug = bug;
  options.buggify = !no_buggify;
  if (!ParseFaultsFlag(faults_flag, &options.keep_faults) ||
      !ParseFaultsFlag(requests_flag, &options.keep_member_requests)) {
    std::cerr << "keelsim: --faults and --requests take comma-separated indices, or none\n";
    return 2;
  }
  std::ofstream trace_file;
  if (!trace_path.empty()) {
    trace_file.open(trace_path);
    if (!trace_file) {
      std::cerr << "keelsim: cannot write " << trace_path << "\n";
      return 2;
    }
    options.trace = &trace_file;
  }
  const auto start = std::chrono::steady_clock::now();
  RunResult r = RunSeedOrTestAbort(options);
  const double wall = WallSeconds(start);
  std::cout << SummaryLine(r, wall) << "\n";
  std::cout << "scenario: " << r.scenario << "\n";
  if (!r.buggify_sites.empty()) {
    std::cout << "buggify sites enabled: " << absl::StrJoin(r.buggify_sites, ", ") << "\n";
  }
  if (!r.coverage.empty()) {
    std::cout << "coverage:";
    for (const auto& [name, count] : r.coverage) std::cout << " " << name << "=" << count;
    std::cout << "\n";
  }
  for (const std::string& line : r.excused) std::cout << "excused: " << line << "\n";
  for (const std::string& line : r.removed) std::cout << "removed: " << line << "\n";
  if (r.ok) return 0;
  std::cout << "checker: " << r.checker << "\n" << "violation: " << r.message << "\n";
  std::cout << "fault schedule:\n";
  for (size_t i = 0; i < r.fault_descriptions.size(); ++i) {
    std::cout << "  [" << i << "] " << r.fault_descriptions[i] << "\n";
  }
  options.trace = nullptr;
  std::cout << "last events before the verdict:\n";
  for (const std::string& line : LastTraceLines(options, 15)) std::cout << "  " << line << "\n";
  std::cout << "replay: "
            << ReplayCommand(seed, bug, options.keep_faults.has_value() ? &*options.keep_faults : nullptr,
                             options.keep_member_requests.has_value() ? &*options.keep_member_requests : nullptr)
            << (options.buggify ? "" : " --no-buggify") << "\n";
  return 1;
}

bool ParseSeedRange(const std::string& text, uint64_t* first, uint64_t* last) {
  std::vector<std::string> parts = absl::StrSplit(text, '-');
  if (parts.size() == 1) parts.push_back(parts[0]);
  return parts.size() == 2 && absl::SimpleAtoi(parts[0], first) && absl::SimpleAtoi(parts[1], last) &&
         *first <= *last;
}

// This binary's path, for starting sweep workers (argv[0] may be relative or a symlink).
std::string SelfPath() {
  char path[4096];
  const ssize_t n = ::readlink("/proc/self/exe", path, sizeof(path) - 1);
  return n > 0 ? std::string(path, static_cast<size_t>(n)) : std::string("/proc/self/exe");
}

// One unit of work for a worker process: "SEED", or "SEED faults=I,J,..." to keep only
// those faults (an empty list keeps none), and/or "requests=I,J,..." to send only those
// membership requests, as shrink's trials need.
std::string WorkItem(const RunOptions& options) {
  std::string item = absl::StrCat(options.seed);
  if (options.keep_faults.has_value()) absl::StrAppend(&item, " faults=", FaultsFlag(*options.keep_faults));
  if (options.keep_member_requests.has_value()) {
    absl::StrAppend(&item, " requests=", FaultsFlag(*options.keep_member_requests));
  }
  return item;
}

bool ParseWorkItem(absl::string_view line, RunOptions* options) {
  std::vector<absl::string_view> parts = absl::StrSplit(line, ' ', absl::SkipEmpty());
  if (parts.empty() || parts.size() > 3 || !absl::SimpleAtoi(parts[0], &options->seed)) return false;
  for (size_t i = 1; i < parts.size(); ++i) {
    absl::string_view part = parts[i];
    if (absl::ConsumePrefix(&part, "faults=")) {
      if (part.empty() || !ParseFaultsFlag(part, &options->keep_faults)) return false;
    } else if (absl::ConsumePrefix(&part, "requests=")) {
      if (part.empty() || !ParseFaultsFlag(part, &options->keep_member_requests)) return false;
    } else {
      return false;
    }
  }
  return true;
}

// `keelsim sweep-worker`: the process side of a sweep or a shrink (worker_pool.h). Reads
// one work item per line on stdin until end-of-file, answers each with its result as one
// JSON line.
int SweepWorker(const std::string& bug) {
  std::string line;
  while (std::getline(std::cin, line)) {
    RunOptions options;
    if (!ParseWorkItem(line, &options)) {
      std::cerr << "keelsim sweep-worker: not a work item: " << line.substr(0, 80) << "\n";
      return 2;
    }
    options.bug = bug;
    std::cout << SweepReport::ToJsonLine(RunSeedOrTestAbort(options), bug) << "\n" << std::flush;
  }
  return 0;
}

WorkerPoolOptions Workers(const std::string& bug, int jobs) {
  WorkerPoolOptions pool;
  pool.argv = {SelfPath(), "sweep-worker"};
  if (!bug.empty()) pool.argv.push_back(absl::StrCat("--bug=", bug));
  pool.workers = std::max(1, jobs);
  return pool;
}

// A worker's outcome as a result. A crash is a failure of the run that caused it: an
// invariant the code asserts itself (a Raft or simulator check) caught the bug before any
// checker could.
RunResult ResultOf(const std::string& item, const WorkerOutcome& outcome) {
  RunOptions options;
  (void)ParseWorkItem(item, &options);
  RunResult r;
  r.seed = options.seed;
  if (outcome.crashed) {
    r.checker = "crash";
    r.message = outcome.crash;
    return r;
  }
  absl::StatusOr<RunResult> parsed = SweepReport::FromJsonLine(outcome.line);
  if (!parsed.ok()) {
    r.checker = "worker";
    r.message = std::string(parsed.status().message());
    return r;
  }
  return *std::move(parsed);
}

// Runs one seed in a worker process, so that a run which crashes is a result.
RunResult RunIsolated(const RunOptions& options) {
  RunResult result;
  result.seed = options.seed;
  const absl::Status s = RunInWorkers(Workers(options.bug, 1), {WorkItem(options)},
                                      [&](const std::string& item, const WorkerOutcome& o) {
                                        result = ResultOf(item, o);
                                        return true;
                                      });
  if (!s.ok()) {
    result.ok = false;
    result.checker = "worker";
    result.message = std::string(s.message());
  }
  return result;
}

int Sweep(const std::string& seeds, int jobs, const std::string& bug, const std::string& shard,
          const std::string& results_path, bool stop_on_failure) {
  uint64_t first = 0, last = 0;
  if (!ParseSeedRange(seeds, &first, &last)) {
    std::cerr << "keelsim: --seeds takes A-B\n";
    return 2;
  }
  uint64_t shard_index = 0, shard_count = 1;
  if (!shard.empty()) {
    std::vector<std::string> parts = absl::StrSplit(shard, '/');
    if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &shard_index) ||
        !absl::SimpleAtoi(parts[1], &shard_count) || shard_count == 0 || shard_index >= shard_count) {
      std::cerr << "keelsim: --shard takes K/N with 0 <= K < N\n";
      return 2;
    }
  }
  std::vector<uint64_t> todo;
  for (uint64_t s = first; s <= last; ++s) {
    if (s % shard_count == shard_index) todo.push_back(s);
  }
  std::ofstream results;
  if (!results_path.empty()) {
    results.open(results_path);
    if (!results) {
      std::cerr << "keelsim: cannot write " << results_path << "\n";
      return 2;
    }
    // Provenance first (provenance.h): merge refuses shards of different builds.
    Provenance provenance = BuildProvenance();
    absl::StatusOr<std::string> sha = SelfSha256();
    provenance.binary_sha256 = sha.ok() ? *sha : "unknown";
    provenance.first_seed = first;
    provenance.last_seed = last;
    provenance.shard_index = shard_index;
    provenance.shard_count = shard_count;
    provenance.bug = bug;
    provenance.jobs = jobs;
    results << provenance.ToJsonLine() << "\n" << std::flush;
  }

  SweepReport report;
  const bool tty = isatty(STDOUT_FILENO) != 0;
  const auto start = std::chrono::steady_clock::now();
  auto on_outcome = [&](const std::string& item, const WorkerOutcome& outcome) {
    const RunResult r = ResultOf(item, outcome);
    report.Add(r);
    if (results.is_open()) results << SweepReport::ToJsonLine(r, bug) << "\n" << std::flush;
    if (!r.ok) {
      if (tty) std::cout << "\r\033[K";
      std::cout << "FAIL seed=" << r.seed << " checker=" << r.checker << ": " << r.message.substr(0, 300)
                << "\n  replay: " << ReplayCommand(r.seed, bug, nullptr) << "\n";
    }
    if (tty) {
      const size_t done = report.passed() + report.failed();
      const int width = 40;
      const int filled = static_cast<int>(width * done / std::max<size_t>(todo.size(), 1));
      std::cout << "\r[" << std::string(filled, '#') << std::string(width - filled, '.') << "] " << done
                << "/" << todo.size() << " failed=" << report.failed() << std::flush;
    }
    return r.ok || !stop_on_failure;
  };
  std::vector<std::string> items;
  for (uint64_t s : todo) items.push_back(absl::StrCat(s));
  absl::Status ran = RunInWorkers(Workers(bug, jobs), items, on_outcome);
  if (!ran.ok()) {
    std::cerr << "keelsim: sweep: " << ran.message() << "\n";
    return 2;
  }
  const double wall = WallSeconds(start);
  const size_t seeds_run = report.passed() + report.failed();
  if (results.is_open()) results << ShardDoneJsonLine(seeds_run, wall, seeds_run < todo.size()) << "\n" << std::flush;
  if (tty) std::cout << "\n";
  std::cout << absl::StrFormat("speed: %.1f simulated seconds per wall second (%d jobs, %.1f sim s in %.1f s)\n",
                               report.sim_seconds() / std::max(wall, 1e-9), jobs, report.sim_seconds(), wall);
  std::cout << report.CoverageTable();
  if (report.failed() > 0) std::cout << report.FailuresByChecker() << "\n";
  std::cout << report.passed() << " passed, " << report.failed() << " failed\n";
  return report.failed() == 0 ? 0 : 1;
}

// Exit status: 2 when the files are not one complete sweep of one build (results_merge.h
// lists why, on stderr), else 0 iff every seed passed.
int Merge(const std::vector<std::string>& files, bool allow_mixed, const std::string& out_path) {
  ResultsMerge merge;
  for (const std::string& path : files) {
    std::ifstream in(path);
    if (!in) {
      std::cerr << "keelsim: cannot read " << path << "\n";
      return 2;
    }
    absl::Status added = merge.AddFile(path, in);
    if (!added.ok()) {
      std::cerr << "keelsim: " << added.message() << "\n";
      return 2;
    }
  }
  const std::vector<std::string> problems = merge.Problems(allow_mixed);
  const SweepReport& report = merge.report();
  for (const std::string& failure : report.failures()) std::cout << failure << "\n";
  std::cout << merge.SpeedLine() << "\n";
  std::cout << report.CoverageTable();
  if (report.failed() > 0) std::cout << report.FailuresByChecker() << "\n";
  std::cout << report.passed() << " passed, " << report.failed() << " failed\n";
  for (const std::string& problem : problems) std::cerr << "keelsim merge: " << problem << "\n";
  if (!problems.empty()) {
    std::cerr << "keelsim merge: not one complete sweep (" << problems.size() << " problem(s))\n";
    return 2;
  }
  if (!out_path.empty()) {
    std::ofstream out(out_path);
    out << merge.MergedFile();
    if (!out.flush()) {
      std::cerr << "keelsim: cannot write " << out_path << "\n";
      return 2;
    }
  }
  return report.failed() == 0 ? 0 : 1;
}

// `keelsim corpus replay`: every seed that ever failed (corpus.h) must pass now, with the
// fault schedule its entry keeps. Entries run in worker processes, grouped by bug-zoo
// entry (a worker runs one). Exit status: 0 all pass, 1 any fails, 2 a bad corpus.
int CorpusReplay(const std::string& dir, int jobs) {
  absl::StatusOr<std::vector<CorpusEntry>> entries = LoadCorpus(dir);
  if (!entries.ok()) {
    std::cerr << "keelsim corpus: " << entries.status().message() << "\n";
    return 2;
  }
  std::map<std::string, std::vector<const CorpusEntry*>> by_bug;
  for (const CorpusEntry& e : *entries) {
    RunOptions check;
    if (e.faults != "all" && !ParseFaultsFlag(e.faults, &check.keep_faults)) {
      std::cerr << "keelsim corpus: " << e.path << ": faults is all, none or I,J,...\n";
      return 2;
    }
    if (!e.bug.empty() && FindBug(e.bug) == nullptr) {
      std::cerr << "keelsim corpus: " << e.path << ": unknown bug '" << e.bug << "'\n";
      return 2;
    }
    by_bug[e.bug].push_back(&e);
  }
  size_t failed = 0;
  const auto start = std::chrono::steady_clock::now();
  for (const auto& [bug, group] : by_bug) {
    std::vector<std::string> items;
    std::map<std::string, const CorpusEntry*> entry_of;
    for (const CorpusEntry* e : group) {
      RunOptions options;
      options.seed = e->seed;
      if (e->faults != "all") (void)ParseFaultsFlag(e->faults, &options.keep_faults);
      items.push_back(WorkItem(options));
      entry_of[items.back()] = e;
    }
    absl::Status ran = RunInWorkers(Workers(bug, jobs), items, [&](const std::string& item, const WorkerOutcome& o) {
      const RunResult r = ResultOf(item, o);
      const CorpusEntry& e = *entry_of.at(item);
      if (r.ok) {
        std::cout << "ok   seed=" << e.seed << " (failed " << e.checker << " at " << e.found_at << ", fixed by "
                  << e.fixed_by << ") trace_hash=" << r.trace_hash << "\n";
      } else {
        ++failed;
        RunOptions replay;
        (void)ParseWorkItem(item, &replay);
        std::cout << "FAIL seed=" << e.seed << " " << e.path << " checker=" << r.checker << ": "
                  << r.message.substr(0, 300) << "\n  first failed " << e.checker << " at " << e.found_at
                  << ", fixed by " << e.fixed_by << "\n  replay: "
                  << ReplayCommand(e.seed, bug, replay.keep_faults.has_value() ? &*replay.keep_faults : nullptr) << "\n";
      }
      return true;
    });
    if (!ran.ok()) {
      std::cerr << "keelsim corpus: " << ran.message() << "\n";
      return 2;
    }
  }
  std::cout << absl::StrFormat("corpus: %d of %d seeds pass (%.1f s)\n", entries->size() - failed,
                               entries->size(), WallSeconds(start));
  return failed == 0 ? 0 : 1;
}

// Delta debugging (Zeller's ddmin) over the fault schedule and the membership requests:
// the smallest subset of both (1-minimal) with which the seed still fails with the same
// checker. Elements 0..F-1 are the F faults, F.. the membership requests by ordinal (the
// driver still decides every request, so dropping one changes what follows only through
// the cluster's state: a run stays deterministic for a given subset).
// Every trial runs in a worker process, so a seed that crashes (checker "crash") shrinks
// like any other failure.
int Shrink(uint64_t seed, const std::string& bug) {
  RunOptions options;
  options.seed = seed;
  options.bug = bug;
  const RunResult original = RunIsolated(options);
  const size_t fault_count = DescribeFaults(options).size();
  if (original.ok) {
    std::cout << "seed=" << seed << " passes: nothing to shrink\n";
    return 0;
  }
  auto requests_it = original.coverage.find("member.requests");
  const size_t request_count = requests_it == original.coverage.end() ? 0 : requests_it->second;
  std::cout << "seed=" << seed << " fails (" << original.checker << ") with " << fault_count
            << " faults and " << request_count << " membership requests; shrinking\n";
  std::vector<int> current(fault_count + request_count);
  for (size_t i = 0; i < current.size(); ++i) current[i] = static_cast<int>(i);
  // Splits a subset of elements into the faults and the request ordinals it keeps.
  auto apply = [&](const std::vector<int>& subset, RunOptions* o) {
    o->keep_faults.emplace();
    o->keep_member_requests.emplace();
    for (int e : subset) {
      if (e < static_cast<int>(fault_count)) {
        o->keep_faults->push_back(e);
      } else {
        o->keep_member_requests->push_back(e - static_cast<int>(fault_count));
      }
    }
    // A run without membership requests needs no list (and replays as before this flag).
    if (request_count == 0) o->keep_member_requests.reset();
  };
  int runs = 0;
  auto fails = [&](const std::vector<int>& subset) {
    RunOptions o = options;
    apply(subset, &o);
    ++runs;
    const RunResult r = RunIsolated(o);
    return !r.ok && r.checker == original.checker;
  };
  size_t granularity = 2;
  while (current.size() >= 2 && runs < 500) {
    const size_t chunk = (current.size() + granularity - 1) / granularity;
    bool reduced = false;
    for (size_t start = 0; start < current.size() && !reduced; start += chunk) {
      std::vector<int> complement;
      for (size_t i = 0; i < current.size(); ++i) {
        if (i < start || i >= start + chunk) complement.push_back(current[i]);
      }
      if (fails(complement)) {
        current = complement;
        granularity = std::max<size_t>(granularity - 1, 2);
        reduced = true;
      }
    }
    if (!reduced) {
      if (granularity >= current.size()) break;
      granularity = std::min(granularity * 2, current.size());
    }
  }
  if (current.size() == 1 && fails({})) current.clear();
  apply(current, &options);
  // Every schedule `current` held failed; this run reports its violation.
  const RunResult minimal = RunIsolated(options);
  const std::vector<std::string> descriptions = DescribeFaults(options);
  std::cout << "minimal fault schedule (" << options.keep_faults->size() << " of " << fault_count
            << " faults, " << runs << " runs):\n";
  for (size_t i = 0; i < descriptions.size(); ++i) {
    std::cout << "  [" << (*options.keep_faults)[i] << "] " << descriptions[i] << "\n";
  }
  if (options.keep_member_requests.has_value()) {
    std::cout << "membership requests kept (" << options.keep_member_requests->size() << " of " << request_count
              << "): " << FaultsFlag(*options.keep_member_requests) << "\n";
  }
  std::cout << "checker: " << minimal.checker << "\nviolation: " << minimal.message << "\n";
  std::cout << "replay: "
            << ReplayCommand(seed, bug, &*options.keep_faults,
                             options.keep_member_requests.has_value() ? &*options.keep_member_requests : nullptr)
            << "\n";
  return 1;
}

}  // namespace
}  // namespace keel::sim

int main(int argc, char** argv) {
  using namespace keel::sim;
  CLI::App app{"keelsim: deterministic simulation of whole Keel clusters"};
  app.require_subcommand(1);

  uint64_t seed = 0;
  std::string trace, bug, faults, requests, seeds = "1-100", shard, results;
  int jobs = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  bool stop_on_failure = false;
  std::vector<std::string> merge_files;

  CLI::App* run = app.add_subcommand("run", "run one seed and check it");
  run->add_option("--seed", seed, "the seed")->required();
  run->add_option("--trace", trace, "write the run's events as JSON lines to FILE");
  run->add_option("--bug", bug, "switch on a bug-zoo entry (see `keelsim bugs`)");
  run->add_option("--faults", faults, "replay with only these fault indices, or none (from shrink)");
  run->add_option("--requests", requests,
                  "send only these membership requests (ordinals), or none (from shrink)");
  bool no_buggify = false;
  run->add_flag("--no-buggify", no_buggify,
                "switch the core's BUGGIFY sites off (a different run: to see whether a "
                "failure needs them)");

  CLI::App* sweep = app.add_subcommand("sweep", "run a range of seeds");
  sweep->add_option("--seeds", seeds, "A-B, inclusive");
  sweep->add_option("--jobs", jobs, "parallel simulations");
  sweep->add_option("--bug", bug, "switch on a bug-zoo entry");
  sweep->add_option("--shard", shard, "K/N: only seeds with seed % N == K (for sharded sweeps)");
  sweep->add_option("--results", results, "write one JSON line per seed (mergeable)");
  sweep->add_flag("--stop-on-failure", stop_on_failure, "stop at the first failing seed");

  // Internal: a sweep's worker process (see worker_pool.h); hidden from --help.
  CLI::App* sweep_worker = app.add_subcommand("sweep-worker", "")->group("");
  sweep_worker->add_option("--bug", bug, "switch on a bug-zoo entry");

  CLI::App* merge = app.add_subcommand("merge", "combine --results files of sharded sweeps");
  merge->add_option("files", merge_files, "results files")->required();
  bool allow_mixed = false;
  std::string merge_out;
  merge->add_flag("--allow-mixed", allow_mixed,
                  "add up results of different commits, binaries or build flags");
  merge->add_option("--out", merge_out, "write the merged results (one file, seed order) to FILE");

  CLI::App* shrink = app.add_subcommand("shrink", "minimize the fault schedule of a failing seed");
  shrink->add_option("--seed", seed, "the failing seed")->required();
  shrink->add_option("--bug", bug, "the bug-zoo entry it failed with");

  CLI::App* corpus = app.add_subcommand("corpus", "the failure corpus (sim/corpus)");
  corpus->require_subcommand(1);
  CLI::App* corpus_replay = corpus->add_subcommand("replay", "run every seed that ever failed; all must pass");
  std::string corpus_dir = "sim/corpus";
  corpus_replay->add_option("--dir", corpus_dir, "the corpus directory");
  corpus_replay->add_option("--jobs", jobs, "parallel simulations");

  bool bug_table = false;
  app.add_subcommand("bugs", "list the bug zoo")
      ->add_flag("--table", bug_table, "name, seed bound and expected checkers, tab-separated");

  // Teaching tools (teach.h): a seed is run with its trace streamed into the tool.
  TeachArgs teach;
  uint64_t teach_seed = 0;
  auto add_source = [&](CLI::App* cmd) {
    CLI::Option* s = cmd->add_option("--seed", teach_seed, "run this seed");
    CLI::Option* t = cmd->add_option("--trace", teach.trace_path, "or read this JSON-lines trace");
    s->excludes(t);
    cmd->add_option("--bug", bug, "switch on a bug-zoo entry (with --seed)");
    cmd->add_option("--faults", faults, "only these fault indices (with --seed)");
    cmd->add_option("--from_ms", teach.from_ms, "start at this simulated time");
    cmd->add_option("--to_ms", teach.to_ms, "stop at this simulated time");
  };
  CLI::App* viz = app.add_subcommand("viz", "write a seed's run (or a trace) as one HTML page");
  add_source(viz);
  viz->add_option("--out", teach.out_path, "the HTML file to write")->required();
  viz->add_option("--max_events", teach.max_events, "bound on the events kept in the window");
  CLI::App* explain = app.add_subcommand("explain", "tell a seed's run (or a trace) as a story");
  add_source(explain);
  explain->add_option("--max_lines", teach.max_lines, "bound on the story's length");
  explain->add_flag("--follower_commits", teach.follower_commits,
                    "also tell when followers learn of commits");

  CLI11_PARSE(app, argc, argv);
  if (!bug.empty() && FindBug(bug) == nullptr) {
    std::cerr << "keelsim: unknown bug '" << bug << "' (see `keelsim bugs`)\n";
    return 2;
  }

  if (*run) return Run(seed, trace, bug, faults, requests, no_buggify);
  if (*sweep) return Sweep(seeds, jobs, bug, shard, results, stop_on_failure);
  if (*sweep_worker) return SweepWorker(bug);
  if (*merge) return Merge(merge_files, allow_mixed, merge_out);
  if (*shrink) return Shrink(seed, bug);
  if (*corpus_replay) return CorpusReplay(corpus_dir, jobs);
  if (*viz || *explain) {
    CLI::App* cmd = *viz ? viz : explain;
    if (cmd->count("--seed") > 0) {
      teach.seed = teach_seed;
    } else if (teach.trace_path.empty()) {
      std::cerr << "keelsim " << cmd->get_name() << ": give --seed=N or --trace=FILE\n";
      return 2;
    }
    teach.bug = bug;
    std::optional<std::vector<int>> keep;
    if (!ParseFaultsFlag(faults, &keep)) {
      std::cerr << "keelsim: --faults takes comma-separated fault indices, or none\n";
      return 2;
    }
    teach.have_faults = keep.has_value();
    if (keep.has_value()) teach.keep_faults = *keep;
    return *viz ? VizCommand(teach) : ExplainCommand(teach);
  }
  for (const BugInfo& b : BugZoo()) {
    std::cout << b.name;
    if (bug_table) std::cout << "\t" << b.bound << "\t" << b.caught_by;
    std::cout << "\n";
  }
  return 0;
}
