// Tallies sweep results and moves them between machines: one JSON line per seed, so that
// shards of a sweep run by an external scheduler (Kubernetes indexed jobs, Slurm arrays)
// write their own files and `keelsim merge` adds them up.
#ifndef KEEL_SIM_KEELSIM_SWEEP_REPORT_H_
#define KEEL_SIM_KEELSIM_SWEEP_REPORT_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sim/cluster/runner.h"

namespace keel::sim {

class SweepReport {
 public:
  void Add(const RunResult& r);
  // Parses a line written by ToJsonLine. A seed seen twice (overlapping shards) counts once.
  absl::Status AddJsonLine(const std::string& line);
  static std::string ToJsonLine(const RunResult& r, const std::string& bug);
  // The fields of a RunResult that ToJsonLine writes (seed, verdict, checker, message,
  // trace_hash, simulated seconds, events).
  static absl::StatusOr<RunResult> FromJsonLine(const std::string& line);

  size_t passed() const { return passed_; }
  size_t failed() const { return failures_.size(); }
  double sim_seconds() const { return sim_seconds_; }
  // "FAIL seed=N checker=X: message", one per failing seed, in seed order.
  std::vector<std::string> failures() const;
  // "failures by checker: crash=3 election-safety=12", or "" without failures: what a
  // large sweep found, at a glance.
  std::string FailuresByChecker() const;
  // The coverage of RunResult::coverage over the sweep, as a Markdown table: one row per
  // name (total count, seeds in which it was non-zero), grouped by prefix (raft., fault.,
  // net., disk., server., buggify.). The Raft paths and the fault kinds the swarm draws
  // are listed even when nothing fired them, so a gap shows as a 0 rather than a
  // missing row. "" for an empty report.
  std::string CoverageTable() const;

 private:
  void Record(const RunResult& r);

  absl::btree_set<uint64_t> seen_;
  size_t passed_ = 0;
  absl::btree_set<std::pair<uint64_t, std::string>> failures_;
  absl::btree_map<std::string, size_t> failures_by_checker_;
  double sim_seconds_ = 0;
  size_t seeds_ = 0;
  // coverage name -> (total count, seeds in which it was non-zero)
  absl::btree_map<std::string, std::pair<uint64_t, size_t>> coverage_;
};

}  // namespace keel::sim

#endif  // KEEL_SIM_KEELSIM_SWEEP_REPORT_H_
