// The failure corpus (sim/corpus/, format in sim/corpus/README.md): one file per seed that
// ever failed a keelsim run, with what failed, the fix, and the fault schedule to replay.
// `keelsim corpus replay` runs every entry and fails if any of them fails again.
#ifndef KEEL_SIM_KEELSIM_CORPUS_H_
#define KEEL_SIM_KEELSIM_CORPUS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace keel::sim {

struct CorpusEntry {
  std::string path;
  uint64_t seed = 0;
  std::string checker;   // the checker that failed when it was found
  std::string found_at;  // the commit (or range) at which it failed
  std::string fixed_by;  // the commit that fixed it
  std::string faults;    // "all" (the seed's own schedule), "none", or indices "I,J" (shrunk)
  std::string bug;       // a bug-zoo entry to switch on, "" for Keel's own code (the usual)
  std::string what;      // the failure, in one paragraph
  std::string fix;       // the fix, in one paragraph
};

// Parses one corpus file: `key: value` lines, '#' comments, blank lines ignored; a value
// continues on following lines indented by two spaces. Unknown keys and missing required
// ones (seed, checker, found_at, fixed_by, faults, what, fix) are errors.
absl::StatusOr<CorpusEntry> ParseCorpusEntry(const std::string& path, const std::string& text);

// Every `*.seed` file of a directory, in file-name order.
absl::StatusOr<std::vector<CorpusEntry>> LoadCorpus(const std::string& dir);

}  // namespace keel::sim

#endif  // KEEL_SIM_KEELSIM_CORPUS_H_
