// The server core's latency histograms and per-peer traffic, under etcd 3.4's bucket
// bounds, and the recorder that fills them on the Loop.
//
// Durations come from the Loop's clock (env seam): keeld reads the real monotonic clock,
// keelsim its simulated one. Histograms observe, never decide: nothing in the core reads
// them back, so a keelsim run stays a function of its seed.
#ifndef KEEL_SERVER_SERVER_METRICS_H_
#define KEEL_SERVER_SERVER_METRICS_H_

#include <cstdint>
#include <map>

#include "absl/container/flat_hash_map.h"
#include "raft/raftpb/raft.pb.h"
#include "prom/histogram.h"

namespace keel::server {

// etcd 3.4: wal fsync and backend commit, ExponentialBuckets(0.001, 2, 14): 1 ms..8.192 s.
inline prom::Buckets DiskDurationBuckets() {
  static const prom::Buckets buckets = prom::ExponentialBuckets(0.001, 2, 14);
  return buckets;
}
// etcd 3.4: backend snapshot, ExponentialBuckets(0.01, 2, 17): 10 ms..655.36 s.
inline prom::Buckets SnapshotDurationBuckets() {
  static const prom::Buckets buckets = prom::ExponentialBuckets(0.01, 2, 17);
  return buckets;
}
// etcd 3.4.23: peer round trip time, ExponentialBuckets(0.0001, 2, 16): 0.1 ms..3.2768 s.
inline prom::Buckets PeerRoundTripBuckets() {
  static const prom::Buckets buckets = prom::ExponentialBuckets(0.0001, 2, 16);
  return buckets;
}

struct PeerMetrics {
  uint64_t sent_bytes = 0;
  uint64_t received_bytes = 0;
  uint64_t sent_failures = 0;  // messages the transport gave up on (OnPeerUnreachable)
  // Leader only: MsgHeartbeat sent -> its MsgHeartbeatResp received (etcd probes with a
  // separate HTTP ping; the heartbeat pair measures the same path without extra traffic).
  prom::Histogram round_trip_seconds{PeerRoundTripBuckets()};
};

struct ServerMetrics {
  // Save of one Ready = one WAL append + one fsync, issue to completion.
  prom::Histogram wal_fsync_seconds{DiskDurationBuckets()};
  // One backend batch (MvccStore::Commit) after applying a group of entries.
  prom::Histogram backend_commit_seconds{DiskDurationBuckets()};
  // Building the backup image of Maintenance.Snapshot.
  prom::Histogram backend_snapshot_seconds{SnapshotDurationBuckets()};
  // By member ID; only current members (a removed member's entry goes with it).
  std::map<uint64_t, PeerMetrics> peers;
  // As etcd's timeout detector: a heartbeat to a peer leaving more than two heartbeat
  // intervals after the previous one (the leader's loop was too slow to keep up).
  uint64_t heartbeat_send_failures = 0;
};

// Loop-only.
class MetricsRecorder {
 public:
  explicit MetricsRecorder(int64_t heartbeat_interval_ns);

  void ObserveWalFsync(int64_t duration_ns);
  void ObserveBackendCommit(int64_t duration_ns);
  void ObserveBackendSnapshot(int64_t duration_ns);

  // A message of `bytes` handed to the transport for `to`; `type` is the Raft message type
  // or -1 for other peer messages (snapshot chunks, forwarded requests).
  void OnSent(uint64_t to, int type, size_t bytes, int64_t now_ns);
  void OnReceived(uint64_t from, int type, size_t bytes, int64_t now_ns);
  void OnUnreachable(uint64_t peer);
  void RemovePeer(uint64_t peer);

  const ServerMetrics& metrics() const { return metrics_; }

 private:
  const int64_t heartbeat_interval_ns_;
  ServerMetrics metrics_;
  // Per peer: when the last heartbeat left, and when the one we await an answer to left.
  absl::flat_hash_map<uint64_t, int64_t> last_heartbeat_ns_;
  absl::flat_hash_map<uint64_t, int64_t> unanswered_heartbeat_ns_;
};

}  // namespace keel::server

#endif  // KEEL_SERVER_SERVER_METRICS_H_
