#include "server/server_metrics.h"

#include "gtest/gtest.h"

namespace keel::server {
namespace {

constexpr int64_t kMs = 1'000'000;

TEST(MetricsRecorderTest, HeartbeatRoundTripIsTimedFromTheOldestUnansweredHeartbeat) {
  MetricsRecorder r(/*heartbeat_interval_ns=*/100 * kMs);
  r.OnSent(2, raftpb::MsgHeartbeat, 10, 0);
  r.OnSent(2, raftpb::MsgHeartbeat, 10, 100 * kMs);  // the first is still unanswered
  r.OnReceived(2, raftpb::MsgHeartbeatResp, 7, 103 * kMs);
  r.OnReceived(2, raftpb::MsgHeartbeatResp, 7, 104 * kMs);  // nothing outstanding: ignored
  const PeerMetrics& p = r.metrics().peers.at(2);
  EXPECT_EQ(p.round_trip_seconds.count(), 1u);
  EXPECT_DOUBLE_EQ(p.round_trip_seconds.sum(), 0.103);
  EXPECT_EQ(p.sent_bytes, 20u);
  EXPECT_EQ(p.received_bytes, 14u);
}

TEST(MetricsRecorderTest, ALateHeartbeatIsASendFailureAsEtcdsTimeoutDetector) {
  MetricsRecorder r(/*heartbeat_interval_ns=*/100 * kMs);
  r.OnSent(2, raftpb::MsgHeartbeat, 1, 0);
  r.OnSent(2, raftpb::MsgHeartbeat, 1, 200 * kMs);  // exactly 2 intervals: on time
  EXPECT_EQ(r.metrics().heartbeat_send_failures, 0u);
  r.OnSent(2, raftpb::MsgHeartbeat, 1, 401 * kMs);
  EXPECT_EQ(r.metrics().heartbeat_send_failures, 1u);
  r.OnSent(3, raftpb::MsgApp, 1, 900 * kMs);  // other types never count
  EXPECT_EQ(r.metrics().heartbeat_send_failures, 1u);
}

TEST(MetricsRecorderTest, RemovedPeersLeaveTheScrape) {
  MetricsRecorder r(100 * kMs);
  r.OnSent(2, -1, 5, 0);
  r.OnUnreachable(3);
  EXPECT_EQ(r.metrics().peers.at(3).sent_failures, 1u);
  r.RemovePeer(2);
  EXPECT_EQ(r.metrics().peers.count(2), 0u);
  EXPECT_EQ(r.metrics().peers.size(), 1u);
}

TEST(MetricsRecorderTest, DurationsLandInEtcdsBuckets) {
  MetricsRecorder r(100 * kMs);
  r.ObserveWalFsync(1 * kMs);        // le="0.001"
  r.ObserveWalFsync(3 * kMs);        // le="0.004"
  r.ObserveBackendCommit(20'000 * kMs);  // beyond 8.192 s: +Inf only
  const ServerMetrics& m = r.metrics();
  EXPECT_EQ(m.wal_fsync_seconds.bounds().size(), 14u);
  EXPECT_EQ(m.wal_fsync_seconds.CumulativeCount(0), 1u);
  EXPECT_EQ(m.wal_fsync_seconds.CumulativeCount(1), 1u);
  EXPECT_EQ(m.wal_fsync_seconds.CumulativeCount(2), 2u);
  EXPECT_EQ(m.backend_commit_seconds.CumulativeCount(13), 0u);
  EXPECT_EQ(m.backend_commit_seconds.count(), 1u);
  EXPECT_EQ(m.backend_snapshot_seconds.bounds().size(), 17u);
}

}  // namespace
}  // namespace keel::server
