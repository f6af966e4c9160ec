// A small reader/writer for data-driven test files (the format of cockroachdb's
// datadriven package, used by etcd-io/raft's testdata):
//
//   # comments and blank lines are kept verbatim
//   command pos1 key=value key=(a,b)
//   optional input lines
//   ----
//   expected output (no blank lines inside; ends at a blank line or end of file)
//
// Rewrite mode regenerates the expected blocks and keeps everything else.
#ifndef KEEL_RAFT_TESTING_DATADRIVEN_H_
#define KEEL_RAFT_TESTING_DATADRIVEN_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace keel::raft::testing {

struct CmdArg {
  std::string key;
  std::vector<std::string> vals;  // Empty for a bare positional word.
};

struct TestCase {
  int line = 0;  // 1-based line of the command.
  std::string raw;  // The command line as written.
  std::string cmd;
  std::vector<CmdArg> args;
  std::vector<std::string> input;
  std::string expected;

  // Positional (bare) arguments, in order.
  std::vector<std::string> Positionals() const;
  // Value of key=value, or nullopt.
  std::optional<std::string> Get(const std::string& key) const;
  std::vector<std::string> GetList(const std::string& key) const;
};

struct TestFile {
  // Verbatim text preceding each case (comments, blank lines), and the cases.
  std::vector<std::string> preambles;
  std::vector<TestCase> cases;
  std::string trailer;
};

absl::StatusOr<TestFile> ParseTestFile(const std::string& text);
// Re-serialises `file` with `outputs[i]` as the expected block of case i.
std::string RenderTestFile(const TestFile& file, const std::vector<std::string>& outputs);

}  // namespace keel::raft::testing

#endif  // KEEL_RAFT_TESTING_DATADRIVEN_H_
