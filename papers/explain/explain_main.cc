// explain: prints the story of a JSON-lines trace (what `keelsim explain` will print).
//   bazel run //papers:explain_cli -- TRACE.jsonl [--from_ms=N] [--max_lines=N]
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "papers/explain/story.h"

ABSL_FLAG(double, from_ms, 0, "Start the story at this simulated time.");
ABSL_FLAG(int, max_lines, 1000, "Bound on the number of lines.");
ABSL_FLAG(bool, follower_commits, false, "Also tell when followers learn of commits.");

int main(int argc, char** argv) {
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() != 2) {
    std::cerr << "usage: explain TRACE.jsonl [--from_ms=N] [--max_lines=N]\n";
    return 2;
  }
  std::string path = args[1];
  const char* cwd = std::getenv("BUILD_WORKING_DIRECTORY");  // Set by `bazel run`.
  if (cwd != nullptr && !path.empty() && path[0] != '/') path = std::string(cwd) + "/" + path;
  std::ifstream in(path);
  if (!in) {
    std::cerr << "cannot open " << path << "\n";
    return 1;
  }
  absl::StatusOr<std::vector<keel::papers::TraceEvent>> events =
      keel::papers::ReadTrace(in, /*max_events=*/size_t{1} << 24);
  if (!events.ok()) {
    std::cerr << path << ": " << events.status() << "\n";
    return 1;
  }
  keel::papers::StoryOptions options;
  options.from_ns = static_cast<int64_t>(absl::GetFlag(FLAGS_from_ms) * 1e6);
  options.max_lines = static_cast<size_t>(std::max(1, absl::GetFlag(FLAGS_max_lines)));
  options.follower_commits = absl::GetFlag(FLAGS_follower_commits);
  for (const std::string& line : keel::papers::ExplainTrace(*events, options)) {
    std::cout << line << "\n";
  }
  return 0;
}
