// Keel's C++ client. It sees Keel exactly as it sees etcd 3.4: only the wire API in api/.
//
//   auto client = Client::Create({.endpoints = {"127.0.0.1:2379"}});
//   (*client)->Put("k", "v");
//   (*client)->Txn().If(Compare::Value("k") == "v").Then(Op::Put("k", "w")).Commit();
//
// Endpoints and failover: every endpoint gets its own gRPC channel. At Create the client looks
// for the leader (Maintenance.Status -> leader id; a listed endpoint whose member id is the
// leader wins, else MemberList's client URLs for that id) and prefers the leader's endpoint,
// adding it when it was not listed. When an
// endpoint fails to connect or fails a call with UNAVAILABLE, the client moves on to the next.
//
// Retries (the contract that matters): a call is retried on another endpoint only when that
// is safe:
//   * reads (Range, a Txn without writes, Status, MemberList, TimeToLive, Leases, HashKV,
//     election Leader) and idempotent-by-construction ops (Unlock, Resign, Proclaim,
//     LeaseRevoke, Compact) are retried on transient errors until the command deadline;
//   * a write that was SENT and then failed transiently (deadline, connection lost, etcd's
//     "request timed out", "leader changed", "no leader") is never retried: it returns
//     absl::StatusCode::kUnavailable with message "outcome unknown: <cause>"
//     (IsOutcomeUnknown() tests for it). The write may or may not have been applied.
//   * a write is only sent on a channel that is READY, so "could not connect" is safely
//     failed over without ever becoming outcome-unknown.
// Every call carries a deadline of now + command_timeout (lock/campaign take their own).
//
// Thread safety: all methods may be called concurrently.
#ifndef KEEL_CLIENT_CLIENT_H_
#define KEEL_CLIENT_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "api/etcdserverpb/rpc.pb.h"
#include "api/v3electionpb/v3election.pb.h"
#include "api/v3lockpb/v3lock.pb.h"
#include "client/endpoint.h"
#include "client/txn.h"
#include "grpcpp/client_context.h"

namespace keel::client {

struct ClientOptions {
  std::vector<std::string> endpoints;  // "127.0.0.1:2379" or "http://127.0.0.1:2379"
  absl::Duration dial_timeout = absl::Seconds(2);
  absl::Duration command_timeout = absl::Seconds(5);
  // Ask for the leader at Create and prefer it. Off for tools that must talk to exactly the
  // endpoints they were given (keelctl endpoint status).
  bool discover_leader = true;
  // TLS (etcdctl's --cacert/--cert/--key/--insecure-skip-tls-verify); see endpoint.h.
  ClientTls tls;
};

struct GetOptions {
  std::string range_end;  // empty: exactly `key`
  int64_t revision = 0;
  int64_t limit = 0;
  bool serializable = false;
  bool keys_only = false;
  bool count_only = false;
};

class Client {
 public:
  // Fails with UNAVAILABLE "context deadline exceeded" when no endpoint connects within
  // dial_timeout, and INVALID_ARGUMENT when no endpoint is given.
  static absl::StatusOr<std::unique_ptr<Client>> Create(ClientOptions options);

  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // ---- KV ----
  absl::StatusOr<etcdserverpb::RangeResponse> Range(const etcdserverpb::RangeRequest& request);
  absl::StatusOr<etcdserverpb::RangeResponse> Get(std::string_view key, GetOptions options = {});
  absl::StatusOr<etcdserverpb::PutResponse> Put(const etcdserverpb::PutRequest& request);
  absl::StatusOr<etcdserverpb::PutResponse> Put(std::string_view key, std::string_view value,
                                                int64_t lease = 0);
  absl::StatusOr<etcdserverpb::DeleteRangeResponse> Delete(
      const etcdserverpb::DeleteRangeRequest& request);
  absl::StatusOr<etcdserverpb::DeleteRangeResponse> Delete(std::string_view key,
                                                           std::string_view range_end = "");
  TxnBuilder Txn() { return TxnBuilder(this); }
  // Retried only when IsReadOnly(request).
  absl::StatusOr<etcdserverpb::TxnResponse> CommitTxn(const etcdserverpb::TxnRequest& request);
  absl::StatusOr<etcdserverpb::CompactionResponse> Compact(int64_t revision, bool physical = false);

