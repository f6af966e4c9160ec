#include "papers/viz/trace_viz.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"

namespace keel::papers {

// viz_page.html, embedded by the genrule viz_page_cc (papers/BUILD.bazel).
extern const char kVizPageTemplate[];

namespace {

absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// A JSON string that is also safe inside <script>: '<' never appears raw, so neither
// "</script>" nor "<!--" can end or confuse the element.
void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
    } else if (c < 0x20 || c == '<' || c >= 0x7f) {
      absl::StrAppendFormat(out, "\\u%04x", c);
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
  out->push_back('"');
}

std::string HtmlEscape(std::string_view s) {
  return absl::StrReplaceAll(Absl(s),
                             {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}});
}

}  // namespace

bool VizUsesKind(std::string_view kind) {
  return StartsWith(kind, "raft.") || StartsWith(kind, "node.") || StartsWith(kind, "fig16.") ||
         StartsWith(kind, "client.") || StartsWith(kind, "fault") || StartsWith(kind, "phase.") ||
         kind == "net.block" || kind == "net.unblock" || kind == "net.heal" ||
         kind == "disk.fault" || kind == "disk.torn" || kind == "clock.rate" ||
         kind == "clock.jump";
}

VizPageBuilder::VizPageBuilder(VizOptions options) : options_(std::move(options)) {}

bool VizPageBuilder::IsStateKind(std::string_view kind) const {
  // What the page needs from before the window to draw its first frame right.
  return kind == "raft.state" || kind == "raft.append" || kind == "raft.snapshot" ||
         StartsWith(kind, "node.") || kind == "net.block" || kind == "net.unblock" ||
         kind == "net.heal" || kind == "disk.fault";
}

absl::Status VizPageBuilder::AddLine(std::string_view line) {
  if (!VizUsesKind(PeekKind(line))) return absl::OkStatus();
  absl::StatusOr<TraceEvent> ev = ParseTraceLine(line);
  if (!ev.ok()) return ev.status();
  Add(*std::move(ev));
  return absl::OkStatus();
}

void VizPageBuilder::Add(TraceEvent ev) {
  if (!VizUsesKind(ev.kind) || ev.t_ns > options_.to_ns) return;
  const bool before = ev.t_ns < options_.from_ns;
  if (before && !IsStateKind(ev.kind)) return;
  // Renamed in trace order, whether kept or not, so labels never depend on the window.
  renamer_.Rename(&ev);
  if (before ? kept_before_ >= options_.max_events : kept_in_window_ >= options_.max_events) {
    if (left_out_++ == 0) cut_at_ns_ = ev.t_ns;
    return;
  }
  ++(before ? kept_before_ : kept_in_window_);
  if (!before && first_ns_ < 0) first_ns_ = ev.t_ns;
  last_ns_ = std::max(last_ns_, ev.t_ns);
  if (ev.node != 0) nodes_[ev.node] = true;
  if (ev.kind == "raft.send" || StartsWith(ev.kind, "net.")) {
    for (const char* key : {"to", "from"}) {
      if (ev.Int(key) > 0) nodes_[static_cast<uint64_t>(ev.Int(key))] = true;
    }
  }
  if (!data_.empty()) data_.push_back(',');
  absl::StrAppend(&data_, "[", ev.t_ns, ",", ev.node, ",");
  AppendJsonString(&data_, ev.kind);
  data_.append(",{");
  bool first = true;
  for (const auto& [key, value] : ev.detail) {
    if (!first) data_.push_back(',');
    first = false;
    AppendJsonString(&data_, key);
    data_.push_back(':');
    if (value.is_string) {
      AppendJsonString(&data_, value.str);
    } else {
      absl::StrAppend(&data_, value.num);
    }
  }
  data_.append("}]");
}

std::string VizPageBuilder::Finish() {
  const char* prefix = renamer_.renumbered() ? "n" : "S";
  std::string nodes, labels;
  for (const auto& [id, unused] : nodes_) {
    absl::StrAppend(&nodes, nodes.empty() ? "" : ",", id);
    absl::StrAppend(&labels, labels.empty() ? "" : ",", "\"", id, "\":\"", prefix, id, "\"");
  }
  // The slider starts where the window does, or at the first event.
  const int64_t t0 = options_.from_ns > 0 ? options_.from_ns : std::max<int64_t>(first_ns_, 0);
  std::string data = absl::StrCat("{\"t0\":", t0, ",\"nodes\":[", nodes, "],\"labels\":{", labels,
                                  "},\"events\":[", data_, "]}");
  std::string note = absl::StrFormat(
      "%d events shown (%d servers), t = %.3f to %.3f ms; the page keeps at most %d events in "
      "its window plus the roles, logs and faults from before it.",
      kept(), nodes_.size(), t0 / 1e6, last_ns_ / 1e6, options_.max_events);
  if (left_out_ > 0) {
    absl::StrAppendFormat(&note,
                          " <b>Cut:</b> %d later events (from t = %.3f ms) are not shown; "
                          "choose another window with --from_ms / --to_ms.",
                          left_out_, cut_at_ns_ / 1e6);
  }
  if (renamer_.renumbered()) {
    absl::StrAppend(&note, " Members n1..n", nodes_.size(),
                    " are numbered in the order the cluster started them.");
  }
  return absl::StrReplaceAll(
      kVizPageTemplate,
      {{"__TITLE__", HtmlEscape(options_.title)}, {"__NOTE__", note}, {"__DATA__", data}});
}

}  // namespace keel::papers
