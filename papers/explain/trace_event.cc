#include "papers/explain/trace_event.h"

#include <cctype>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace keel::papers {
namespace {

// Debian's Abseil has its own string_view type, distinct from std::string_view.
absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// A cursor over one line; every method returns false on malformed input.
class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}

  void SkipSpace() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  bool Eat(char c) {
    SkipSpace();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool Peek(char c) {
    SkipSpace();
    return i_ < s_.size() && s_[i_] == c;
  }
  bool AtEnd() {
    SkipSpace();
    return i_ == s_.size();
  }

  bool String(std::string* out) {
    if (!Eat('"')) return false;
    out->clear();
    while (i_ < s_.size()) {
      char c = s_[i_++];
      if (c == '"') return true;
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (i_ >= s_.size()) return false;
      char e = s_[i_++];
      switch (e) {
        case '"': case '\\': case '/': out->push_back(e); break;
        case 'n': out->push_back('\n'); break;
        case 't': out->push_back('\t'); break;
        case 'r': out->push_back('\r'); break;
        case 'b': out->push_back('\b'); break;
        case 'f': out->push_back('\f'); break;
        case 'u': {
          // Trace strings are ASCII; \u00XX is how control bytes are escaped.
          uint32_t code = 0;
          if (i_ + 4 > s_.size() || !absl::SimpleHexAtoi(Absl(s_.substr(i_, 4)), &code)) return false;
          i_ += 4;
          if (code > 0x7f) return false;
          out->push_back(static_cast<char>(code));
          break;
        }
        default: return false;
      }
    }
    return false;
  }

  bool Scalar(TraceValue* v) {
    SkipSpace();
    if (Peek('"')) {
      v->is_string = true;
      return String(&v->str);
    }
    size_t start = i_;
    while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '-')) {
      ++i_;
    }
    std::string_view word = s_.substr(start, i_ - start);
    if (word == "true" || word == "false") {
      v->num = word == "true";
      return true;
    }
    if (absl::SimpleAtoi(Absl(word), &v->num)) return true;
    uint64_t u = 0;  // Values above INT64_MAX (hashes) keep their bits.
    if (absl::SimpleAtoi(Absl(word), &u)) {
      v->num = static_cast<int64_t>(u);
      return true;
    }
    return false;
  }

 private:
  std::string_view s_;
  size_t i_ = 0;
};

absl::Status Malformed(std::string_view line) {
  return absl::InvalidArgumentError(absl::StrCat("malformed trace record: ", Absl(line.substr(0, 120))));
}

}  // namespace

int64_t TraceEvent::Int(std::string_view key, int64_t fallback) const {
  auto it = detail.find(std::string(key));
  return it == detail.end() || it->second.is_string ? fallback : it->second.num;
}

std::string TraceEvent::Str(std::string_view key) const {
  auto it = detail.find(std::string(key));
  return it == detail.end() || !it->second.is_string ? "" : it->second.str;
}

absl::StatusOr<TraceEvent> ParseTraceLine(std::string_view line) {
  Cursor c(line);
  TraceEvent ev;
  bool have_t = false, have_kind = false;
  if (!c.Eat('{')) return Malformed(line);
  for (int field = 0; !c.Eat('}'); ++field) {
    if (field > 0 && !c.Eat(',')) return Malformed(line);
    std::string key;
    if (!c.String(&key) || !c.Eat(':')) return Malformed(line);
    if (key == "detail") {
      if (!c.Eat('{')) return Malformed(line);
      for (int d = 0; !c.Eat('}'); ++d) {
        std::string k;
        TraceValue v;
        if ((d > 0 && !c.Eat(',')) || !c.String(&k) || !c.Eat(':') || !c.Scalar(&v)) {
          return Malformed(line);
        }
        ev.detail[k] = std::move(v);
      }
      continue;
    }
    TraceValue v;
    if (!c.Scalar(&v)) return Malformed(line);
    if (key == "t_ns" && !v.is_string) {
      ev.t_ns = v.num;
      have_t = true;
    } else if (key == "node" && !v.is_string) {
      ev.node = static_cast<uint64_t>(v.num);
    } else if (key == "kind" && v.is_string) {
      ev.kind = v.str;
      have_kind = true;
    }
  }
  if (!c.AtEnd() || !have_t || !have_kind) return Malformed(line);
  return ev;
}

absl::StatusOr<std::vector<TraceEvent>> ReadTrace(std::istream& in, size_t max_events) {
  std::vector<TraceEvent> events;
  std::string line;
  for (size_t line_no = 1; std::getline(in, line); ++line_no) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (events.size() >= max_events) {
      return absl::ResourceExhaustedError(absl::StrCat("more than ", max_events, " events"));
    }
    absl::StatusOr<TraceEvent> ev = ParseTraceLine(line);
    if (!ev.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("line ", line_no, ": ", ev.status().message()));
    }
    events.push_back(std::move(*ev));
  }
  return events;
}

std::string_view PeekKind(std::string_view line) {
  constexpr std::string_view kKey = "\"kind\":\"";
  const size_t at = line.find(kKey);
  if (at == std::string_view::npos) return "";
  const size_t start = at + kKey.size();
  const size_t end = line.find('"', start);
  return end == std::string_view::npos ? "" : line.substr(start, end - start);
}

uint64_t NodeRenamer::Map(uint64_t id, bool may_add) {
  if (id <= kMaxSmallId) return id;
  auto it = renamed_.find(id);
  if (it != renamed_.end()) return it->second;
  if (!may_add) return id;
  const uint64_t small = renamed_.size() + 1;
  renamed_.emplace(id, small);
  return small;
}

void NodeRenamer::Rename(TraceEvent* ev) {
  ev->node = Map(ev->node, /*may_add=*/true);
  // Only values already known as nodes: other integers (indexes, hashes) stay as they are.
  for (const char* key : {"to", "from", "lead", "vote", "leader", "victim", "node"}) {
    auto it = ev->detail.find(key);
    if (it == ev->detail.end() || it->second.is_string) continue;
    it->second.num = static_cast<int64_t>(Map(static_cast<uint64_t>(it->second.num), false));
  }
}

void LineSink::Flush() {
  if (line_.empty()) return;
  on_line_(line_);
  line_.clear();
}

LineSink::int_type LineSink::overflow(int_type c) {
  if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
  const char ch = traits_type::to_char_type(c);
  if (ch == '\n') {
    on_line_(line_);
    line_.clear();
  } else {
    line_.push_back(ch);
  }
  return c;
}

std::streamsize LineSink::xsputn(const char* s, std::streamsize n) {
  std::string_view rest(s, static_cast<size_t>(n));
  for (size_t nl = rest.find('\n'); nl != std::string_view::npos; nl = rest.find('\n')) {
    line_.append(rest.data(), nl);
    on_line_(line_);
    line_.clear();
    rest.remove_prefix(nl + 1);
  }
  line_.append(rest.data(), rest.size());
  return n;
}

}  // namespace keel::papers
