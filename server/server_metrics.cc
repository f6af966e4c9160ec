#include "server/server_metrics.h"

#include "base/check.h"

namespace keel::server {
namespace {

double Seconds(int64_t ns) { return static_cast<double>(ns) / 1e9; }

}  // namespace

MetricsRecorder::MetricsRecorder(int64_t heartbeat_interval_ns)
    : heartbeat_interval_ns_(heartbeat_interval_ns) {
  KEEL_CHECK(heartbeat_interval_ns > 0);
}

void MetricsRecorder::ObserveWalFsync(int64_t duration_ns) {
  metrics_.wal_fsync_seconds.Observe(Seconds(duration_ns));
}

void MetricsRecorder::ObserveBackendCommit(int64_t duration_ns) {
  metrics_.backend_commit_seconds.Observe(Seconds(duration_ns));
}

void MetricsRecorder::ObserveBackendSnapshot(int64_t duration_ns) {
  metrics_.backend_snapshot_seconds.Observe(Seconds(duration_ns));
}

void MetricsRecorder::OnSent(uint64_t to, int type, size_t bytes, int64_t now_ns) {
  metrics_.peers[to].sent_bytes += bytes;
  if (type != raftpb::MsgHeartbeat) return;
  auto [last, first] = last_heartbeat_ns_.try_emplace(to, now_ns);
  if (!first) {
    if (now_ns - last->second > 2 * heartbeat_interval_ns_) metrics_.heartbeat_send_failures++;
    last->second = now_ns;
  }
  // Only the oldest unanswered heartbeat is timed: a lost one must not shorten the next.
  unanswered_heartbeat_ns_.try_emplace(to, now_ns);
}

void MetricsRecorder::OnReceived(uint64_t from, int type, size_t bytes, int64_t now_ns) {
  metrics_.peers[from].received_bytes += bytes;
  if (type != raftpb::MsgHeartbeatResp) return;
  auto it = unanswered_heartbeat_ns_.find(from);
  if (it == unanswered_heartbeat_ns_.end()) return;
  metrics_.peers[from].round_trip_seconds.Observe(Seconds(now_ns - it->second));
  unanswered_heartbeat_ns_.erase(it);
}

void MetricsRecorder::OnUnreachable(uint64_t peer) { metrics_.peers[peer].sent_failures++; }

void MetricsRecorder::RemovePeer(uint64_t peer) {
  metrics_.peers.erase(peer);
  last_heartbeat_ns_.erase(peer);
  unanswered_heartbeat_ns_.erase(peer);
}

}  // namespace keel::server
