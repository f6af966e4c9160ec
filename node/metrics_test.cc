#include "node/metrics.h"

#include "gtest/gtest.h"

namespace keel::node {
namespace {

TEST(MetricsTest, HasLeaderFollowsLeaderId) {
  server::ServerStats stats;
  stats.member_id = 7;
  EXPECT_NE(RenderMetrics(stats).find("\netcd_server_has_leader 0\n"), std::string::npos);
  stats.leader_id = 9;
  std::string text = RenderMetrics(stats);
  EXPECT_NE(text.find("\netcd_server_has_leader 1\n"), std::string::npos);
  EXPECT_NE(text.find("\netcd_server_is_leader 0\n"), std::string::npos);
  stats.leader_id = 7;
  EXPECT_NE(RenderMetrics(stats).find("\netcd_server_is_leader 1\n"), std::string::npos);
}

TEST(MetricsTest, ExportsCountersUnderEtcdNames) {
  server::ServerStats stats;
  stats.proposals_committed = 11;
  stats.proposals_applied = 10;
  stats.proposals_pending = 1;
  stats.proposals_failed = 3;
  stats.leader_changes_seen = 2;
  stats.db_size_bytes = 4096;
  stats.member_id = 0xabc;
  std::string text = RenderMetrics(stats);
  for (const char* line :
       {"\netcd_server_proposals_committed_total 11\n",
        "\netcd_server_proposals_applied_total 10\n", "\netcd_server_proposals_pending 1\n",
        "\netcd_server_proposals_failed_total 3\n", "\netcd_server_leader_changes_seen_total 2\n",
        "\netcd_mvcc_db_total_size_in_bytes 4096\n", "\netcd_server_id{server_id=\"abc\"} 1\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line;
  }
}

TEST(MetricsTest, RevisionsKeepTheirSign) {
  server::ServerStats stats;
  stats.revision = 12;
  stats.compact_revision = -1;  // never compacted
  std::string text = RenderMetrics(stats);
  EXPECT_NE(text.find("\netcd_debugging_mvcc_current_revision 12\n"), std::string::npos);
  EXPECT_NE(text.find("\netcd_debugging_mvcc_compact_revision -1\n"), std::string::npos);
}

TEST(MetricsTest, EveryMetricHasHelpAndType) {
  std::string text = RenderMetrics(server::ServerStats());
  size_t samples = 0, types = 0, helps = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    ASSERT_NE(end, std::string::npos) << "output must end with a newline";
    std::string line = text.substr(start, end - start);
    if (line.rfind("# HELP ", 0) == 0) {
      ++helps;
    } else if (line.rfind("# TYPE ", 0) == 0) {
      ++types;
    } else {
      ++samples;
    }
    start = end + 1;
  }
  EXPECT_GT(samples, 10u);
  EXPECT_EQ(samples, types);
  EXPECT_EQ(samples, helps);
}

}  // namespace
}  // namespace keel::node
