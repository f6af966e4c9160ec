// Where a results file came from: which commit and which binary ran which seeds. Every
// `keelsim sweep --results=FILE` starts its file with a provenance line and ends it with
// a shard-done line, so `keelsim merge` (results_merge.h) can tell a finished sweep from
// one with missing shards, and refuse to add up shards built from different commits.
//
//   {"provenance":{"format":1,"commit":"<sha>|unknown","tree":"clean|modified|unknown",
//     "binary_sha256":"<hex>","build":"mode=opt optimize=1 ndebug=1 sanitized=0",
//     "seeds":"A-B","shard":"K/N","bug":"","jobs":J,"host":"..."}}
//   {"seed":"7","ok":true,...}                       one line per seed (sweep_report.h)
//   {"shard_done":{"seeds_run":S,"wall_s":W,"stopped_early":false}}
#ifndef KEEL_SIM_KEELSIM_PROVENANCE_H_
#define KEEL_SIM_KEELSIM_PROVENANCE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace keel::sim {

struct Provenance {
  std::string commit;         // from the build's workspace status; "unknown" without git
  std::string tree;           // "clean", "modified" (uncommitted changes) or "unknown"
  std::string binary_sha256;  // of the keelsim executable that ran the seeds
  std::string build;          // compilation mode and the flags that change the code
  uint64_t first_seed = 0, last_seed = 0;
  uint64_t shard_index = 0, shard_count = 1;
  std::string bug;  // bug-zoo entry switched on, "" for none
  int jobs = 1;
  std::string host;

  // The seeds this shard is responsible for: those of [first, last] with
  // seed % shard_count == shard_index.
  bool Covers(uint64_t seed) const {
    return seed >= first_seed && seed <= last_seed && seed % shard_count == shard_index;
  }
  std::string ToJsonLine() const;
  // Parses the inner object of a provenance line (`{"provenance":{...}}`).
  static absl::StatusOr<Provenance> FromJsonLine(const std::string& line);
};

// The commit, tree state and build flags compiled into this binary.
Provenance BuildProvenance();

// SHA-256 (hex) of the running executable (/proc/self/exe), through OpenSSL.
absl::StatusOr<std::string> SelfSha256();

// A results file's last line: the shard ran to its end (or stopped on a failure).
std::string ShardDoneJsonLine(uint64_t seeds_run, double wall_s, bool stopped_early);

}  // namespace keel::sim

#endif  // KEEL_SIM_KEELSIM_PROVENANCE_H_
