// The server core: one Keel member. keeld wraps it in gRPC; keelsim drives several of them
// from simulated clients. Both get exactly this code; only the env::Env differs.
//
// Threading: every method is called on the member's env::Loop, and every callback runs on
// that Loop. Other threads (gRPC) hand work over with Loop::Post and must not touch the
// Server otherwise. Callbacks may run before the method returns (e.g. a serializable read
// or an immediate error).
//
// What a response means (the contract clients rely on):
//   * A write's callback with OK: the request is committed on a quorum, durable in this
//     member's WAL, and applied here; the response header's revision is the store revision
//     after it.
//   * A write's callback with an error from the list in kv/errors.h: the request was
//     applied and failed deterministically on every member (e.g. compacted revision).
//   * kUnavailable ("etcdserver: no leader", "etcdserver: leader changed",
//     "etcdserver: request timed out", "etcdserver: server stopped"): the outcome is
//     UNKNOWN — the request may or may not take effect. Clients must not assume either.
//   * A linearizable read reflects every write acknowledged before the read was issued
//     (ReadIndex); a serializable read (RangeRequest.serializable) is served locally and
//     may be stale.
#ifndef KEEL_SERVER_SERVER_H_
#define KEEL_SERVER_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "api/etcdserverpb/rpc.pb.h"
#include "env/env.h"
#include "server/config.h"
#include "server/server_metrics.h"

namespace keel::server {

template <typename Response>
using Callback = absl::AnyInvocable<void(absl::StatusOr<Response>) &&>;

// Who sends a request, as the transport saw it (the inputs of etcd's AuthInfoFromCtx).
// Empty = no credentials: fine while auth is off; with auth on, writes and reads then fail
// "etcdserver: user name is empty", as in etcd.
struct Caller {
  // A simple token from Authenticate (gRPC metadata "token"). Unknown or expired:
  // the request fails "etcdserver: invalid auth token".
  std::string token;
  // The verified client certificate's CN under --client-cert-auth (used when no token is
  // given, etcd's rule). Filled by the transport; empty when there is none.
  std::string common_name;
};

// Receives the responses of one watch stream (etcd's Watch RPC), on the Loop.
class WatchSink {
 public:
  virtual ~WatchSink() = default;
  // Hands responses to the transport, all or none: they are the fragments of one logical
  // response (or a single response) and must stay together and in order. Returns false
  // when the transport's bounded buffer cannot take them all; the stream then re-reads
  // those events later and offers them again after WatchStream::OnSinkWritable, so a slow
  // client never blocks writers and never loses or reorders events.
  virtual bool Send(const std::vector<etcdserverpb::WatchResponse>& responses) = 0;
};

// One client watch stream: many watchers multiplexed, as in etcd's Watch RPC. Destroying it
// cancels all its watchers.
class WatchStream {
 public:
  virtual ~WatchStream() = default;
  // create_request / cancel_request / progress_request, with etcd's semantics (watch IDs
  // chosen by the server unless given; created/canceled responses; compact_revision when
  // the start revision is compacted).
  virtual void Handle(const etcdserverpb::WatchRequest& request) = 0;
  // The sink has room again after returning false from Send.
  virtual void OnSinkWritable() = 0;
};

// Reads a consistent copy of the member's state for `etcdctl snapshot save`, in bounded
// chunks.
class SnapshotReader {
 public:
  virtual ~SnapshotReader() = default;
  // Next chunk (at most max_bytes), empty at the end; remaining_bytes is etcd's
  // SnapshotResponse.remaining_bytes.
  virtual absl::StatusOr<std::string> Next(size_t max_bytes, uint64_t* remaining_bytes) = 0;
};

// Point-in-time facts for /health, /metrics, status tools and simulation checkers.
struct ServerStats {
  uint64_t member_id = 0;
  uint64_t cluster_id = 0;
  uint64_t leader_id = 0;  // 0 = no known leader
  uint64_t raft_term = 0;
  uint64_t raft_index = 0;          // last log index
  uint64_t raft_commit_index = 0;
  uint64_t raft_applied_index = 0;
  int64_t revision = 0;
  int64_t compact_revision = 0;
  uint64_t db_size_bytes = 0;
  bool is_learner = false;
  std::vector<etcdserverpb::AlarmMember> alarms;
  uint64_t proposals_committed = 0;
  uint64_t proposals_applied = 0;
  uint64_t proposals_pending = 0;
  uint64_t proposals_failed = 0;
  uint64_t leader_changes_seen = 0;
  uint64_t wal_fsyncs = 0;
  uint64_t slow_applies = 0;
  // InstallSnapshot transfers (server/snapshot_transfer.h): sent by this member as leader
  // (started, succeeded, failed incl. refused, image bytes sent) and received.
  uint64_t snapshots_sent = 0;
  uint64_t snapshots_send_failed = 0;
  uint64_t snapshot_bytes_sent = 0;
  uint64_t snapshots_received = 0;
  uint64_t snapshot_receive_failures = 0;
  // Latency histograms and per-peer traffic (server/server_metrics.h).
  ServerMetrics metrics;
  uint64_t quota_backend_bytes = 0;   // effective --quota-backend-bytes
  uint64_t db_size_in_use_bytes = 0;  // as Status' dbSizeInUse
  // Requests refused with "etcdserver: too many requests" because the apply backlog
  // exceeded etcd's maxGapBetweenApplyAndCommitIndex (5000).
  uint64_t too_many_requests = 0;
};

class Server {
 public:
  // Opens the member's data directory through env->fs(): recovers from its snapshot, WAL
  // and backend, or bootstraps a new member as `config` says. Fails with a clear message
  // for a locked, corrupt or mismatched data directory. Call on env->loop().
  static absl::StatusOr<std::unique_ptr<Server>> Open(env::Env* env, ServerConfig config);
  virtual ~Server() = default;

