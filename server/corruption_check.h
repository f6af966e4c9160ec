// etcd 3.4's corruption checks (etcdserver/corrupt.go) as pure decisions: given this
// member's HashKV and its peers' answers, which members disagree and why. No I/O: the
// initial check (node/initial_corrupt_check.h, before a restarted member serves) and the
// leader's periodic check (ServerImpl, server_corrupt.cc, on the Loop's timer) gather the
// hashes their own way and ask these functions.
//
// HashKV (kv/mvcc_store.h) is a crc32c over the key bucket up to a revision, skipping what
// compaction removed: two replicas with the same compact revision that applied the same
// log hash equally at any revision both have. A difference there means a replica's data is
// not what the log says (silent corruption: a bit flip under valid checksums, a bug).
#ifndef KEEL_SERVER_CORRUPTION_CHECK_H_
#define KEEL_SERVER_CORRUPTION_CHECK_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "api/etcdserverpb/rpc.pb.h"

namespace keel::server {

// One member's HashKV: the hash at `revision` with compaction at `compact_revision`.
struct KvHash {
  uint32_t hash = 0;
  int64_t revision = 0;
  int64_t compact_revision = 0;
};

// A peer's answer to "HashKV at revision R": its hash (revision = the peer's current
// revision, as etcd's header) or why it could not answer (etcd's ErrFutureRev: the peer is
// behind; ErrCompacted: we are; unreachable).
struct PeerHash {
  uint64_t member_id = 0;
  std::optional<KvHash> hash;
  absl::Status error;
};

// A member found inconsistent, with the reason in etcd's words (its log fields).
struct HashMismatch {
  uint64_t member_id = 0;
  std::string reason;
};

// etcd's CheckInitialHashKV: a peer whose hash differs from ours at the same compact
// revision. (A peer with another compact revision cannot be compared: skipped, as etcd.)
std::vector<HashMismatch> InitialMismatches(const KvHash& local,
                                            const std::vector<PeerHash>& peers);

// etcd's checkHashKV (leader only): `before` was taken when the peers were asked, `after`
// once they answered. Flags the leader itself if its own hash changed at an unchanged
// revision, and a follower whose revision or compact revision is ahead of the leader's, or
// whose hash differs at the leader's compact revision.
std::vector<HashMismatch> PeriodicMismatches(uint64_t self_id, const KvHash& before,
                                             const KvHash& after,
                                             const std::vector<PeerHash>& peers);

// A peer's HashKV answer (or error) as a PeerHash.
PeerHash ToPeerHash(uint64_t member_id, const etcdserverpb::HashKVResponse& response);

// etcd's types.ID.String(): lower-case hex, no padding.
std::string MemberIdHex(uint64_t id);

}  // namespace keel::server

#endif  // KEEL_SERVER_CORRUPTION_CHECK_H_
