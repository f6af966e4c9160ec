#include "node/metrics.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace keel::node {
namespace {

void AppendMetric(std::string* out, const char* name, const char* type, const char* help,
                  uint64_t value) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n", name, " ",
                  value, "\n");
}

// Revisions are signed: the core reports -1 for "never compacted".
void AppendSignedMetric(std::string* out, const char* name, const char* type, const char* help,
                        int64_t value) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n", name, " ",
                  value, "\n");
}

}  // namespace

std::string RenderMetrics(const server::ServerStats& stats) {
  std::string out;
  AppendMetric(&out, "etcd_server_has_leader", "gauge",
               "Whether or not a leader exists. 1 is existence, 0 is not.",
               stats.leader_id != 0 ? 1 : 0);
  AppendMetric(&out, "etcd_server_is_leader", "gauge",
               "Whether or not this member is a leader. 1 if is, 0 otherwise.",
               stats.leader_id != 0 && stats.leader_id == stats.member_id ? 1 : 0);
  AppendMetric(&out, "etcd_server_is_learner", "gauge",
               "Whether or not this member is a learner. 1 if is, 0 otherwise.",
               stats.is_learner ? 1 : 0);
  AppendMetric(&out, "etcd_server_leader_changes_seen_total", "counter",
               "The number of leader changes seen.", stats.leader_changes_seen);
  AppendMetric(&out, "etcd_server_proposals_committed_total", "gauge",
               "The total number of consensus proposals committed.", stats.proposals_committed);
  AppendMetric(&out, "etcd_server_proposals_applied_total", "gauge",
               "The total number of consensus proposals applied.", stats.proposals_applied);
  AppendMetric(&out, "etcd_server_proposals_pending", "gauge",
               "The current number of pending proposals to commit.", stats.proposals_pending);
  AppendMetric(&out, "etcd_server_proposals_failed_total", "counter",
               "The total number of failed proposals seen.", stats.proposals_failed);
  AppendMetric(&out, "etcd_server_slow_apply_total", "counter",
               "The total number of slow apply requests (likely overloaded from slow disk).",
               stats.slow_applies);
  AppendMetric(&out, "etcd_server_health_failures", "counter",
               "The total number of failed health checks.", 0);
  // The raft index gauges etcd exposes through its debugging namespace.
  AppendMetric(&out, "etcd_debugging_server_raft_term", "gauge", "The current raft term.",
               stats.raft_term);
  AppendMetric(&out, "etcd_debugging_server_raft_index", "gauge", "The last raft log index.",
               stats.raft_index);
  AppendMetric(&out, "etcd_debugging_server_raft_commit_index", "gauge", "The raft commit index.",
               stats.raft_commit_index);
  AppendMetric(&out, "etcd_debugging_server_raft_applied_index", "gauge", "The raft applied index.",
               stats.raft_applied_index);
  AppendSignedMetric(&out, "etcd_debugging_mvcc_current_revision", "gauge",
                     "The current revision of store.", stats.revision);
  AppendSignedMetric(&out, "etcd_debugging_mvcc_compact_revision", "gauge",
                     "The revision of the last compaction in store.", stats.compact_revision);
  AppendMetric(&out, "etcd_mvcc_db_total_size_in_bytes", "gauge",
               "Total size of the underlying database physically allocated in bytes.",
               stats.db_size_bytes);
  // etcd exposes a histogram of fsync durations; the core counts fsyncs, so we export the
  // count under the histogram's _count name (no buckets until the core records durations).
  AppendMetric(&out, "etcd_disk_wal_fsync_duration_seconds_count", "counter",
               "The number of WAL fsyncs (count part of etcd's fsync duration histogram).",
               stats.wal_fsyncs);
  AppendMetric(&out, "etcd_server_alarms_raised", "gauge", "The number of alarms raised.",
               stats.alarms.size());
  // etcd's snapshot-transfer counters (without its per-peer labels).
  AppendMetric(&out, "etcd_network_snapshot_send_success", "counter",
               "Total number of successful snapshot sends", stats.snapshots_sent);
  AppendMetric(&out, "etcd_network_snapshot_send_failures", "counter",
               "Total number of snapshot send failures", stats.snapshots_send_failed);
  AppendMetric(&out, "etcd_network_snapshot_receive_success", "counter",
               "Total number of successful snapshot receives", stats.snapshots_received);
  AppendMetric(&out, "etcd_network_snapshot_receive_failures", "counter",
               "Total number of snapshot receive failures", stats.snapshot_receive_failures);
  absl::StrAppend(&out, "# HELP etcd_server_id Server or member ID in hexadecimal format.\n",
                  "# TYPE etcd_server_id gauge\n",
                  absl::StrFormat("etcd_server_id{server_id=\"%x\"} 1\n", stats.member_id));
  return out;
}

}  // namespace keel::node