  // Starts ticking and serving. Before Start, requests fail with kUnavailable.
  virtual void Start() = 0;
  // Stops ticking, fails pending requests with "etcdserver: server stopped" (unknown
  // outcome), closes files. Idempotent. Destroying a started Server stops it.
  virtual void Stop() = 0;

  // ---- KV ----
  virtual void Range(const etcdserverpb::RangeRequest& request,
                     Callback<etcdserverpb::RangeResponse> done,
                     const Caller& caller = {}) = 0;
  virtual void Put(const etcdserverpb::PutRequest& request,
                   Callback<etcdserverpb::PutResponse> done,
                   const Caller& caller = {}) = 0;
  virtual void DeleteRange(const etcdserverpb::DeleteRangeRequest& request,
                           Callback<etcdserverpb::DeleteRangeResponse> done,
                           const Caller& caller = {}) = 0;
  virtual void Txn(const etcdserverpb::TxnRequest& request,
                   Callback<etcdserverpb::TxnResponse> done,
                   const Caller& caller = {}) = 0;
  virtual void Compact(const etcdserverpb::CompactionRequest& request,
                       Callback<etcdserverpb::CompactionResponse> done) = 0;

  // ---- Watch ----
  // `sink` must outlive the returned stream.
  // `caller` is resolved again at each watch creation, which needs read permission on
  // the watched range (refused: a created+canceled response, as etcd).
  virtual std::unique_ptr<WatchStream> NewWatchStream(WatchSink* sink,
                                                      const Caller& caller = {}) = 0;

  // ---- Lease ----
  virtual void LeaseGrant(const etcdserverpb::LeaseGrantRequest& request,
                          Callback<etcdserverpb::LeaseGrantResponse> done) = 0;
  virtual void LeaseRevoke(const etcdserverpb::LeaseRevokeRequest& request,
                           Callback<etcdserverpb::LeaseRevokeResponse> done,
                           const Caller& caller = {}) = 0;
  // One keep-alive of a LeaseKeepAlive stream; forwarded to the leader when needed.
  virtual void LeaseKeepAlive(const etcdserverpb::LeaseKeepAliveRequest& request,
                              Callback<etcdserverpb::LeaseKeepAliveResponse> done) = 0;
  virtual void LeaseTimeToLive(const etcdserverpb::LeaseTimeToLiveRequest& request,
                               Callback<etcdserverpb::LeaseTimeToLiveResponse> done) = 0;
  virtual void LeaseLeases(const etcdserverpb::LeaseLeasesRequest& request,
                           Callback<etcdserverpb::LeaseLeasesResponse> done) = 0;

  // ---- Cluster ----
  virtual void MemberAdd(const etcdserverpb::MemberAddRequest& request,
                         Callback<etcdserverpb::MemberAddResponse> done) = 0;
  virtual void MemberRemove(const etcdserverpb::MemberRemoveRequest& request,
                            Callback<etcdserverpb::MemberRemoveResponse> done) = 0;
  virtual void MemberUpdate(const etcdserverpb::MemberUpdateRequest& request,
                            Callback<etcdserverpb::MemberUpdateResponse> done) = 0;
  virtual void MemberList(const etcdserverpb::MemberListRequest& request,
                          Callback<etcdserverpb::MemberListResponse> done) = 0;
  virtual void MemberPromote(const etcdserverpb::MemberPromoteRequest& request,
                             Callback<etcdserverpb::MemberPromoteResponse> done) = 0;

  // ---- Maintenance ----
  virtual void Alarm(const etcdserverpb::AlarmRequest& request,
                     Callback<etcdserverpb::AlarmResponse> done) = 0;
  virtual void Status(const etcdserverpb::StatusRequest& request,
                      Callback<etcdserverpb::StatusResponse> done) = 0;
  virtual void Defragment(const etcdserverpb::DefragmentRequest& request,
                          Callback<etcdserverpb::DefragmentResponse> done) = 0;
  virtual void Hash(const etcdserverpb::HashRequest& request,
                    Callback<etcdserverpb::HashResponse> done) = 0;
  virtual void HashKV(const etcdserverpb::HashKVRequest& request,
                      Callback<etcdserverpb::HashKVResponse> done) = 0;
  virtual absl::StatusOr<std::unique_ptr<SnapshotReader>> Snapshot() = 0;
  virtual void MoveLeader(const etcdserverpb::MoveLeaderRequest& request,
                          Callback<etcdserverpb::MoveLeaderResponse> done) = 0;

