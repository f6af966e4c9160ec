#include "server/corruption_check.h"

#include "absl/strings/str_format.h"

namespace keel::server {

std::string MemberIdHex(uint64_t id) { return absl::StrFormat("%x", id); }

PeerHash ToPeerHash(uint64_t member_id, const etcdserverpb::HashKVResponse& response) {
  PeerHash peer;
  peer.member_id = member_id;
  peer.hash = KvHash{response.hash(), response.header().revision(), response.compact_revision()};
  return peer;
}

std::vector<HashMismatch> InitialMismatches(const KvHash& local,
                                            const std::vector<PeerHash>& peers) {
  std::vector<HashMismatch> out;
  for (const PeerHash& p : peers) {
    if (!p.hash.has_value() || p.hash->hash == local.hash) continue;
    if (p.hash->compact_revision != local.compact_revision) continue;
    out.push_back(HashMismatch{
        p.member_id,
        absl::StrFormat("found different hash values from remote peer: local hash %d at "
                        "revision %d, remote-peer-id %s hash %d (remote revision %d), "
                        "compact revision %d",
                        local.hash, local.revision, MemberIdHex(p.member_id), p.hash->hash,
                        p.hash->revision, local.compact_revision)});
  }
  return out;
}

std::vector<HashMismatch> PeriodicMismatches(uint64_t self_id, const KvHash& before,
                                             const KvHash& after,
                                             const std::vector<PeerHash>& peers) {
  std::vector<HashMismatch> out;
  if (after.hash != before.hash && after.revision == before.revision &&
      after.compact_revision == before.compact_revision) {
    out.push_back(HashMismatch{
        self_id, absl::StrFormat("found hash mismatch: hash-1 %d, hash-2 %d at revision %d",
                                 before.hash, after.hash, before.revision)});
  }
  for (const PeerHash& p : peers) {
    if (!p.hash.has_value()) continue;
    const std::string peer = MemberIdHex(p.member_id);
    if (p.hash->revision > after.revision) {
      out.push_back(HashMismatch{
          p.member_id,
          absl::StrFormat("revision from follower must be less than or equal to leader's: "
                          "leader-revision %d, follower-revision %d, follower-peer-id %s",
                          after.revision, p.hash->revision, peer)});
    }
    if (p.hash->compact_revision > after.compact_revision) {
      out.push_back(HashMismatch{
          p.member_id,
          absl::StrFormat("compact revision from follower must be less than or equal to "
                          "leader's: leader-compact-revision %d, follower-compact-revision "
                          "%d, follower-peer-id %s",
                          after.compact_revision, p.hash->compact_revision, peer)});
    }
    if (p.hash->compact_revision == before.compact_revision && p.hash->hash != before.hash) {
      out.push_back(HashMismatch{
          p.member_id,
          absl::StrFormat("same compact revision then hashes must match: leader-hash %d, "
                          "follower-hash %d at revision %d, follower-peer-id %s",
                          before.hash, p.hash->hash, before.revision, peer)});
    }
  }
  return out;
}

}  // namespace keel::server
