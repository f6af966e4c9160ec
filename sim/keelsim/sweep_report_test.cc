#include "sim/keelsim/sweep_report.h"

#include <string>

#include "gtest/gtest.h"

namespace keel::sim {
namespace {

RunResult Result(uint64_t seed, std::map<std::string, uint64_t> coverage) {
  RunResult r;
  r.seed = seed;
  r.ok = true;
  r.coverage = std::move(coverage);
  return r;
}

TEST(SweepReportTest, CoverageTableCountsTotalsAndSeedsAndShowsZeros) {
  SweepReport report;
  report.Add(Result(1, {{"raft.elections_won", 3}, {"buggify.wal.segment_8kib", 2}}));
  report.Add(Result(2, {{"raft.elections_won", 4}}));
  report.Add(Result(2, {{"raft.elections_won", 100}}));  // a seed seen twice counts once
  const std::string table = report.CoverageTable();
  EXPECT_NE(table.find("coverage over 2 seeds:"), std::string::npos) << table;
  EXPECT_NE(table.find("| raft.elections_won | 7 | 2 |"), std::string::npos) << table;
  EXPECT_NE(table.find("| buggify.wal.segment_8kib | 2 | 1 |"), std::string::npos) << table;
  // What nothing fired still has its row, so a gap is visible.
  EXPECT_NE(table.find("| raft.joint_entered | 0 | 0 |"), std::string::npos) << table;
  EXPECT_NE(table.find("| disk.bit_flip | 0 | 0 |"), std::string::npos) << table;
  // Raft paths come before faults, BUGGIFY last.
  EXPECT_LT(table.find("raft.elections_won"), table.find("fault.crash"));
  EXPECT_LT(table.find("fault.crash"), table.find("buggify."));
}

TEST(SweepReportTest, CoverageSurvivesTheJsonLine) {
  SweepReport direct, merged;
  const RunResult r = Result(9, {{"raft.read_index_batches", 12}, {"fault.churn", 1}});
  direct.Add(r);
  ASSERT_TRUE(merged.AddJsonLine(SweepReport::ToJsonLine(r, "")).ok());
  EXPECT_EQ(direct.CoverageTable(), merged.CoverageTable());
}

TEST(SweepReportTest, EmptyReportHasNoTable) { EXPECT_EQ(SweepReport().CoverageTable(), ""); }

}  // namespace
}  // namespace keel::sim
