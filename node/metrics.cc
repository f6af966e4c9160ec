#include "node/metrics.h"

#include <cstdint>

#include "absl/strings/str_format.h"
#include "node/process_metrics.h"
#include "prom/exposition.h"

namespace keel::node {
namespace {

using prom::ExpositionWriter;
using prom::MetricType;

// The version etcd clients and dashboards see (server/server_requests.cc's Status).
constexpr char kServerVersion[] = "3.4.23";
constexpr char kClusterVersion[] = "3.4";

void One(ExpositionWriter* w, const char* name, MetricType type, const char* help, double value) {
  w->Family(name, type, help);
  w->Sample({}, value);
}

double D(uint64_t v) { return static_cast<double>(v); }

std::string Hex(uint64_t id) { return absl::StrFormat("%x", id); }

void RenderServer(const server::ServerStats& s, ExpositionWriter* w) {
  w->Family("etcd_cluster_version", MetricType::kGauge,
            "Which version is running. 1 for 'cluster_version' label with current cluster version");
  w->Sample({{"cluster_version", kClusterVersion}}, 1);
  One(w, "etcd_server_has_leader", MetricType::kGauge,
      "Whether or not a leader exists. 1 is existence, 0 is not.", s.leader_id != 0 ? 1 : 0);
  One(w, "etcd_server_is_leader", MetricType::kGauge,
      "Whether or not this member is a leader. 1 if is, 0 otherwise.",
      s.leader_id != 0 && s.leader_id == s.member_id ? 1 : 0);
  One(w, "etcd_server_is_learner", MetricType::kGauge,
      "Whether or not this member is a learner. 1 if is, 0 otherwise.", s.is_learner ? 1 : 0);
  One(w, "etcd_server_leader_changes_seen_total", MetricType::kCounter,
      "The number of leader changes seen.", D(s.leader_changes_seen));
  One(w, "etcd_server_proposals_committed_total", MetricType::kGauge,
      "The total number of consensus proposals committed.", D(s.proposals_committed));
  One(w, "etcd_server_proposals_applied_total", MetricType::kGauge,
      "The total number of consensus proposals applied.", D(s.proposals_applied));
  One(w, "etcd_server_proposals_pending", MetricType::kGauge,
      "The current number of pending proposals to commit.", D(s.proposals_pending));
  One(w, "etcd_server_proposals_failed_total", MetricType::kCounter,
      "The total number of failed proposals seen.", D(s.proposals_failed));
  One(w, "etcd_server_slow_apply_total", MetricType::kCounter,
      "The total number of slow apply requests (likely overloaded from slow disk).",
      D(s.slow_applies));
  One(w, "etcd_server_heartbeat_send_failures_total", MetricType::kCounter,
      "The total number of leader heartbeat send failures (likely overloaded from slow disk).",
      D(s.metrics.heartbeat_send_failures));
  One(w, "etcd_server_quota_backend_bytes", MetricType::kGauge,
      "Current backend storage quota size in bytes.", D(s.quota_backend_bytes));
  // Keel's own (etcd has no counter for it): proposals refused because the apply backlog
  // passed etcd's maxGapBetweenApplyAndCommitIndex.
  One(w, "keel_server_too_many_requests_total", MetricType::kCounter,
      "The total number of requests refused with 'etcdserver: too many requests' because "
      "committed entries waited to be applied.",
      D(s.too_many_requests));
  w->Family("etcd_server_id", MetricType::kGauge,
            "Server or member ID in hexadecimal format. 1 for 'server_id' label with current ID.");
  w->Sample({{"server_id", Hex(s.member_id)}}, 1);
  w->Family("etcd_server_version", MetricType::kGauge,
            "Which version is running. 1 for 'server_version' label with current version.");
  w->Sample({{"server_version", kServerVersion}}, 1);
  // The raft indexes etcd exposes through its debugging namespace (3.4 has them in
  // etcdserver's Status only; dashboards built for keeld read them here).
  One(w, "etcd_debugging_server_raft_term", MetricType::kGauge, "The current raft term.",
      D(s.raft_term));
  One(w, "etcd_debugging_server_raft_index", MetricType::kGauge, "The last raft log index.",
      D(s.raft_index));
  One(w, "etcd_debugging_server_raft_commit_index", MetricType::kGauge, "The raft commit index.",
      D(s.raft_commit_index));
  One(w, "etcd_debugging_server_raft_applied_index", MetricType::kGauge,
      "The raft applied index.", D(s.raft_applied_index));
  One(w, "etcd_server_alarms_raised", MetricType::kGauge, "The number of alarms raised.",
      D(s.alarms.size()));
}

void RenderStorage(const server::ServerStats& s, ExpositionWriter* w) {
  One(w, "etcd_debugging_mvcc_current_revision", MetricType::kGauge,
      "The current revision of store.", static_cast<double>(s.revision));
  One(w, "etcd_debugging_mvcc_compact_revision", MetricType::kGauge,
      "The revision of the last compaction in store.", static_cast<double>(s.compact_revision));
  One(w, "etcd_mvcc_db_total_size_in_bytes", MetricType::kGauge,
      "Total size of the underlying database physically allocated in bytes.", D(s.db_size_bytes));
  One(w, "etcd_debugging_mvcc_db_total_size_in_bytes", MetricType::kGauge,
      "Total size of the underlying database physically allocated in bytes.", D(s.db_size_bytes));
  One(w, "etcd_mvcc_db_total_size_in_use_in_bytes", MetricType::kGauge,
      "Total size of the underlying database logically in use in bytes.",
      D(s.db_size_in_use_bytes));
  w->Family("etcd_disk_wal_fsync_duration_seconds", MetricType::kHistogram,
            "The latency distributions of fsync called by WAL.");
  w->Histogram({}, s.metrics.wal_fsync_seconds);
  w->Family("etcd_disk_backend_commit_duration_seconds", MetricType::kHistogram,
            "The latency distributions of commit called by backend.");
  w->Histogram({}, s.metrics.backend_commit_seconds);
  w->Family("etcd_disk_backend_snapshot_duration_seconds", MetricType::kHistogram,
            "The latency distribution of backend snapshots.");
  w->Histogram({}, s.metrics.backend_snapshot_seconds);
}

void RenderNetwork(const server::ServerStats& s, ExpositionWriter* w) {
  w->Family("etcd_network_peer_round_trip_time_seconds", MetricType::kHistogram,
            "Round-Trip-Time histogram between peers");
  for (const auto& [id, peer] : s.metrics.peers) {
    if (peer.round_trip_seconds.count() > 0) w->Histogram({{"To", Hex(id)}}, peer.round_trip_seconds);
  }
  w->Family("etcd_network_peer_sent_bytes_total", MetricType::kCounter,
            "The total number of bytes sent to peers.");
  for (const auto& [id, peer] : s.metrics.peers) w->Sample({{"To", Hex(id)}}, D(peer.sent_bytes));
  w->Family("etcd_network_peer_received_bytes_total", MetricType::kCounter,
            "The total number of bytes received from peers.");
  for (const auto& [id, peer] : s.metrics.peers) {
    w->Sample({{"From", Hex(id)}}, D(peer.received_bytes));
  }
  w->Family("etcd_network_peer_sent_failures_total", MetricType::kCounter,
            "The total number of send failures from peers.");
  for (const auto& [id, peer] : s.metrics.peers) {
    if (peer.sent_failures > 0) w->Sample({{"To", Hex(id)}}, D(peer.sent_failures));
  }
  // etcd's snapshot-transfer counters (without its per-peer labels).
  One(w, "etcd_network_snapshot_send_success", MetricType::kCounter,
      "Total number of successful snapshot sends", D(s.snapshots_sent));
  One(w, "etcd_network_snapshot_send_failures", MetricType::kCounter,
      "Total number of snapshot send failures", D(s.snapshots_send_failed));
  One(w, "etcd_network_snapshot_receive_success", MetricType::kCounter,
      "Total number of successful snapshot receives", D(s.snapshots_received));
  One(w, "etcd_network_snapshot_receive_failures", MetricType::kCounter,
      "Total number of snapshot receive failures", D(s.snapshot_receive_failures));
}

}  // namespace

std::string RenderMetrics(const server::ServerStats& stats, const NodeMetrics* node) {
  ExpositionWriter w;
  RenderServer(stats, &w);
  RenderStorage(stats, &w);
  RenderNetwork(stats, &w);
  if (node != nullptr) {
    One(&w, "etcd_server_health_success", MetricType::kCounter,
        "The total number of successful health checks", D(node->health_success.load()));
    One(&w, "etcd_server_health_failures", MetricType::kCounter,
        "The total number of failed health checks", D(node->health_failures.load()));
    node->grpc.Render(&w);
  }
  absl::StatusOr<ProcessMetrics> process = ReadProcessMetrics();
  if (process.ok()) RenderProcessMetrics(*process, &w);
  return std::move(w).Take();
}

}  // namespace keel::node
