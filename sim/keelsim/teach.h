// keelsim's teaching subcommands: `viz` (a seed or a trace file -> one HTML page) and
// `explain` (a seed or a trace file -> the story of the run). A seed is run here with its
// trace streamed line by line into the page builder or the storyteller
// (papers/viz, papers/explain): no trace file, and never the whole trace in memory.
#ifndef KEEL_SIM_KEELSIM_TEACH_H_
#define KEEL_SIM_KEELSIM_TEACH_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace keel::sim {

struct TeachArgs {
  std::optional<uint64_t> seed;  // run this seed...
  std::string trace_path;        // ...or read this trace file
  std::string bug;
  std::vector<int> keep_faults;  // --faults (shrunk schedules); empty: all
  bool have_faults = false;
  double from_ms = 0;
  double to_ms = -1;  // -1: to the end
  // viz
  std::string out_path;
  int64_t max_events = 200'000;
  // explain
  int max_lines = 1000;
  bool follower_commits = false;
};

// Both print their own errors; return a process exit code.
int VizCommand(const TeachArgs& args);
int ExplainCommand(const TeachArgs& args);

}  // namespace keel::sim

#endif  // KEEL_SIM_KEELSIM_TEACH_H_
