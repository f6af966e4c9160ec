// One record of a Keel JSON-lines trace (sim/trace.h, schema in papers/viz/TRACE_SCHEMA.md)
// and a parser for exactly that shape: a flat object whose "detail" is a flat object of
// integers, booleans and strings. Not a general JSON parser, on purpose: anything else in a
// trace is a bug worth an error.
#ifndef KEEL_PAPERS_EXPLAIN_TRACE_EVENT_H_
#define KEEL_PAPERS_EXPLAIN_TRACE_EVENT_H_

#include <cstdint>
#include <istream>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace keel::papers {

struct TraceValue {
  bool is_string = false;
  std::string str;    // when is_string
  int64_t num = 0;    // integers; booleans as 0/1
};

struct TraceEvent {
  int64_t t_ns = 0;
  uint64_t node = 0;
  std::string kind;
  std::map<std::string, TraceValue> detail;

  // Integer field, or `fallback` when absent or a string.
  int64_t Int(std::string_view key, int64_t fallback = 0) const;
  // String field, or "" when absent or not a string.
  std::string Str(std::string_view key) const;
};

absl::StatusOr<TraceEvent> ParseTraceLine(std::string_view line);

// Reads every non-empty line; fails on the first malformed one (naming its line number)
// or after `max_events` records (a bound on memory).
absl::StatusOr<std::vector<TraceEvent>> ReadTrace(std::istream& in, size_t max_events);

}  // namespace keel::papers

#endif  // KEEL_PAPERS_EXPLAIN_TRACE_EVENT_H_