  // ---- Lease ----  (keep-alive: see lease_keep_alive.h)
  // id 0 lets the server choose; a chosen id makes the grant idempotent-by-construction
  // (a duplicate fails with "lease already exists"), but it is still reported as unknown.
  absl::StatusOr<etcdserverpb::LeaseGrantResponse> LeaseGrant(int64_t ttl_seconds, int64_t id = 0);
  absl::StatusOr<etcdserverpb::LeaseRevokeResponse> LeaseRevoke(int64_t id);
  absl::StatusOr<etcdserverpb::LeaseTimeToLiveResponse> LeaseTimeToLive(int64_t id, bool keys);
  absl::StatusOr<etcdserverpb::LeaseLeasesResponse> LeaseLeases();
  // Caller-driven keep-alive: one request on a fresh stream, one response.
  absl::StatusOr<etcdserverpb::LeaseKeepAliveResponse> LeaseKeepAliveOnce(int64_t id);

  // ---- Cluster ----
  absl::StatusOr<etcdserverpb::MemberListResponse> MemberList();
  absl::StatusOr<etcdserverpb::MemberAddResponse> MemberAdd(std::vector<std::string> peer_urls,
                                                            bool is_learner);
  absl::StatusOr<etcdserverpb::MemberRemoveResponse> MemberRemove(uint64_t id);
  absl::StatusOr<etcdserverpb::MemberPromoteResponse> MemberPromote(uint64_t id);

  // ---- Maintenance: addressed to one endpoint, never failed over ----
  absl::StatusOr<etcdserverpb::StatusResponse> Status(std::string_view endpoint);
  absl::StatusOr<etcdserverpb::HashKVResponse> HashKV(std::string_view endpoint, int64_t revision);
  // Finds the leader among the client's endpoints and asks it to hand over to `target_id`.
  // Returns the old leader's id with the response.
  absl::StatusOr<std::pair<uint64_t, etcdserverpb::MoveLeaderResponse>> MoveLeader(uint64_t target_id);
  // Streams a snapshot of the preferred endpoint to `path` (written to path.part, fsynced,
  // renamed). Returns the number of bytes written.
  absl::StatusOr<int64_t> SnapshotSave(const std::string& path);

  // ---- Concurrency (v3lock / v3election); `timeout` bounds the blocking wait ----
  absl::StatusOr<v3lockpb::LockResponse> Lock(std::string_view name, int64_t lease,
                                              absl::Duration timeout);
  absl::StatusOr<v3lockpb::UnlockResponse> Unlock(std::string_view key);
  absl::StatusOr<v3electionpb::CampaignResponse> Campaign(std::string_view name, int64_t lease,
                                                          std::string_view value,
                                                          absl::Duration timeout);
  absl::StatusOr<v3electionpb::ProclaimResponse> Proclaim(const v3electionpb::LeaderKey& leader,
                                                          std::string_view value);
  absl::StatusOr<v3electionpb::LeaderResponse> Leader(std::string_view name);
  absl::StatusOr<v3electionpb::ResignResponse> Resign(const v3electionpb::LeaderKey& leader);
  // Calls `on_leader` for every leader change of election `name` until it returns false,
  // the stream fails, or `timeout` passes (then returns OK).
  absl::Status Observe(std::string_view name, absl::Duration timeout,
                       const std::function<bool(const v3electionpb::LeaderResponse&)>& on_leader);

  // ---- For watchers, keep-alives and tools built on the client ----
  // The endpoint calls should go to now (the leader when known).
  std::shared_ptr<Endpoint> PreferredEndpoint() const;
  // Moves the preference past `failed` (no-op when another caller already did).
  void Failover(const Endpoint* failed);
  // Re-runs leader discovery; OK when a leader was found and preferred.
  absl::Status DiscoverLeader();
  std::vector<std::string> EndpointAddresses() const;
  const ClientOptions& options() const { return options_; }

 private:
  enum class Retry { kSafe, kOnce };
  using UnaryCall = absl::FunctionRef<grpc::Status(Endpoint&, grpc::ClientContext&)>;

  Client(ClientOptions options, std::shared_ptr<grpc::ChannelCredentials> credentials);
  absl::Status Invoke(Retry retry, absl::Duration timeout, UnaryCall call);
  absl::Status Invoke(Retry retry, UnaryCall call) {
    return Invoke(retry, options_.command_timeout, call);
  }
  // The endpoint for `address`, creating a side channel for addresses not in rotation.
  std::shared_ptr<Endpoint> EndpointFor(std::string_view address);

  const ClientOptions options_;
  mutable absl::Mutex mu_;
  // Every channel's: one TLS configuration for the whole cluster, as etcdctl.
  std::shared_ptr<grpc::ChannelCredentials> credentials_;
  std::vector<std::shared_ptr<Endpoint>> endpoints_ ABSL_GUARDED_BY(mu_);  // rotation order
  std::vector<std::shared_ptr<Endpoint>> side_endpoints_ ABSL_GUARDED_BY(mu_);
  size_t preferred_ ABSL_GUARDED_BY(mu_) = 0;  // index into endpoints_
};

}  // namespace keel::client

#endif  // KEEL_CLIENT_CLIENT_H_
