// Joining a running cluster, the peer-port half (etcd's GetClusterFromRemotePeers and the
// /members handler): the question a member with an empty data directory and
// --initial-cluster-state=existing asks, and the answer every running member gives.
//
// Wire: a control query (env/tcp_frame.h, from == 0) whose payload is kMembersQuery,
// answered with a serialized etcdserverpb::MemberListResponse (header.cluster_id plus
// the members with IDs, names, peer and client URLs, learner flags), or with an empty
// payload if the member cannot answer (not started, stopping).
#ifndef KEEL_NODE_CLUSTER_JOIN_H_
#define KEEL_NODE_CLUSTER_JOIN_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "api/etcdserverpb/rpc.pb.h"
#include "env/tls.h"
#include "server/config.h"

namespace keel::node {

inline constexpr std::string_view kMembersQuery = "members";

// The running cluster as a MemberList answer describes it. kUnavailable if `answer` is
// empty or not a MemberListResponse with a cluster ID and members.
absl::StatusOr<server::ExistingCluster> ParseMembersAnswer(std::string_view answer);

// The peer URLs to ask: every URL of every --initial-cluster member other than `self_name`
// (etcd's getRemotePeerURLs), in flag order, duplicates removed.
std::vector<std::string> RemotePeerUrls(const std::vector<server::PeerConfig>& initial_cluster,
                                        const std::string& self_name);

// Asks each remote peer URL in turn (at most `per_peer_timeout_ms` each, so the whole call
// is bounded by their number) and returns the first usable answer. Fails with etcd's
// "cannot fetch cluster info from peer urls" and the last reason. https peer URLs are
// asked over TLS with `tls` (--peer-* flags; required for them).
absl::StatusOr<server::ExistingCluster> FetchExistingCluster(
    const std::vector<server::PeerConfig>& initial_cluster, const std::string& self_name,
    int64_t per_peer_timeout_ms, const env::TlsContext* tls = nullptr);

}  // namespace keel::node

#endif  // KEEL_NODE_CLUSTER_JOIN_H_
