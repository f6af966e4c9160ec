#include "sim/keelsim/teach.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <ostream>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "papers/explain/story.h"
#include "papers/explain/trace_event.h"
#include "papers/viz/trace_viz.h"
#include "sim/cluster/runner.h"

namespace keel::sim {
namespace {

// `bazel run` starts us in the runfiles tree; relative paths mean the user's directory.
std::string UserPath(const std::string& path) {
  const char* cwd = std::getenv("BUILD_WORKING_DIRECTORY");
  if (cwd == nullptr || path.empty() || path[0] == '/') return path;
  return std::string(cwd) + "/" + path;
}

// Feeds every trace line of the seed's run (or of the file) to `on_line`, stopping at the
// first error it returns. Prints the run's summary for a seed.
absl::Status ForEachLine(const TeachArgs& args,
                         const std::function<absl::Status(std::string_view)>& on_line) {
  absl::Status first_error;
  auto guarded = [&](std::string_view line) {
    if (first_error.ok() && line.find_first_not_of(" \t\r") != std::string_view::npos) {
      first_error = on_line(line);
    }
  };
  if (!args.seed.has_value()) {
    std::ifstream in(UserPath(args.trace_path));
    if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", args.trace_path));
    std::string line;
    while (first_error.ok() && std::getline(in, line)) guarded(line);
    return first_error;
  }
  papers::LineSink sink(guarded);
  std::ostream trace(&sink);
  RunOptions options;
  options.seed = *args.seed;
  options.bug = args.bug;
  if (args.have_faults) options.keep_faults = args.keep_faults;
  options.trace = &trace;
  const RunResult r = RunSeed(options);
  trace.flush();
  sink.Flush();
  std::cerr << absl::StrCat("seed=", r.seed, " result=", r.ok ? "ok" : "FAIL",
                            r.ok ? "" : absl::StrCat(" checker=", r.checker),
                            " trace_hash=", r.trace_hash, " sim_s=", r.sim_seconds, "\n");
  return first_error;
}

std::string Source(const TeachArgs& args) {
  if (!args.seed.has_value()) return args.trace_path;
  return absl::StrCat("keelsim seed ", *args.seed, args.bug.empty() ? "" : " --bug=" + args.bug);
}

}  // namespace

int VizCommand(const TeachArgs& args) {
  if (args.out_path.empty()) {
    std::cerr << "keelsim viz: --out=FILE.html is required\n";
    return 2;
  }
  papers::VizOptions options;
  options.title = Source(args);
  options.from_ns = static_cast<int64_t>(args.from_ms * 1e6);
  if (args.to_ms >= 0) options.to_ns = static_cast<int64_t>(args.to_ms * 1e6);
  options.max_events = static_cast<size_t>(std::max<int64_t>(1, args.max_events));
  papers::VizPageBuilder page(options);
  absl::Status read = ForEachLine(args, [&](std::string_view line) { return page.AddLine(line); });
  if (!read.ok()) {
    std::cerr << "keelsim viz: " << read.message() << "\n";
    return 1;
  }
  const size_t kept = page.kept(), nodes = page.nodes();
  std::ofstream out(UserPath(args.out_path));
  out << page.Finish();
  out.close();
  if (!out) {
    std::cerr << "keelsim viz: cannot write " << args.out_path << "\n";
    return 1;
  }
  std::cout << "wrote " << args.out_path << ": " << kept << " events, " << nodes << " nodes\n";
  return 0;
}

int ExplainCommand(const TeachArgs& args) {
  papers::StoryOptions options;
  options.from_ns = static_cast<int64_t>(args.from_ms * 1e6);
  options.max_lines = static_cast<size_t>(std::max(1, args.max_lines));
  options.follower_commits = args.follower_commits;
  papers::StoryWriter story(options);
  papers::NodeRenamer renamer;
  const int64_t to_ns = args.to_ms >= 0 ? static_cast<int64_t>(args.to_ms * 1e6) : -1;
  absl::Status read = ForEachLine(args, [&](std::string_view line) -> absl::Status {
    if (!papers::StoryUsesKind(papers::PeekKind(line))) return absl::OkStatus();
    absl::StatusOr<papers::TraceEvent> ev = papers::ParseTraceLine(line);
    if (!ev.ok()) return ev.status();
    if (to_ns >= 0 && ev->t_ns > to_ns) return absl::OkStatus();
    renamer.Rename(&*ev);
    story.Add(*ev);
    return absl::OkStatus();
  });
  if (!read.ok()) {
    std::cerr << "keelsim explain: " << read.message() << "\n";
    return 1;
  }
  if (renamer.renumbered()) {
    std::cout << "(S1, S2, ... are the members n1, n2, ... of the cluster, in the order they "
                 "started)\n";
  }
  for (const std::string& line : story.Finish()) std::cout << line << "\n";
  return 0;
}

}  // namespace keel::sim
