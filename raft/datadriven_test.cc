// Runs the golden transcripts in raft/testdata/*.txt (see testing/interaction_env.h for
// the commands). Each file is one test; a mismatch prints the command, its line and both
// outputs.
//
// Regenerate expected output after an intended behaviour change:
//   KEEL_REWRITE=1 bazel run //raft:datadriven_test
// (bazel run sets BUILD_WORKSPACE_DIRECTORY, so files are read from and written to the
// source tree). Outside Bazel, KEEL_TESTDATA_DIR=<dir> points at the directory to use.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "raft/testing/datadriven.h"
#include "raft/testing/interaction_env.h"

namespace keel::raft {
namespace {

namespace fs = std::filesystem;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

fs::path TestdataDir() {
  if (!Env("KEEL_TESTDATA_DIR").empty()) return Env("KEEL_TESTDATA_DIR");
  if (!Env("BUILD_WORKSPACE_DIRECTORY").empty()) {
    return fs::path(Env("BUILD_WORKSPACE_DIRECTORY")) / "raft/testdata";
  }
  if (!Env("TEST_SRCDIR").empty()) {
    return fs::path(Env("TEST_SRCDIR")) / Env("TEST_WORKSPACE") / "raft/testdata";
  }
  return "raft/testdata";  // bazel run without the variables: cwd is the runfiles root.
}

std::vector<std::string> TestFiles() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(TestdataDir(), ec)) {
    if (entry.path().extension() == ".txt") names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

class Transcript : public ::testing::TestWithParam<std::string> {};

TEST_P(Transcript, MatchesGolden) {
  const fs::path path = TestdataDir() / GetParam();
  std::ifstream in(path);
  ASSERT_TRUE(in.good()) << "cannot read " << path;
  std::stringstream buf;
  buf << in.rdbuf();
  auto file = testing::ParseTestFile(buf.str());
  ASSERT_TRUE(file.ok()) << path << ": " << file.status();

  testing::InteractionEnv env;
  std::vector<std::string> outputs;
  const bool rewrite = Env("KEEL_REWRITE") == "1";
  for (const auto& tc : file->cases) {
    outputs.push_back(env.Handle(tc));
    if (!rewrite) {
      EXPECT_EQ(tc.expected, outputs.back())
          << GetParam() << ":" << tc.line << ": " << tc.raw << "\n--- expected:\n"
          << tc.expected << "\n--- got:\n" << outputs.back();
    }
  }
  if (rewrite) {
    std::ofstream out(path, std::ios::trunc);
    out << testing::RenderTestFile(*file, outputs);
    ASSERT_TRUE(out.good()) << "cannot write " << path;
  }
}

INSTANTIATE_TEST_SUITE_P(Testdata, Transcript, ::testing::ValuesIn(TestFiles()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param.substr(0, info.param.size() - 4);
                           for (char& c : name) {
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

TEST(Transcript, TestdataIsPresent) {
  // Guards against a silently empty suite (e.g. a broken runfiles path).
  EXPECT_GE(TestFiles().size(), 10u) << "looked in " << TestdataDir();
}

}  // namespace
}  // namespace keel::raft
