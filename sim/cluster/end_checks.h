// End-of-run checks that need the simulated cluster itself (not only the client history):
//
//  - Watches (sim/checkers/watch_checker.h): every watcher's streams against the committed
//    MVCC log read straight from a replica's store (MvccStore::ReadEvents, not the watch
//    path under test), so ordered / unique / atomic / reliable / resumable / prev_kv /
//    phantom events are judged against what was really committed.
//  - Leases (sim/checkers/durability.h CheckLeaseRevokes): no key outlives the revoke of its
//    lease. LeaseRevokeRecorder sees every revoke (or expiry, which is a revoke entry) as
//    members apply it; at the end, a key still attached to a revoked lease on a replica
//    whose store has moved past the revoke is a violation.
#ifndef KEEL_SIM_CLUSTER_END_CHECKS_H_
#define KEEL_SIM_CLUSTER_END_CHECKS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "sim/checkers/history.h"
#include "sim/checkers/violation.h"
#include "sim/cluster/cluster.h"
#include "sim/cluster/workload.h"

namespace keel::sim {

class LeaseRevokeRecorder {
 public:
  // Chains onto cluster->on_apply (keeping whatever was installed before). `cluster` must
  // outlive the recorder, and on_apply must not be replaced afterwards.
  explicit LeaseRevokeRecorder(SimCluster* cluster);
  LeaseRevokeRecorder(const LeaseRevokeRecorder&) = delete;
  LeaseRevokeRecorder& operator=(const LeaseRevokeRecorder&) = delete;

  // lease id -> the smallest revision R such that a store at revision >= R has applied the
  // revoke (the store revision right after applying it, + 1; min over members).
  const std::map<int64_t, int64_t>& revoked() const { return revoked_; }
  // lease id -> the simulated time its revoke first applied on any member (the moment its
  // keys first disappeared anywhere).
  const std::map<int64_t, int64_t>& revoked_at_ns() const { return revoked_at_ns_; }

 private:
  void OnApply(int node, const raftpb::Entry& e);
  // The lease an entry revokes (0: none). Every member applies the same entry at an
  // index (Log Matching), so it is parsed once and remembered by (index, term); bounded.
  int64_t RevokedLease(const raftpb::Entry& e);

  static constexpr size_t kMaxRemembered = 4096;
  SimCluster* const cluster_;
  std::function<void(int, const raftpb::Entry&)> next_;
  std::map<int64_t, int64_t> revoked_;
  std::map<int64_t, int64_t> revoked_at_ns_;
  std::map<std::pair<uint64_t, uint64_t>, int64_t> parsed_;  // (index, term) -> lease
};

// Lease keys on every live replica must not outlive their lease's revoke.
std::optional<checkers::Violation> CheckLeases(SimCluster* cluster, const LeaseRevokeRecorder& revokes,
                                               const checkers::History& history);

// Every watcher's streams against the committed log of the live replica with the highest
// revision. Returns the first violation.
// `archive` (workload_checks.h) holds the committed log including what compactions
// removed; nullptr: read it from that replica now (history below its compaction unknown).
class EventArchive;
std::optional<checkers::Violation> CheckWatches(SimCluster* cluster, const std::vector<WatchLog>& logs,
                                                const EventArchive* archive = nullptr);

}  // namespace keel::sim

#endif  // KEEL_SIM_CLUSTER_END_CHECKS_H_