  // ---- Auth (etcd's Auth service; server/auth_store.h) ----
  // Admin requests need a root-role caller once auth is on; all go through Raft and are
  // checked when they apply. Passwords are hashed (bcrypt) before proposing.
  virtual void AuthEnable(const etcdserverpb::AuthEnableRequest& request,
                          Callback<etcdserverpb::AuthEnableResponse> done,
                          const Caller& caller) = 0;
  virtual void AuthDisable(const etcdserverpb::AuthDisableRequest& request,
                           Callback<etcdserverpb::AuthDisableResponse> done,
                           const Caller& caller) = 0;
  // Checks the password off the Loop (ServerConfig::auth_crypto), then proposes the token.
  virtual void Authenticate(const etcdserverpb::AuthenticateRequest& request,
                            Callback<etcdserverpb::AuthenticateResponse> done) = 0;
  virtual void UserAdd(const etcdserverpb::AuthUserAddRequest& request,
                       Callback<etcdserverpb::AuthUserAddResponse> done, const Caller& caller) = 0;
  virtual void UserGet(const etcdserverpb::AuthUserGetRequest& request,
                       Callback<etcdserverpb::AuthUserGetResponse> done, const Caller& caller) = 0;
  virtual void UserList(const etcdserverpb::AuthUserListRequest& request,
                        Callback<etcdserverpb::AuthUserListResponse> done,
                        const Caller& caller) = 0;
  virtual void UserDelete(const etcdserverpb::AuthUserDeleteRequest& request,
                          Callback<etcdserverpb::AuthUserDeleteResponse> done,
                          const Caller& caller) = 0;
  virtual void UserChangePassword(const etcdserverpb::AuthUserChangePasswordRequest& request,
                                  Callback<etcdserverpb::AuthUserChangePasswordResponse> done,
                                  const Caller& caller) = 0;
  virtual void UserGrantRole(const etcdserverpb::AuthUserGrantRoleRequest& request,
                             Callback<etcdserverpb::AuthUserGrantRoleResponse> done,
                             const Caller& caller) = 0;
  virtual void UserRevokeRole(const etcdserverpb::AuthUserRevokeRoleRequest& request,
                              Callback<etcdserverpb::AuthUserRevokeRoleResponse> done,
                              const Caller& caller) = 0;
  virtual void RoleAdd(const etcdserverpb::AuthRoleAddRequest& request,
                       Callback<etcdserverpb::AuthRoleAddResponse> done, const Caller& caller) = 0;
  virtual void RoleGet(const etcdserverpb::AuthRoleGetRequest& request,
                       Callback<etcdserverpb::AuthRoleGetResponse> done, const Caller& caller) = 0;
  virtual void RoleList(const etcdserverpb::AuthRoleListRequest& request,
                        Callback<etcdserverpb::AuthRoleListResponse> done,
                        const Caller& caller) = 0;
  virtual void RoleDelete(const etcdserverpb::AuthRoleDeleteRequest& request,
                          Callback<etcdserverpb::AuthRoleDeleteResponse> done,
                          const Caller& caller) = 0;
  virtual void RoleGrantPermission(const etcdserverpb::AuthRoleGrantPermissionRequest& request,
                                   Callback<etcdserverpb::AuthRoleGrantPermissionResponse> done,
                                   const Caller& caller) = 0;
  virtual void RoleRevokePermission(const etcdserverpb::AuthRoleRevokePermissionRequest& request,
                                    Callback<etcdserverpb::AuthRoleRevokePermissionResponse> done,
                                    const Caller& caller) = 0;
  // etcd's authMaintenanceServer: Defragment, Hash, HashKV and Snapshot need a root-role
  // caller once auth is on. OK when auth is off.
  virtual absl::Status CheckAdmin(const Caller& caller) = 0;
  // Runs `then` on the Loop once `caller` can be resolved here: at once, unless its simple
  // token names the raft index of an Authenticate entry this member has not applied yet
  // (a token issued through another member); then when that index is applied, or after
  // the request timeout (the token is then "invalid"), or at Stop. etcd 3.4's
  // tokenSimple.isValidSimpleToken waits the same way (indexWaiter). The transport calls
  // this before every request that carries a caller.
  virtual void WhenCallerReady(const Caller& caller, absl::AnyInvocable<void() &&> then) = 0;

  // ---- Introspection ----
  virtual ServerStats Stats() const = 0;
  // etcd's /health: healthy iff a leader is known and no alarm is raised; the HTTP layer
  // additionally performs a linearizable Range, as etcd 3.4 does.
  virtual bool HasLeader() const = 0;
  // The members as this member last applied them, usable before Start (keeld's initial
  // corruption check asks the others, node/initial_corrupt_check.h).
  virtual std::vector<etcdserverpb::Member> KnownMembers() const = 0;
};

}  // namespace keel::server

#endif  // KEEL_SERVER_SERVER_H_
