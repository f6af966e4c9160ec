#include "client/keelctl/txn_parse.h"

#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "client/txn.h"

namespace keel::client::keelctl {

std::vector<std::string> Argify(absl::string_view line) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i >= line.size()) break;
    std::string arg;
    // One argument: runs of unquoted and quoted text until whitespace.
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') {
      char c = line[i];
      if (c == '"' || c == '\'') {
        ++i;
        while (i < line.size() && line[i] != c) {
          if (c == '"' && line[i] == '\\' && i + 1 < line.size()) {
            ++i;
            char e = line[i];
            arg += e == 'n' ? '\n' : e == 't' ? '\t' : e;
          } else {
            arg += line[i];
          }
          ++i;
        }
        ++i;  // closing quote
      } else {
        arg += c;
        ++i;
      }
    }
    out.push_back(arg);
  }
  return out;
}

namespace {

// Reads a Go %q-quoted string at the start of `s`; advances `s` past it.
bool ReadQuoted(absl::string_view& s, std::string* out) {
  s = absl::StripLeadingAsciiWhitespace(s);
  if (s.empty() || s[0] != '"') return false;
  size_t i = 1;
  out->clear();
  while (i < s.size() && s[i] != '"') {
    if (s[i] == '\\' && i + 1 < s.size()) {
      ++i;
      *out += s[i] == 'n' ? '\n' : s[i] == 't' ? '\t' : s[i];
    } else {
      *out += s[i];
    }
    ++i;
  }
  if (i >= s.size()) return false;
  s.remove_prefix(i + 1);
  return true;
}

absl::Status Malformed(absl::string_view line) {
  return absl::InvalidArgumentError(absl::StrCat("malformed comparison: ", line));
}

}  // namespace

absl::StatusOr<etcdserverpb::Compare> ParseCompare(absl::string_view line) {
  size_t lparen = line.find('(');
  if (lparen == absl::string_view::npos) return Malformed(line);
  std::string target(line.substr(0, lparen));
  absl::string_view rest = line.substr(lparen + 1);
  std::string key, value;
  if (!ReadQuoted(rest, &key) || rest.empty() || rest[0] != ')') return Malformed(line);
  rest.remove_prefix(1);
  rest = absl::StripLeadingAsciiWhitespace(rest);
  size_t space = rest.find(' ');
  if (space == absl::string_view::npos) return Malformed(line);
  std::string op(rest.substr(0, space));
  rest.remove_prefix(space);
  if (!ReadQuoted(rest, &value)) return Malformed(line);

  etcdserverpb::Compare::CompareResult result;
  if (op == "=") result = etcdserverpb::Compare::EQUAL;
  else if (op == "!=") result = etcdserverpb::Compare::NOT_EQUAL;
  else if (op == "<") result = etcdserverpb::Compare::LESS;
  else if (op == ">") result = etcdserverpb::Compare::GREATER;
  else return absl::InvalidArgumentError(absl::StrCat("malformed comparison: ", line, " (unknown op ", op, ")"));

  etcdserverpb::Compare::CompareTarget kind;
  if (target == "ver" || target == "version") kind = etcdserverpb::Compare::VERSION;
  else if (target == "c" || target == "create") kind = etcdserverpb::Compare::CREATE;
  else if (target == "m" || target == "mod") kind = etcdserverpb::Compare::MOD;
  else if (target == "val" || target == "value") kind = etcdserverpb::Compare::VALUE;
  else if (target == "lease") kind = etcdserverpb::Compare::LEASE;
  else return absl::InvalidArgumentError(absl::StrCat("malformed comparison: ", line, " (unknown target ", target, ")"));

  CompareTarget t(kind, key);
  if (kind == etcdserverpb::Compare::VALUE) return t.Make(result, std::string_view(value));
  int64_t number = 0;
  bool parsed = kind == etcdserverpb::Compare::LEASE
                    ? absl::SimpleHexAtoi(value, &number)
                    : absl::SimpleAtoi(value, &number);
  if (!parsed) return absl::InvalidArgumentError(absl::StrCat("invalid txn compare request: ", line));
  return t.Make(result, number);
}

absl::StatusOr<etcdserverpb::RequestOp> ParseRequestOp(absl::string_view line) {
  std::vector<std::string> args = Argify(line);
  auto invalid = [&] { return absl::InvalidArgumentError(absl::StrCat("invalid txn request: ", line)); };
  if (args.empty()) return invalid();
  std::vector<std::string> positional;
  bool prefix = false, prev_kv = false, from_key = false, keys_only = false, count_only = false;
  int64_t lease = 0, limit = 0, revision = 0;
  for (size_t i = 1; i < args.size(); ++i) {
    absl::string_view a = args[i];
    if (a == "--prefix") prefix = true;
    else if (a == "--prev-kv") prev_kv = true;
    else if (a == "--from-key") from_key = true;
    else if (a == "--keys-only") keys_only = true;
    else if (a == "--count-only") count_only = true;
    else if (absl::StartsWith(a, "--lease=")) { if (!absl::SimpleHexAtoi(a.substr(8), &lease)) return invalid(); }
    else if (absl::StartsWith(a, "--limit=")) { if (!absl::SimpleAtoi(a.substr(8), &limit)) return invalid(); }
    else if (absl::StartsWith(a, "--rev=")) { if (!absl::SimpleAtoi(a.substr(6), &revision)) return invalid(); }
    else if (absl::StartsWith(a, "--")) return invalid();
    else positional.push_back(args[i]);
  }
  const std::string& verb = args[0];
  auto range_end = [&]() -> std::string {
    if (prefix) return PrefixRangeEnd(positional[0]);
    if (from_key) return std::string(1, '\0');
    return positional.size() > 1 ? positional[1] : "";
  };
  if (verb == "put") {
    if (positional.size() != 2) return invalid();
    return Op::Put(positional[0], positional[1], {.lease = lease, .prev_kv = prev_kv});
  }
  if (verb == "get") {
    if (positional.empty() || positional.size() > 2) return invalid();
    etcdserverpb::RangeRequest r;
    r.set_key(positional[0]);
    r.set_range_end(range_end());
    r.set_limit(limit);
    r.set_revision(revision);
    r.set_keys_only(keys_only);
    r.set_count_only(count_only);
    return Op::Get(std::move(r));
  }
  if (verb == "del" || verb == "delete") {
    if (positional.empty() || positional.size() > 2) return invalid();
    return Op::Delete(positional[0], range_end(), prev_kv);
  }
  return invalid();
}

absl::StatusOr<etcdserverpb::TxnRequest> ParseTxn(const std::vector<std::string>& lines) {
  etcdserverpb::TxnRequest txn;
  size_t i = 0;
  // Three sections, each ended by an empty line; running out of input first is "EOF".
  for (int section = 0; section < 3; ++section) {
    for (;;) {
      if (i >= lines.size()) return absl::InvalidArgumentError("EOF");
      absl::string_view line = lines[i++];
      if (line.empty()) break;
      if (section == 0) {
        auto c = ParseCompare(line);
        if (!c.ok()) return c.status();
        *txn.add_compare() = *c;
      } else {
        auto op = ParseRequestOp(line);
        if (!op.ok()) return op.status();
        *(section == 1 ? txn.add_success() : txn.add_failure()) = *op;
      }
    }
  }
  return txn;
}

}  // namespace keel::client::keelctl
