// The trace visualizer: turns a Keel JSON-lines trace (schema: TRACE_SCHEMA.md) into one
// self-contained HTML page, RaftScope style: servers on a ring with role, term, log and
// commit index; messages in flight; crashes, pauses, blocked links and disk faults; a
// time slider with play/pause and step. No network is needed to open the page.
//
// The page's HTML/CSS/JS is viz_page.html, embedded at build time (papers/BUILD.bazel);
// this library only selects the events, renames nodes and writes the data.
//
// Streaming: events are added one at a time in trace order and only the kept ones are
// stored (as compact JSON), so `keelsim viz --seed=N` never holds the whole trace.
// Bounded: at most `max_events` events inside the time window, and as many state events
// (roles, logs, faults) from before it; the page says what was left out.
#ifndef KEEL_PAPERS_VIZ_TRACE_VIZ_H_
#define KEEL_PAPERS_VIZ_TRACE_VIZ_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "papers/explain/trace_event.h"

namespace keel::papers {

struct VizOptions {
  std::string title = "Keel trace";
  // Time window shown by the slider. State before `from_ns` (roles, logs, faults) is
  // still replayed so the first frame is right.
  int64_t from_ns = 0;
  int64_t to_ns = std::numeric_limits<int64_t>::max();
  // Bound on the events kept inside the window (the page replays them in the browser).
  size_t max_events = 200'000;
};

// Kinds the page draws or lists; everything else (loop.*, disk.append, net.send...) is
// dropped.
bool VizUsesKind(std::string_view kind);

class VizPageBuilder {
 public:
  explicit VizPageBuilder(VizOptions options);

  // One trace line / event, in trace order. Lines of kinds the page does not use are
  // skipped without parsing; a malformed kept line is an error.
  absl::Status AddLine(std::string_view line);
  void Add(TraceEvent ev);

  // The page. Call once.
  std::string Finish();

  size_t kept() const { return kept_in_window_ + kept_before_; }
  size_t nodes() const { return nodes_.size(); }

 private:
  bool IsStateKind(std::string_view kind) const;

  const VizOptions options_;
  NodeRenamer renamer_;
  std::string data_;  // the events array's elements, comma separated
  std::map<uint64_t, bool> nodes_;
  size_t kept_in_window_ = 0;
  size_t kept_before_ = 0;
  size_t left_out_ = 0;     // in the window, beyond max_events
  int64_t cut_at_ns_ = -1;  // time of the first event left out
  int64_t first_ns_ = -1;
  int64_t last_ns_ = 0;
};

}  // namespace keel::papers

#endif  // KEEL_PAPERS_VIZ_TRACE_VIZ_H_
