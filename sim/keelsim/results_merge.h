// `keelsim merge`: adds up the results files of a sharded sweep (provenance.h for the file
// format) and says whether they make up one complete sweep of one build: every shard of
// every seed range present, every seed once, one commit and one binary. The totals
// (pass/fail, checker tally, coverage, speed) come from SweepReport.
#ifndef KEEL_SIM_KEELSIM_RESULTS_MERGE_H_
#define KEEL_SIM_KEELSIM_RESULTS_MERGE_H_

#include <cstdint>
#include <istream>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/status/status.h"
#include "sim/cluster/runner.h"
#include "sim/keelsim/provenance.h"
#include "sim/keelsim/sweep_report.h"

namespace keel::sim {

class ResultsMerge {
 public:
  // Reads one results file. Fails only on a line that is not JSON of a known kind; what
  // is missing or inconsistent is reported by Problems().
  absl::Status AddFile(const std::string& name, std::istream& in);

  // Why these files are not one complete sweep of one build, one line each: mixed
  // commits, binaries or build flags (left out with allow_mixed), different bug-zoo
  // entries, results without provenance, seeds outside their shard, shards that did not
  // finish, missing shards, missing seeds, duplicate seeds. Empty when complete.
  std::vector<std::string> Problems(bool allow_mixed) const;

  // The first result of each seed (a duplicate is a problem, never counted twice).
  const SweepReport& report() const { return report_; }
  // "speed: ..." over the shards: the sum of each shard's simulated seconds per wall
  // second (what the shards did together), total simulated and shard-wall seconds.
  std::string SpeedLine() const;
  // One merged results file: a provenance line for the whole set (shard 0/1 of the
  // smallest to the largest seed), one line per seed in seed order, a shard_done line.
  std::string MergedFile() const;

 private:
  // One provenance line and the results after it, up to the next provenance line.
  struct Part {
    std::string file;
    std::optional<Provenance> provenance;
    absl::btree_set<uint64_t> seeds;
    double sim_seconds = 0;
    std::optional<double> wall_seconds;  // from shard_done; unset if the shard did not finish
    bool stopped_early = false;
  };

  std::vector<Part> parts_;
  SweepReport report_;
  absl::btree_map<uint64_t, std::string> first_line_;    // seed -> its first result line
  absl::btree_map<uint64_t, RunResult> first_result_;    // seed -> its first result
  absl::btree_map<uint64_t, size_t> duplicates_;         // seed -> extra copies
  absl::btree_set<uint64_t> duplicates_differ_;          // ... whose verdict or hash differs
};

}  // namespace keel::sim

#endif  // KEEL_SIM_KEELSIM_RESULTS_MERGE_H_
