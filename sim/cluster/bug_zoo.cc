#include "sim/cluster/bug_zoo.h"

namespace keel::sim {

const std::vector<BugInfo>& BugZoo() {
  static const std::vector<BugInfo>* const zoo = new std::vector<BugInfo>{
      {"raft-commit-old-term",
       "a leader commits entries of earlier terms by counting replicas (the Figure 8 bug)",
       "state-machine-safety / log-matching"},
      {"raft-skip-append-check",
       "followers accept appends whose previous entry does not match (no consistency check)",
       "log-matching"},
      {"raft-vote-any-log",
       "votes are granted without the up-to-date-log check (§5.4.1)",
       "leader-completeness / state-machine-safety"},
      {"raft-forget-vote",
       "the vote is not persisted: a restarted member votes twice in one term",
       "election-safety"},
      {"server-ack-before-commit",
       "writes are acknowledged once proposed, before a quorum stores them",
       "linearizability / durability"},
      {"server-stale-read",
       "linearizable reads are served locally, without ReadIndex",
       "linearizability"},
      {"server-index-before-apply",
       "the consistent index is committed before the entry's effects (etcd's v3.5 data bug class)",
       "replica-divergence / durability"},
      {"server-follower-lease-expiry",
       "followers expire leases on their own clocks instead of waiting for the leader's revoke",
       "replica-divergence"},
      {"server-skip-wal",
       "entries are reported durable (acknowledged to the leader) without being written",
       "durability / state-machine-safety"},
      {"server-read-before-apply",
       "a ReadIndex read is answered before this member applied up to the read index",
       "linearizability"},
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
