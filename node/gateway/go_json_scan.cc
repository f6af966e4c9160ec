#include "node/gateway/go_json_scan.h"

#include <cstdio>
#include <vector>

namespace keel::node::gateway {
namespace {

// Go's quoteChar (encoding/json/scanner.go): the byte as strconv.Quote prints the rune
// of the same value, between single quotes.
std::string QuoteChar(unsigned char c) {
  if (c == '\'') return "'\\''";
  if (c == '"') return "'\"'";
  char buf[16];
  switch (c) {
    case '\a': return "'\\a'";
    case '\b': return "'\\b'";
    case '\f': return "'\\f'";
    case '\n': return "'\\n'";
    case '\r': return "'\\r'";
    case '\t': return "'\\t'";
    case '\v': return "'\\v'";
    case '\\': return "'\\\\'";
    default: break;
  }
  if (c < 0x20 || c == 0x7f) {
    std::snprintf(buf, sizeof(buf), "'\\x%02x'", c);
  } else if (c < 0x7f) {
    std::snprintf(buf, sizeof(buf), "'%c'", c);
  } else if (c < 0xa0 || c == 0xad) {
    std::snprintf(buf, sizeof(buf), "'\\u%04x'", c);  // not printable in Go's unicode tables
  } else {
    // U+00A0..U+00FF, printable: UTF-8 in two bytes.
    std::snprintf(buf, sizeof(buf), "'%c%c'", static_cast<char>(0xc0 | (c >> 6)),
                  static_cast<char>(0x80 | (c & 0x3f)));
  }
  return buf;
}

std::string Invalid(unsigned char c, const char* context) {
  return "invalid character " + QuoteChar(c) + " " + context;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsHex(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// One value starting at body[*pos] (not whitespace). On success *pos is just past it.
// Returns "" or Go's error ("unexpected EOF" when the body ends inside the value).
class ValueScanner {
 public:
  explicit ValueScanner(std::string_view body) : s_(body) {}

  std::string Scan(size_t* pos) {
    p_ = *pos;
    std::string error = Value(0);
    *pos = p_;
    return error;
  }

 private:
  bool AtEnd() const { return p_ >= s_.size(); }
  void SkipSpace() {
    while (!AtEnd() && IsSpace(s_[p_])) ++p_;
  }

  std::string Value(int depth) {
    if (depth > kMaxJsonDepth) return "exceeded max depth";
    SkipSpace();
    if (AtEnd()) return kEof;
    const char c = s_[p_];
    if (c == '{') return Object(depth + 1);
    if (c == '[') return Array(depth + 1);
    if (c == '"') return String();
    if (c == '-' || IsDigit(c)) return Number();
    if (c == 't') return Literal("true");
    if (c == 'f') return Literal("false");
    if (c == 'n') return Literal("null");
    return Invalid(c, "looking for beginning of value");
  }

  std::string Object(int depth) {
    ++p_;  // '{'
    SkipSpace();
    if (AtEnd()) return kEof;
    if (s_[p_] == '}') {
      ++p_;
      return "";
    }
    // Bounded: each pass consumes one key:value pair.
    while (true) {
      SkipSpace();
      if (AtEnd()) return kEof;
      if (s_[p_] != '"') return Invalid(s_[p_], "looking for beginning of object key string");
      if (std::string e = String(); !e.empty()) return e;
      SkipSpace();
      if (AtEnd()) return kEof;
      if (s_[p_] != ':') return Invalid(s_[p_], "after object key");
      ++p_;
      if (std::string e = Value(depth); !e.empty()) return e;
      SkipSpace();
      if (AtEnd()) return kEof;
      if (s_[p_] == '}') {
        ++p_;
        return "";
      }
      if (s_[p_] != ',') return Invalid(s_[p_], "after object key:value pair");
      ++p_;
    }
  }

  std::string Array(int depth) {
    ++p_;  // '['
    SkipSpace();
    if (AtEnd()) return kEof;
    if (s_[p_] == ']') {
      ++p_;
      return "";
    }
    // Bounded: each pass consumes one element.
    while (true) {
      if (std::string e = Value(depth); !e.empty()) return e;
      SkipSpace();
      if (AtEnd()) return kEof;
      if (s_[p_] == ']') {
        ++p_;
        return "";
      }
      if (s_[p_] != ',') return Invalid(s_[p_], "after array element");
      ++p_;
    }
  }

  std::string String() {
    ++p_;  // '"'
    while (!AtEnd()) {
      const unsigned char c = s_[p_++];
      if (c == '"') return "";
      if (c < 0x20) return Invalid(c, "in string literal");
      if (c != '\\') continue;
      if (AtEnd()) return kEof;
      const char e = s_[p_++];
      if (e == 'u') {
        for (int i = 0; i < 4; ++i) {
          if (AtEnd()) return kEof;
          if (!IsHex(s_[p_])) return Invalid(s_[p_], "in \\u hexadecimal character escape");
          ++p_;
        }
      } else if (std::string_view("bfnrt\\/\"").find(e) == std::string_view::npos) {
        return Invalid(e, "in string escape code");
      }
    }
    return kEof;
  }

  std::string Number() {
    if (s_[p_] == '-') {
      ++p_;
      if (AtEnd()) return kEof;
      if (!IsDigit(s_[p_])) return Invalid(s_[p_], "in numeric literal");
    }
    if (s_[p_] == '0') {
      ++p_;
    } else {
      while (!AtEnd() && IsDigit(s_[p_])) ++p_;
    }
    if (!AtEnd() && s_[p_] == '.') {
      ++p_;
      if (AtEnd()) return kEof;
      if (!IsDigit(s_[p_])) return Invalid(s_[p_], "after decimal point in numeric literal");
      while (!AtEnd() && IsDigit(s_[p_])) ++p_;
    }
    if (!AtEnd() && (s_[p_] == 'e' || s_[p_] == 'E')) {
      ++p_;
      if (!AtEnd() && (s_[p_] == '+' || s_[p_] == '-')) ++p_;
      if (AtEnd()) return kEof;
      if (!IsDigit(s_[p_])) return Invalid(s_[p_], "in exponent of numeric literal");
      while (!AtEnd() && IsDigit(s_[p_])) ++p_;
    }
    return "";
  }

  std::string Literal(std::string_view word) {
    ++p_;  // first letter, already matched
    for (size_t i = 1; i < word.size(); ++i) {
      if (AtEnd()) return kEof;
      if (s_[p_] != word[i]) {
        const std::string context =
            "in literal " + std::string(word) + " (expecting " + QuoteChar(word[i]) + ")";
        return Invalid(s_[p_], context.c_str());
      }
      ++p_;
    }
    return "";
  }

  static constexpr char kEof[] = "unexpected EOF";
  std::string_view s_;
  size_t p_ = 0;
};

}  // namespace

JsonScan ScanJsonValues(std::string_view body, size_t max_values) {
  JsonScan scan;
  ValueScanner scanner(body);
  size_t pos = 0;
  // Bounded: each pass consumes one value (or stops).
  while (scan.values.size() < max_values) {
    while (pos < body.size() && IsSpace(body[pos])) ++pos;
    if (pos >= body.size()) break;  // io.EOF: no more values
    const size_t start = pos;
    scan.error = scanner.Scan(&pos);
    if (!scan.error.empty()) break;
    scan.values.push_back(body.substr(start, pos - start));
  }
  return scan;
}

}  // namespace keel::node::gateway
