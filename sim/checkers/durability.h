// End-of-run checks on the replicas' final state against the client history.
//
// Durability ("durability-lost-write"): every acknowledged write must be visible in the final
// state of every replica that is up after the liveness phase, unless a later write could
// have replaced it. Per key, take the acknowledged write with the highest revision, L. A
// replica passes for that key if
//   - it holds L's effect (L's value with mod_revision == L's revision, or no key after a
//     delete), or
//   - it holds the effect of a write whose revision we do not know (unknown outcome, or
//     acknowledged without a revision) with mod_revision above L's, or
//   - the key is absent and a lease revoke covering it applied after L.
// A replica whose store revision is below L's lost L outright. A key present on a replica
// that no operation in the history ever wrote is "durability-phantom-key".
//
// Leases ("lease-outlived-revoke"): no key attached to a revoked (or expired) lease exists
// at a revision at or after the revoke with a mod_revision before it: not in any replica's
// final state, and not in any linearizable read of the history.
//
// Agreement ("replica-divergence"): replicas agree at equal revisions: HashKV samples with
// equal (revision, compact_revision) have equal hashes, and final states at equal store
// revisions have identical contents.
#ifndef KEEL_SIM_CHECKERS_DURABILITY_H_
#define KEEL_SIM_CHECKERS_DURABILITY_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sim/checkers/history.h"
#include "sim/checkers/violation.h"

namespace keel::sim::checkers {

struct StoredValue {
  std::string value;
  int64_t mod_revision = 0;
};

struct ReplicaFinalState {
  uint64_t node = 0;
  int64_t revision = 0;  // the replica's store revision
  std::map<std::string, StoredValue> kvs;
};

struct LeaseRevoke {
  int64_t lease_id = 0;
  int64_t revoke_revision = 0;    // revision at which the revoke or expiry applied
  std::vector<std::string> keys;  // keys attached to the lease when it was revoked
};

struct HashKvSample {
  uint64_t node = 0;
  int64_t revision = 0;
  int64_t compact_revision = 0;
  uint32_t hash = 0;
};

// `replicas`: the replicas that are up after the liveness phase.
std::optional<Violation> CheckDurability(const History& history,
                                         const std::vector<ReplicaFinalState>& replicas,
                                         const std::vector<LeaseRevoke>& revokes);

std::optional<Violation> CheckLeaseRevokes(const History& history,
                                           const std::vector<ReplicaFinalState>& replicas,
                                           const std::vector<LeaseRevoke>& revokes);

std::optional<Violation> CheckReplicaAgreement(const std::vector<HashKvSample>& samples,
                                               const std::vector<ReplicaFinalState>& replicas);

}  // namespace keel::sim::checkers

#endif  // KEEL_SIM_CHECKERS_DURABILITY_H_
