// viz: a JSON-lines trace -> one self-contained HTML page (what `keelsim viz` writes).
//   bazel run //papers:viz -- TRACE.jsonl OUT.html [--title=T] [--from_ms=A] [--to_ms=B]
//                                                  [--max_events=N]
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <limits>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "papers/viz/trace_viz.h"

ABSL_FLAG(std::string, title, "Keel trace", "Page title.");
ABSL_FLAG(double, from_ms, 0, "Start of the time window (simulated ms).");
ABSL_FLAG(double, to_ms, -1, "End of the time window (simulated ms); -1 = end of trace.");
ABSL_FLAG(int64_t, max_events, 200'000, "Bound on the events kept in the window.");

namespace {

// `bazel run` starts us in the runfiles tree; relative paths mean the user's directory.
std::string UserPath(std::string path) {
  const char* cwd = std::getenv("BUILD_WORKING_DIRECTORY");
  if (cwd != nullptr && !path.empty() && path[0] != '/') path = std::string(cwd) + "/" + path;
  return path;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() != 3) {
    std::cerr << "usage: viz TRACE.jsonl OUT.html [--title=T] [--from_ms=A] [--to_ms=B] "
                 "[--max_events=N]\n";
    return 2;
  }
  const std::string in_path = UserPath(args[1]), out_path = UserPath(args[2]);
  std::ifstream in(in_path);
  if (!in) {
    std::cerr << "cannot open " << in_path << "\n";
    return 1;
  }
  keel::papers::VizOptions options;
  options.title = absl::GetFlag(FLAGS_title) + " - " + in_path.substr(in_path.rfind('/') + 1);
  options.from_ns = static_cast<int64_t>(absl::GetFlag(FLAGS_from_ms) * 1e6);
  if (absl::GetFlag(FLAGS_to_ms) >= 0) {
    options.to_ns = static_cast<int64_t>(absl::GetFlag(FLAGS_to_ms) * 1e6);
  }
  options.max_events = static_cast<size_t>(std::max<int64_t>(1, absl::GetFlag(FLAGS_max_events)));
  keel::papers::VizPageBuilder page(options);
  std::string line;
  for (size_t line_no = 1; std::getline(in, line); ++line_no) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    absl::Status added = page.AddLine(line);
    if (!added.ok()) {
      std::cerr << in_path << ":" << line_no << ": " << added.message() << "\n";
      return 1;
    }
  }
  const size_t kept = page.kept(), nodes = page.nodes();
  std::ofstream out(out_path);
  out << page.Finish();
  out.close();
  if (!out) {
    std::cerr << "cannot write " << out_path << "\n";
    return 1;
  }
  std::cout << "wrote " << out_path << ": " << kept << " events, " << nodes << " nodes\n";
  return 0;
}
