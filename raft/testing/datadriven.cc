#include "raft/testing/datadriven.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace keel::raft::testing {

std::vector<std::string> TestCase::Positionals() const {
  std::vector<std::string> out;
  for (const auto& a : args) {
    if (a.vals.empty()) out.push_back(a.key);
  }
  return out;
}

std::optional<std::string> TestCase::Get(const std::string& key) const {
  for (const auto& a : args) {
    if (a.key == key && a.vals.size() == 1) return a.vals[0];
  }
  return std::nullopt;
}

std::vector<std::string> TestCase::GetList(const std::string& key) const {
  for (const auto& a : args) {
    if (a.key == key) return a.vals;
  }
  return {};
}

namespace {

std::vector<CmdArg> ParseArgs(const std::vector<std::string>& words) {
  std::vector<CmdArg> args;
  for (const std::string& w : words) {
    CmdArg a;
    const size_t eq = w.find('=');
    if (eq == std::string::npos) {
      a.key = w;
    } else {
      a.key = w.substr(0, eq);
      std::string v = w.substr(eq + 1);
      if (v.size() >= 2 && v.front() == '(' && v.back() == ')') {
        v = v.substr(1, v.size() - 2);
        if (!v.empty()) a.vals = absl::StrSplit(v, ',');
      } else {
        a.vals.push_back(v);
      }
    }
    args.push_back(std::move(a));
  }
  return args;
}

}  // namespace

absl::StatusOr<TestFile> ParseTestFile(const std::string& text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  TestFile file;
  std::string preamble;
  size_t i = 0;
  while (i < lines.size()) {
    const std::string& line = lines[i];
    if (line.empty() || line[0] == '#') {
      absl::StrAppend(&preamble, line, "\n");
      ++i;
      continue;
    }
    TestCase tc;
    tc.line = static_cast<int>(i + 1);
    tc.raw = line;
    std::vector<std::string> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
    tc.cmd = words[0];
    tc.args = ParseArgs(std::vector<std::string>(words.begin() + 1, words.end()));
    ++i;
    while (i < lines.size() && lines[i] != "----") tc.input.push_back(lines[i++]);
    if (i == lines.size()) {
      return absl::InvalidArgumentError(absl::StrCat("line ", tc.line, ": missing ----"));
    }
    ++i;  // Skip ----.
    std::vector<std::string> expected;
    while (i < lines.size() && !lines[i].empty()) expected.push_back(lines[i++]);
    tc.expected = absl::StrJoin(expected, "\n");
    file.preambles.push_back(preamble);
    preamble.clear();
    file.cases.push_back(std::move(tc));
  }
  file.trailer = preamble;
  return file;
}

std::string RenderTestFile(const TestFile& file, const std::vector<std::string>& outputs) {
  std::string out;
  for (size_t i = 0; i < file.cases.size(); ++i) {
    const TestCase& tc = file.cases[i];
    out += file.preambles[i];
    absl::StrAppend(&out, tc.raw, "\n");
    for (const auto& in : tc.input) absl::StrAppend(&out, in, "\n");
    absl::StrAppend(&out, "----\n", outputs[i], "\n");
  }
  out += file.trailer;
  return out;
}

}  // namespace keel::raft::testing
