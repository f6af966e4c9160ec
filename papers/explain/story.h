// The story generator behind `keelsim explain`: turns trace events (schema:
// papers/viz/TRACE_SCHEMA.md) into a short narrative a student can follow, one line per
// decision that matters: election timers firing, votes granted or refused and why,
// elections won, leaders learned, entries committed and by whom, crashes and faults.
// Heartbeats and routine appends are left out; the trace has them.
#ifndef KEEL_PAPERS_EXPLAIN_STORY_H_
#define KEEL_PAPERS_EXPLAIN_STORY_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <string>
#include <vector>

#include "papers/explain/trace_event.h"

namespace keel::papers {

struct StoryOptions {
  // Lines about events before this time are not written (state is still tracked).
  int64_t from_ns = 0;
  // Also tell when followers learn that entries committed (noisy; off by default).
  bool follower_commits = false;
  // Bound on the story's length; a final line says how many were left out.
  size_t max_lines = 1000;
};

// `events` in trace order. Each line starts with "t=<ms>ms: ".
std::vector<std::string> ExplainTrace(const std::vector<TraceEvent>& events,
                                      const StoryOptions& options = {});

// The same, one event at a time (keelsim explain feeds it straight from a running
// simulation, so the whole trace is never held in memory).
class Storyteller;
class StoryWriter {
 public:
  explicit StoryWriter(const StoryOptions& options = {});
  ~StoryWriter();
  StoryWriter(const StoryWriter&) = delete;
  StoryWriter& operator=(const StoryWriter&) = delete;

  void Add(const TraceEvent& ev);
  // The story so far; call once, at the end.
  std::vector<std::string> Finish();

 private:
  std::unique_ptr<Storyteller> teller_;
};

// Kinds the story reads; a reader may drop every other record before parsing it.
bool StoryUsesKind(std::string_view kind);

}  // namespace keel::papers

#endif  // KEEL_PAPERS_EXPLAIN_STORY_H_
