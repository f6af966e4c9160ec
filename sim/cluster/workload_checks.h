// Checkers for the workload's extended operations (workload.h), judged against the
// committed MVCC log rather than by the per-key linearizability search (which models
// single-key operations only: account keys, lease keys and every extended operation are
// left out of its history explicitly, runner.cc ToCheckerHistory).
//
// The reference log. Compaction removes history, so the log read back at the end of a run
// would no longer hold what a watch, an audit or a historical read saw. EventArchive keeps
// it: right before a Compact request leaves a client (Workload::before_compact), and at
// the end, it reads every revision it does not hold yet (MvccStore::ReadEvents) from the
// most advanced live member whose disk has no read faults switched on (a read there draws
// no fault and cannot fail-stop the member; between events nothing is staged, so reading
// commits nothing). A compaction that overtook it (the member it
// reads has compacted past what it holds) leaves a hole: the archive is then incomplete
// and the checks that need exact history are skipped (counted as "archive_hole").
//
// Properties (Violation::property):
//  txn-conserved-total   a linearizable audit (Range over the accounts, or a Txn of gets)
//                        that sees any account sees all of them, summing to the total.
//  txn-audit-snapshot    an audit's accounts equal the committed state at its revision.
//  txn-outcome           a transfer's (or the opening txn's) succeeded flag matches the
//                        committed state at its revision: succeeded iff the compares held
//                        just before it, and then its revision holds exactly its puts.
//  txn-real-time         an audit's revision is below a transfer acknowledged before the
//                        audit was sent.
//  txn-final-total       a live member's final accounts do not sum to the total.
//  compact-read-below    a historical read below a compaction acknowledged before it was
//                        sent answered instead of failing with ErrCompacted.
//  compact-historical-read  a historical read's answer differs from the committed state at
//                        that revision.
//  compact-spurious-error   ErrCompacted for a revision no compaction removed.
//  lease-expired-early   a lease kept alive by an acknowledged keep-alive (or its grant)
//                        was revoked before invoke + TTL x 5/6 (see CheckLeaseKeepAlive).
//  lease-ttl             KeepAlive answered a TTL above the granted one, TimeToLive one above
//                        granted + the promotion extension (a new leader extends every
//                        lease by its election timeout, as etcd's lessor Promote does, so
//                        etcd answers more than grantedTTL after a leader change too), a
//                        grantedTTL other than the grant's, or a live lease without its key.
//  serializable-monotonic  two serializable gets served by one member incarnation, one
//                        after the other, went back in revision.
//  serializable-prefix   a serializable get's value is not the committed value of its key
//                        at the revision it answered with.
#ifndef KEEL_SIM_CLUSTER_WORKLOAD_CHECKS_H_
#define KEEL_SIM_CLUSTER_WORKLOAD_CHECKS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/mvccpb/kv.pb.h"
#include "sim/checkers/violation.h"
#include "sim/cluster/cluster.h"
#include "sim/cluster/workload.h"

namespace keel::sim {

class EventArchive {
 public:
  explicit EventArchive(SimCluster* cluster) : cluster_(cluster) {}
  // Reads what it does not hold yet from the most advanced live member whose disk cannot
  // fail a read (`any_disk`: from any live member: the liveness phase switched faults off).
  void Capture(bool any_disk = false);

  // Adds one revision's events (Capture does; tests build an archive with it). Revisions
  // must be added in increasing order.
  void Append(int64_t revision, std::vector<mvccpb::Event> events);

  // revision -> that revision's events, in apply order.
  const std::map<int64_t, std::vector<mvccpb::Event>>& events() const { return events_; }
  bool complete() const { return complete_; }
  int64_t through() const { return through_; }
  int captures() const { return captures_; }

 private:
  static constexpr size_t kMaxEvents = 10'000'000;
  SimCluster* const cluster_;
  std::map<int64_t, std::vector<mvccpb::Event>> events_;
  int64_t through_ = 0;  // every revision <= through_ is held (or lost in a hole)
  bool complete_ = true;
  int captures_ = 0;
};

// The committed state of every key at any revision, from a complete archive.
class ReferenceState {
 public:
  explicit ReferenceState(const EventArchive& archive);
  struct Value {
    bool found = false;
    std::string value;
    int64_t mod_revision = 0;
  };
  // The key at `revision` (its newest event at or below it).
  Value At(const std::string& key, int64_t revision) const;
  // The events of exactly `revision`, or nullptr.
  const std::vector<mvccpb::Event>* EventsAt(int64_t revision) const;
  bool usable(int64_t revision) const { return archive_.complete() && revision <= archive_.through(); }

 private:
  const EventArchive& archive_;
  // key -> revision -> (is put, value)
  std::map<std::string, std::map<int64_t, std::pair<bool, std::string>>> by_key_;
};

std::optional<checkers::Violation> CheckTransfers(const std::vector<ClientOp>& ops, const ReferenceState& ref,
                                                  int accounts);
// Every live member's accounts sum to the total (or none exist).
std::optional<checkers::Violation> CheckFinalTotals(SimCluster* cluster, int accounts);
std::optional<checkers::Violation> CheckCompactionReads(const std::vector<ClientOp>& ops, const ReferenceState& ref);
// `revoked_at_ns`: lease -> global time its revoke first applied on any member.
// `clock_jumps_ns`: times of forward clock steps (a stepped clock may expire leases early,
// legitimately: the checks around one are skipped).
std::optional<checkers::Violation> CheckLeaseKeepAlive(const std::vector<ClientOp>& ops,
                                                       const std::map<int64_t, int64_t>& revoked_at_ns,
                                                       const std::vector<int64_t>& clock_jumps_ns,
                                                       int64_t promote_extension_s);
std::optional<checkers::Violation> CheckSerializableReads(const std::vector<ClientOp>& ops, const ReferenceState& ref);

}  // namespace keel::sim

#endif  // KEEL_SIM_CLUSTER_WORKLOAD_CHECKS_H_
