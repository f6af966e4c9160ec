// One record of a Keel JSON-lines trace (sim/trace.h, schema in papers/viz/TRACE_SCHEMA.md)
// and a parser for exactly that shape: a flat object whose "detail" is a flat object of
// integers, booleans and strings. Not a general JSON parser, on purpose: anything else in a
// trace is a bug worth an error.
#ifndef KEEL_PAPERS_EXPLAIN_TRACE_EVENT_H_
#define KEEL_PAPERS_EXPLAIN_TRACE_EVENT_H_

#include <cstdint>
#include <functional>
#include <streambuf>
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

// The "kind" of a trace line found by a substring search, without parsing it ("" if
// none): lets readers skip the many records they do not use (loop.*, disk.*) cheaply.
std::string_view PeekKind(std::string_view line);

// Small node ids for people. Figure-16 traces number servers 1..5; keelsim clusters name
// members by 64-bit ids. Ids up to kMaxSmallId are kept; larger ones become 1, 2, ... in
// order of first appearance (a keelsim cluster's members appear in member order, so
// member n<k> becomes k). Renames `node` and the integer detail fields that name nodes.
class NodeRenamer {
 public:
  static constexpr uint64_t kMaxSmallId = 64;
  void Rename(TraceEvent* ev);
  // True once any id was renumbered (a keelsim trace).
  bool renumbered() const { return !renamed_.empty(); }

 private:
  uint64_t Map(uint64_t id, bool may_add);
  std::map<uint64_t, uint64_t> renamed_;
};

// A std::streambuf that hands every complete line (without its '\n') to a callback: lets
// a simulation write its JSON trace straight into a reader, with no file and no copy of
// the whole trace in memory.
class LineSink final : public std::streambuf {
 public:
  explicit LineSink(std::function<void(std::string_view)> on_line)
      : on_line_(std::move(on_line)) {}
  // Passes on a last line without '\n'.
  void Flush();

 protected:
  int_type overflow(int_type c) override;
  std::streamsize xsputn(const char* s, std::streamsize n) override;

 private:
  std::function<void(std::string_view)> on_line_;
  std::string line_;
};

// Reads every non-empty line; fails on the first malformed one (naming its line number)
// or after `max_events` records (a bound on memory).
absl::StatusOr<std::vector<TraceEvent>> ReadTrace(std::istream& in, size_t max_events);

}  // namespace keel::papers

#endif  // KEEL_PAPERS_EXPLAIN_TRACE_EVENT_H_
