// Member and cluster IDs computed exactly as etcd 3.4 computes them
// (etcdserver/api/membership/member.go NewMember, cluster.go genID), so a Keel cluster
// bootstrapped with the same --initial-cluster and --initial-cluster-token as an etcd
// cluster reports the same IDs in `etcdctl member list` and response headers.
#ifndef KEEL_SERVER_MEMBER_ID_H_
#define KEEL_SERVER_MEMBER_ID_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace keel::server {

// First 8 bytes (big-endian) of SHA-1 over the sorted peer URLs concatenated, then the
// cluster token, then (for members added at runtime) the decimal Unix time in seconds.
uint64_t ComputeMemberId(std::vector<std::string> peer_urls, const std::string& cluster_token,
                         std::optional<int64_t> added_unix_seconds = std::nullopt);

// First 8 bytes (big-endian) of SHA-1 over the member IDs, sorted ascending, each as 8
// big-endian bytes.
uint64_t ComputeClusterId(std::vector<uint64_t> member_ids);

}  // namespace keel::server

#endif  // KEEL_SERVER_MEMBER_ID_H_
