#include "sim/cluster/bug_zoo.h"

namespace keel::sim {

const std::vector<BugInfo>& BugZoo() {
  static const std::vector<BugInfo>* const zoo = new std::vector<BugInfo>{
      {"raft-commit-old-term",
       "a leader commits entries of earlier terms by counting replicas (the Figure 8 bug)",
       "state-machine-safety / linearizability"},
      {"raft-forget-vote",
       "the vote is not persisted: a restarted node votes twice in one term",
       "election-safety"},
      {"raft-skip-append-check",
       "followers accept appends without the log-matching consistency check",
       "log-matching"},
      {"raft-vote-any-log",
       "votes are granted without the up-to-date-log check (§5.4.1)",
       "leader-completeness"},
      {"server-ack-before-fsync",
       "clients are answered before the WAL fsync completes",
       "durability / linearizability"},
      {"server-stale-read",
       "linearizable reads are served locally, without ReadIndex",
       "linearizability"},
      {"server-index-before-apply",
       "the consistent index is saved before the entry's effects (etcd's v3.5 data bug class)",
       "durability / replica-divergence"},
      {"server-follower-lease-expiry",
       "followers expire leases on their own clocks instead of waiting for the leader's revoke",
       "replica-divergence"},
      {"wal-no-fsync",
       "the WAL never fsyncs: acknowledged entries live only in the page cache",
       "durability"},
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
