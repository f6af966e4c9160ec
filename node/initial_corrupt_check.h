// --experimental-initial-corrupt-check (etcd 3.4's CheckInitialHashKV): a restarted member
// (one whose WAL existed) compares its HashKV with every peer's at its own revision before
// it starts Raft or serves a client; a peer that hashes differently at the same compact
// revision means this member's data is not the cluster's, and keeld refuses to start with
// etcd's "<member id> found data inconsistency with peers".
//
// Wire (etcd: GET /members/hashkv on the peer port, JSON): a control query on the peer
// port (env/tcp_frame.h, like cluster_join.h's) whose payload is "hashkv:<revision>",
// answered with 'O' + a serialized etcdserverpb::HashKVResponse (header.member_id and
// header.revision = the peer's), or 'E' + "<absl code>:<message>" (etcd's ErrFutureRev /
// ErrCompacted), or empty if the member cannot answer.
#ifndef KEEL_NODE_INITIAL_CORRUPT_CHECK_H_
#define KEEL_NODE_INITIAL_CORRUPT_CHECK_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "api/etcdserverpb/rpc.pb.h"
#include "env/tls.h"
#include "server/corruption_check.h"

namespace keel::node {

inline constexpr std::string_view kHashKvQueryPrefix = "hashkv:";

std::string HashKvQuery(int64_t revision);
// The revision a query asks for; nullopt if `request` is not a HashKV query.
std::optional<int64_t> ParseHashKvQuery(std::string_view request);
std::string HashKvAnswer(const absl::StatusOr<etcdserverpb::HashKVResponse>& response);
server::PeerHash ParseHashKvAnswer(uint64_t member_id, std::string_view answer);

// Asks every member but `self_id` (each of its peer URLs in turn until one answers, at most
// `per_url_timeout_ms` each) for its HashKV at `local.revision`, logs each finding with
// `warn`, and fails with etcd's error if any peer disagrees.
absl::Status CheckInitialHashKv(uint64_t self_id, const server::KvHash& local,
                                const std::vector<etcdserverpb::Member>& members,
                                int64_t per_url_timeout_ms, const env::TlsContext* tls,
                                const std::function<void(const std::string&)>& warn);

}  // namespace keel::node

#endif  // KEEL_NODE_INITIAL_CORRUPT_CHECK_H_
