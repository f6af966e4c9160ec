// The Lessor: etcd's leases (grant, revoke, attach keys, keep-alive, time-to-live, list),
// as a pure, single-threaded state machine driven by the node's Loop.
//
// Who decides what (the crux of lease safety, see etcd's lease/lessor.go):
//   * Every replica applies Grant, Revoke, Attach/Detach and Checkpoint in log order; those
//     are the replicated state.
//   * Only the primary (the leader) runs a clock on leases. After Promote it keeps an expiry
//     per lease, answers Renew (keep-alive), and reports ExpiredLeases; the server turns each
//     into a *proposed* LeaseRevoke, so expiry takes effect everywhere at the same log index.
//     Followers never expire a lease on their own clock: their expiry is "forever".
//   * The remaining TTL is checkpointed through the log (DueCheckpoints → proposed
//     LeaseCheckpoint → Checkpoint on apply), so a new leader resumes from the checkpointed
//     remainder instead of granting a full TTL again, and Promote's `extend` keeps an
//     election from revoking leases whose owners could not reach anyone during it.
//
// Time is passed in (`now_ns` from env::Loop::NowNanos) rather than read: the Lessor has no
// clock of its own, so the simulator controls it completely. All iteration is over ordered
// containers, so results are deterministic.
#ifndef KEEL_KV_LEASE_LESSOR_H_
#define KEEL_KV_LEASE_LESSOR_H_

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace keel::kv {

using LeaseId = int64_t;
inline constexpr LeaseId kNoLease = 0;
// etcd's MaxLeaseTTL: larger grants fail with "etcdserver: too large lease TTL".
inline constexpr int64_t kMaxLeaseTtlSeconds = 9'000'000'000;

struct LessorOptions {
  // Grants below this are raised to it (etcd: ceil(3 * election timeout), so a lease can
  // survive an election).
  int64_t min_ttl_seconds = 2;
  // How often the primary checkpoints a lease's remaining TTL into the log (etcd: 5 min).
  // Leases whose TTL is shorter than this are not checkpointed.
  int64_t checkpoint_interval_ns = 300'000'000'000;
  // After a lease is reported expired, it is reported again after this long if its revoke
  // has not been applied by then (the proposal may have been lost).
  int64_t expired_retry_ns = 3'000'000'000;
};

// The durable part of a lease, as persisted beside the KV data (etcd's leasepb.Lease).
struct LeaseRecord {
  LeaseId id = kNoLease;
  int64_t ttl_seconds = 0;
  int64_t remaining_ttl_seconds = 0;  // last checkpoint; 0 = none
};

struct LeaseTimeToLive {
  LeaseId id = kNoLease;
  int64_t granted_ttl_seconds = 0;
  // Seconds left, rounded up as etcd does; -1 once expired (revoke pending). On a
  // non-primary it is the checkpointed remainder, or the granted TTL without one.
  int64_t ttl_seconds = 0;
  std::vector<std::string> keys;  // sorted
};

struct RenewResult {
  int64_t ttl_seconds = 0;
  // The lease carried a checkpointed remainder: the server must propose a checkpoint of 0
  // so that a later leader does not resurrect the stale remainder (etcd does the same).
  bool clear_checkpoint = false;
};

class Lessor {
 public:
  explicit Lessor(LessorOptions options);
  Lessor(const Lessor&) = delete;
  Lessor& operator=(const Lessor&) = delete;

  // ---- Replicated state: applied on every member, in log order. ----

  // Creates lease `id` (non-zero) with `ttl_seconds` (raised to the minimum). Returns the
  // effective TTL. Errors: lease not found (id 0, as etcd), exists, TTL too large.
  absl::StatusOr<int64_t> Grant(LeaseId id, int64_t ttl_seconds, int64_t now_ns);
  // Removes the lease and returns its keys (sorted); the caller deletes them in the same
  // revision. Error: lease not found.
  absl::StatusOr<std::vector<std::string>> Revoke(LeaseId id);
  // Error: lease not found.
  absl::Status Attach(LeaseId id, std::string_view key);
  // No-op when the lease or key is unknown (the lease may have been revoked first).
  void Detach(LeaseId id, std::string_view key);
  // Records a remaining TTL from the log (0 clears it). Unknown leases are ignored: the
  // checkpoint may race a revoke.
  void Checkpoint(LeaseId id, int64_t remaining_ttl_seconds, int64_t now_ns);

  // Reloads persisted leases (on start-up, or after installing a snapshot), replacing
  // everything. Keys are re-attached by the caller while rebuilding the key index.
  void Restore(const std::vector<LeaseRecord>& records);

  // ---- Primary only: the leader's clock on leases. ----

  // This member became leader: every lease expires `extend_ns` after its remaining TTL
  // (the checkpointed remainder if any, else the full TTL), counted from `now_ns`.
  void Promote(int64_t now_ns, int64_t extend_ns);
  // This member is no longer leader: expiries become "forever".
  void Demote();
  bool is_primary() const { return primary_; }

  // Keep-alive. Errors: not primary (kFailedPrecondition), lease not found, and a lease
  // already past expiry counts as not found (its revoke is in flight), as in etcd.
  absl::StatusOr<RenewResult> Renew(LeaseId id, int64_t now_ns);
  // Up to `max` leases whose expiry is <= now, oldest first. Each is reported again only
  // after `expired_retry_ns` if still present. Empty when not primary.
  std::vector<LeaseId> ExpiredLeases(int64_t now_ns, size_t max);
  // Up to `max` (id, remaining seconds) pairs due for a checkpoint. Empty when not primary.
  std::vector<std::pair<LeaseId, int64_t>> DueCheckpoints(int64_t now_ns, size_t max);

  // ---- Queries. ----
  bool Exists(LeaseId id) const { return leases_.contains(id); }
  absl::StatusOr<LeaseTimeToLive> TimeToLive(LeaseId id, int64_t now_ns) const;
  std::vector<LeaseId> Leases() const;  // ascending ID
  absl::StatusOr<LeaseRecord> Record(LeaseId id) const;
  size_t size() const { return leases_.size(); }

 private:
  static constexpr int64_t kForever = std::numeric_limits<int64_t>::max();

  struct Lease {
    int64_t ttl_seconds = 0;
    int64_t remaining_ttl_seconds = 0;  // checkpointed remainder, 0 = none
    int64_t expiry_ns = kForever;       // primary only
    int64_t next_report_ns = kForever;  // position in expiry_queue_
    int64_t next_checkpoint_ns = kForever;
    absl::btree_set<std::string> keys;
  };

  // (time, id) queues, kept in step with the Lease fields of the same name.
  void SetNextReport(LeaseId id, Lease& lease, int64_t when_ns);
  void SetNextCheckpoint(LeaseId id, Lease& lease, int64_t when_ns);
  // Starts the primary's clock for one lease: expires `remaining_s + extend` from now.
  void Refresh(LeaseId id, Lease& lease, int64_t now_ns, int64_t remaining_s, int64_t extend_ns);
  static int64_t RemainingSeconds(const Lease& lease, int64_t now_ns);

  const LessorOptions options_;
  bool primary_ = false;
  absl::btree_map<LeaseId, Lease> leases_;
  absl::btree_set<std::pair<int64_t, LeaseId>> expiry_queue_;
  absl::btree_set<std::pair<int64_t, LeaseId>> checkpoint_queue_;
};

}  // namespace keel::kv

#endif  // KEEL_KV_LEASE_LESSOR_H_
