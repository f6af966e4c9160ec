#include "sim/cluster/bug_zoo.h"

namespace keel::sim {

const std::vector<BugInfo>& BugZoo() {
  // Bounds: the first failing seed measured with the opt build (sim/README.md) with a wide
  // margin (the catch seed moves whenever the scenario generator changes), capped at 300.
  // Re-measure: `keelsim sweep --seeds=1-300 --jobs=1 --bug=NAME --stop-on-failure`.
  static const std::vector<BugInfo>* const zoo = new std::vector<BugInfo>{
      {"raft-commit-old-term",  // first failing seed: 1 (44 of seeds 1-300, leader-churn)
       "a leader commits entries of earlier terms by counting replicas (the Figure 8 bug)",
       "leader-completeness / state-machine-safety / log-matching", 50},
      {"raft-skip-append-check",  // first failing seed: 3
       "followers accept appends whose previous entry does not match (no consistency check)",
       "state-machine-safety / log-matching / leader-completeness", 100},
      {"raft-vote-any-log",  // first failing seed: 1
       "votes are granted without the up-to-date-log check (§5.4.1)",
       "leader-completeness / state-machine-safety", 50},
      {"raft-forget-vote",  // first failing seed: 3 (29 of seeds 1-300, election-storm)
       "the vote is not persisted: a restarted member votes twice in one term",
       "restart-amnesia / election-safety", 100},
      {"raft-learner-acks-count",  // first failing seed: 1 (129 of seeds 1-300, membership seeds)
       "a learner's ack stands in for a voter's in the leader's commit quorum",
       "commit-quorum / leader-completeness / state-machine-safety", 50},
      {"server-ack-before-commit",  // first failing seed: 1
       "writes are acknowledged once proposed, before a quorum stores them",
       "duplicate-revision / linearizability / durability-lost-write", 50},
      {"server-stale-read",  // first failing seed: 1
       "linearizable reads are served locally, without ReadIndex",
       "revision-real-time / stale-read / linearizability", 50},
      {"server-index-before-apply",  // first failing seed: 3
       "the consistent index is committed before the entry's effects (etcd's v3.5 data bug class)",
       "replica-divergence / durability-lost-write", 50},
      {"server-follower-lease-expiry",  // first failing seed: 1
       "followers expire leases on their own clocks instead of waiting for the leader's revoke",
       "replica-divergence", 50},
      {"server-skip-wal",  // first failing seed: 3
       "entries are reported durable (acknowledged to the leader) without being written",
       "restart-amnesia / liveness / durability-lost-write / state-machine-safety", 50},
      {"server-read-before-apply",  // first failing seed: 7
       "a ReadIndex read is answered before this member applied up to the read index",
       "revision-real-time / stale-read / linearizability", 50},
      {"server-lease-revoke-keeps-key",  // first failing seed: 2
       "revoking (or expiring) a lease forgets the lease but keeps its keys",
       "lease-outlived-revoke", 50},
      {"server-watch-skip-event",  // first failing seed: 3
       "a watch response carrying several events loses its last one",
       "watch-reliable / watch-resumable / watch-atomic", 50},
      {"kv-txn-partial-apply",  // first failing seed: 1 (2 at --jobs=2 reports first)
       "a Txn's success branch applies only its first op (a transfer debits without crediting)",
       "txn-conserved-total / txn-outcome / txn-final-total / txn-audit-snapshot", 50},
      {"kv-watch-skip-compaction",  // first failing seed: 2
       "a watch from a compacted revision starts silently at the compaction revision instead "
       "of being canceled with compact_revision",
       "watch-reliable / watch-resumable", 50},
      {"lease-keepalive-ignored",  // first failing seed: 2
       "a keep-alive is answered with the TTL but does not refresh the lease's expiry on the "
       "leader",
       "lease-expired-early", 50},
      {"raft-confchange-at-propose",  // first failing seed: 1 (membership seeds only)
       "the leader switches to a new configuration when it appends the ConfChange entry, "
       "not when the committed entry is applied",
       "config-not-applied", 50},
      {"wal-ignore-fsync-error",  // first failing seed: 2 (faulty disks with eio_sync only)
       "the WAL swallows an EIO from fsync and acknowledges the Save as durable (fsyncgate)",
       "restart-amnesia / durability-lost-write / state-machine-safety", 100},
      {"server-removed-leader-leads",  // first failing seed: 3 (a removal of the leader)
       "a leader that applies its own removal keeps running and leading instead of stopping",
       "removed-kept-running", 100},
      {"lease-wall-clock-expiry",  // first failing seed: 76 (a forward wall_step on the leader)
       "the leader's lessor judges expiry by the wall clock (stepped by NTP) against deadlines "
       "set on the monotonic clock",
       "lease-expired-early", 300},
      {"leveldb-log-switch-gap",  // first failing seed: 230 (also 254, 294, 295; deferred timing only)
       "LevelDB's PosixEnv sync rule: a switched-to log's directory entry is not synced and "
       "the old log is closed unsynced, so power loss before the memtable flush loses "
       "synced backend writes (visible only with deferred LevelDB timing)",
       "liveness / member-down / durability-lost-write / replica-divergence", 300},
  };
  return *zoo;
}

const BugInfo* FindBug(std::string_view name) {
  for (const BugInfo& b : BugZoo()) {
    if (b.name == name) return &b;
  }
  return nullptr;
}

}  // namespace keel::sim
