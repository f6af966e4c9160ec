#include "node/metrics.h"

#include <set>

#include "gtest/gtest.h"
#include "node/process_metrics.h"

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

TEST(MetricsTest, EverySampleBelongsToTheFamilyDeclaredBeforeIt) {
  server::ServerStats stats;
  stats.metrics.peers[2].sent_bytes = 5;
  stats.metrics.peers[2].round_trip_seconds.Observe(0.0003);
  NodeMetrics node;
  node.grpc.handled.Add({"unary", "etcdserverpb.KV", "Range", "OK"});
  std::string text = RenderMetrics(stats, &node);
  std::string family;
  std::set<std::string> families;
  size_t samples = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    ASSERT_NE(end, std::string::npos) << "output must end with a newline";
    std::string line = text.substr(start, end - start);
    start = end + 1;
    if (line.rfind("# HELP ", 0) == 0) {
      family = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_TRUE(families.insert(family).second) << "family declared twice: " << family;
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      EXPECT_EQ(line.rfind("# TYPE " + family + " ", 0), 0u) << line;
      continue;
    }
    ++samples;
    EXPECT_EQ(line.rfind(family, 0), 0u) << line << " outside family " << family;
  }
  EXPECT_GT(samples, 40u);
  for (const char* f : {"etcd_disk_wal_fsync_duration_seconds", "grpc_server_handled_total",
                        "process_resident_memory_bytes", "etcd_network_peer_round_trip_time_seconds",
                        "etcd_server_version", "etcd_server_health_success"}) {
    EXPECT_EQ(families.count(f), 1u) << f;
  }
}

TEST(MetricsTest, HistogramsUseEtcdsBucketsAndPeersTheirHexIds) {
  server::ServerStats stats;
  stats.metrics.wal_fsync_seconds.Observe(0.0015);
  stats.metrics.peers[0xab].round_trip_seconds.Observe(0.0003);
  stats.metrics.peers[0xab].received_bytes = 77;
  std::string text = RenderMetrics(stats);
  for (const char* line : {
           "\netcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.001\"} 0\n",
           "\netcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.002\"} 1\n",
           "\netcd_disk_wal_fsync_duration_seconds_bucket{le=\"8.192\"} 1\n",
           "\netcd_disk_wal_fsync_duration_seconds_bucket{le=\"+Inf\"} 1\n",
           "\netcd_disk_wal_fsync_duration_seconds_count 1\n",
           "\netcd_disk_backend_snapshot_duration_seconds_bucket{le=\"655.36\"} 0\n",
           "\netcd_network_peer_round_trip_time_seconds_bucket{To=\"ab\",le=\"0.0004\"} 1\n",
           "\netcd_network_peer_round_trip_time_seconds_bucket{To=\"ab\",le=\"3.2768\"} 1\n",
           "\netcd_network_peer_received_bytes_total{From=\"ab\"} 77\n",
           "\netcd_server_version{server_version=\"3.4.23\"} 1\n",
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << line;
  }
}

TEST(MetricsTest, GrpcCountersCarryGoGrpcPrometheusLabels) {
  server::ServerStats stats;
  NodeMetrics node;
  node.grpc.started.Add({"bidi_stream", "etcdserverpb.Watch", "Watch"});
  node.grpc.handled.Add({"unary", "etcdserverpb.KV", "Put", GrpcCodeName(8)}, 3);
  std::string text = RenderMetrics(stats, &node);
  EXPECT_NE(text.find("\ngrpc_server_handled_total{grpc_code=\"ResourceExhausted\",grpc_method="
                      "\"Put\",grpc_service=\"etcdserverpb.KV\",grpc_type=\"unary\"} 3\n"),
            std::string::npos);
  EXPECT_NE(text.find("\ngrpc_server_started_total{grpc_method=\"Watch\",grpc_service="
                      "\"etcdserverpb.Watch\",grpc_type=\"bidi_stream\"} 1\n"),
            std::string::npos);
  EXPECT_STREQ(GrpcCodeName(0), "OK");
  EXPECT_STREQ(GrpcCodeName(14), "Unavailable");
  EXPECT_STREQ(GrpcCodeName(99), "Unknown");
}

TEST(ProcessMetricsTest, ParsesProcStatWithSpacesInTheCommand) {
  // Fields 14/15 utime/stime = 250/50 ticks, 22 starttime = 1000 ticks, 23 vsize, 24 rss.
  const std::string stat =
      "4242 (kee ld) (x)) S 1 2 3 4 5 6 7 8 9 10 250 50 11 12 13 14 15 16 1000 123456 10 rest";
  absl::StatusOr<ProcessMetrics> p = ParseProcStat(stat, /*boot=*/1'700'000'000, 100, 4096);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_DOUBLE_EQ(p->cpu_seconds, 3.0);
  EXPECT_DOUBLE_EQ(p->start_time_seconds, 1'700'000'010.0);
  EXPECT_EQ(p->virtual_memory_bytes, 123456u);
  EXPECT_EQ(p->resident_memory_bytes, 40960u);
  EXPECT_FALSE(ParseProcStat("garbage", 0, 100, 4096).ok());
}

TEST(ProcessMetricsTest, ReadsThisProcess) {
  absl::StatusOr<ProcessMetrics> p = ReadProcessMetrics();
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_GT(p->resident_memory_bytes, 0u);
  EXPECT_GT(p->open_fds, 2u);  // stdin, stdout, stderr at least
  EXPECT_GE(p->max_fds, p->open_fds);
  EXPECT_GT(p->start_time_seconds, 1.6e9);
}

}  // namespace
}  // namespace keel::node
