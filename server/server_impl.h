// The implementation of Server (server.h): one member's event-loop-driven core.
//
// The Ready loop (README.md has the diagram):
//   tick / peer message / client request  ->  RawNode
//   RawNode::GetReady()  ->  send `messages` now (a leader's appends go out while its own
//   fsync runs, thesis §10.2.1); save a received snapshot; one WAL Save (one write + one
//   fsync, however many entries: group commit)  ->  on completion: append to the in-memory
//   raft log, send `messages_after_persist`, apply committed entries to the MVCC store in
//   one backend batch together with the consistent index, answer waiting clients, Advance.
// Only one Ready is outstanding at a time; ticks, messages and proposals keep flowing into
// RawNode meanwhile.
//
// Recovery: newest valid snapshot file -> WAL opened at it -> replay into MemoryStorage;
// the backend's consistent index says which committed entries are already applied, so
// restart re-delivers entries after the snapshot and the apply path skips those at or
// below it (configuration changes are re-applied to Raft, whose configuration comes from
// the snapshot and the log, not from the backend).
#ifndef KEEL_SERVER_SERVER_IMPL_H_
#define KEEL_SERVER_SERVER_IMPL_H_

#include <algorithm>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "absl/strings/str_format.h"
#include "env/env.h"
#include "kv/lease/lessor.h"
#include "kv/mvcc_store.h"
#include "kv/watch_hub.h"
#include "raft/rawnode.h"
#include "raft/storage.h"
#include "server/alarms.h"
#include "server/applier.h"
#include "server/auto_compactor.h"
#include "server/corruption_check.h"
#include "server/auth_crypto.h"
#include "server/auth_store.h"
#include "server/auth_tokens.h"
#include "server/membership.h"
#include "server/reconfig_check.h"
#include "server/request_id.h"
#include "server/server.h"
#include "server/serverpb/internal.pb.h"
#include "server/snapshot_transfer.h"
#include "storage/snapshotter.h"
#include "storage/wal.h"

namespace keel::server {

class ServerImpl final : public Server, public env::TransportHandler {
 public:
  ServerImpl(env::Env* env, ServerConfig config);
  ~ServerImpl() override;

  // Opens or bootstraps the data directory (Server::Open's work).
  absl::Status Init();

  void Start() override;
  void Stop() override;

  void Range(const etcdserverpb::RangeRequest& request,
             Callback<etcdserverpb::RangeResponse> done,
             const Caller& caller = {}) override;
  void Put(const etcdserverpb::PutRequest& request,
           Callback<etcdserverpb::PutResponse> done,
           const Caller& caller = {}) override;
  void DeleteRange(const etcdserverpb::DeleteRangeRequest& request,
                   Callback<etcdserverpb::DeleteRangeResponse> done,
                   const Caller& caller = {}) override;
  void Txn(const etcdserverpb::TxnRequest& request,
           Callback<etcdserverpb::TxnResponse> done,
           const Caller& caller = {}) override;
  void Compact(const etcdserverpb::CompactionRequest& request,
               Callback<etcdserverpb::CompactionResponse> done) override;
  std::unique_ptr<WatchStream> NewWatchStream(WatchSink* sink,
                                              const Caller& caller = {}) override;
  void LeaseGrant(const etcdserverpb::LeaseGrantRequest& request,
                  Callback<etcdserverpb::LeaseGrantResponse> done) override;
  void LeaseRevoke(const etcdserverpb::LeaseRevokeRequest& request,
                   Callback<etcdserverpb::LeaseRevokeResponse> done,
                   const Caller& caller = {}) override;
  void LeaseKeepAlive(const etcdserverpb::LeaseKeepAliveRequest& request,
                      Callback<etcdserverpb::LeaseKeepAliveResponse> done) override;
  void LeaseTimeToLive(const etcdserverpb::LeaseTimeToLiveRequest& request,
                       Callback<etcdserverpb::LeaseTimeToLiveResponse> done) override;
  void LeaseLeases(const etcdserverpb::LeaseLeasesRequest& request,
                   Callback<etcdserverpb::LeaseLeasesResponse> done) override;
  void MemberAdd(const etcdserverpb::MemberAddRequest& request,
                 Callback<etcdserverpb::MemberAddResponse> done) override;
  void MemberRemove(const etcdserverpb::MemberRemoveRequest& request,
                    Callback<etcdserverpb::MemberRemoveResponse> done) override;
  void MemberUpdate(const etcdserverpb::MemberUpdateRequest& request,
                    Callback<etcdserverpb::MemberUpdateResponse> done) override;
  void MemberList(const etcdserverpb::MemberListRequest& request,
                  Callback<etcdserverpb::MemberListResponse> done) override;
  void MemberPromote(const etcdserverpb::MemberPromoteRequest& request,
                     Callback<etcdserverpb::MemberPromoteResponse> done) override;
  void Alarm(const etcdserverpb::AlarmRequest& request,
             Callback<etcdserverpb::AlarmResponse> done) override;
  void Status(const etcdserverpb::StatusRequest& request,
              Callback<etcdserverpb::StatusResponse> done) override;
  void Defragment(const etcdserverpb::DefragmentRequest& request,
                  Callback<etcdserverpb::DefragmentResponse> done) override;
  void Hash(const etcdserverpb::HashRequest& request,
            Callback<etcdserverpb::HashResponse> done) override;
  void HashKV(const etcdserverpb::HashKVRequest& request,
              Callback<etcdserverpb::HashKVResponse> done) override;
  absl::StatusOr<std::unique_ptr<SnapshotReader>> Snapshot() override;
  void MoveLeader(const etcdserverpb::MoveLeaderRequest& request,
                  Callback<etcdserverpb::MoveLeaderResponse> done) override;
  // Auth (server_auth.cc).
  void AuthEnable(const etcdserverpb::AuthEnableRequest& request, Callback<etcdserverpb::AuthEnableResponse> done,
      const Caller& caller) override;
  void AuthDisable(const etcdserverpb::AuthDisableRequest& request, Callback<etcdserverpb::AuthDisableResponse> done,
      const Caller& caller) override;
  void UserAdd(const etcdserverpb::AuthUserAddRequest& request, Callback<etcdserverpb::AuthUserAddResponse> done,
      const Caller& caller) override;
  void UserGet(const etcdserverpb::AuthUserGetRequest& request, Callback<etcdserverpb::AuthUserGetResponse> done,
      const Caller& caller) override;
  void UserList(const etcdserverpb::AuthUserListRequest& request, Callback<etcdserverpb::AuthUserListResponse> done,
      const Caller& caller) override;
  void UserDelete(const etcdserverpb::AuthUserDeleteRequest& request, Callback<etcdserverpb::AuthUserDeleteResponse> done,
      const Caller& caller) override;
  void UserChangePassword(const etcdserverpb::AuthUserChangePasswordRequest& request, Callback<etcdserverpb::AuthUserChangePasswordResponse> done,
      const Caller& caller) override;
  void UserGrantRole(const etcdserverpb::AuthUserGrantRoleRequest& request, Callback<etcdserverpb::AuthUserGrantRoleResponse> done,
      const Caller& caller) override;
  void UserRevokeRole(const etcdserverpb::AuthUserRevokeRoleRequest& request, Callback<etcdserverpb::AuthUserRevokeRoleResponse> done,
      const Caller& caller) override;
  void RoleAdd(const etcdserverpb::AuthRoleAddRequest& request, Callback<etcdserverpb::AuthRoleAddResponse> done,
      const Caller& caller) override;
  void RoleGet(const etcdserverpb::AuthRoleGetRequest& request, Callback<etcdserverpb::AuthRoleGetResponse> done,
      const Caller& caller) override;
  void RoleList(const etcdserverpb::AuthRoleListRequest& request, Callback<etcdserverpb::AuthRoleListResponse> done,
      const Caller& caller) override;
  void RoleDelete(const etcdserverpb::AuthRoleDeleteRequest& request, Callback<etcdserverpb::AuthRoleDeleteResponse> done,
      const Caller& caller) override;
  void RoleGrantPermission(const etcdserverpb::AuthRoleGrantPermissionRequest& request, Callback<etcdserverpb::AuthRoleGrantPermissionResponse> done,
      const Caller& caller) override;
  void RoleRevokePermission(const etcdserverpb::AuthRoleRevokePermissionRequest& request, Callback<etcdserverpb::AuthRoleRevokePermissionResponse> done,
      const Caller& caller) override;
  void Authenticate(const etcdserverpb::AuthenticateRequest& request,
                    Callback<etcdserverpb::AuthenticateResponse> done) override;
  absl::Status CheckAdmin(const Caller& caller) override;
  void WhenCallerReady(const Caller& caller, absl::AnyInvocable<void() &&> then) override;
  ServerStats Stats() const override;
  bool HasLeader() const override { return leader_id_ != 0; }
  std::vector<etcdserverpb::Member> KnownMembers() const override;

  // env::TransportHandler
  void OnMessage(uint64_t from, std::string payload) override;
  void OnPeerUnreachable(uint64_t peer) override;

  // For the simulator's checkers.
  kv::MvccStore& store() { return *store_; }
  const raft::RawNode& raft_node() const { return *raft_; }
  const raft::MemoryStorage& raft_log() const { return raft_storage_; }
  // Recovery: the WAL's HardState raised to what the recovered snapshot implies (its index
  // committed, its term reached, no vote in a raised term). See server_recovery.cc.
  static raftpb::HardState HardStateCoveringSnapshot(raftpb::HardState hs,
                                                     const raftpb::Snapshot& snapshot);
  uint64_t applied_index() const { return applied_index_; }
  // Index of the newest snapshot this member took or installed (0: none).
  uint64_t snapshot_index() const { return snapshot_index_; }
  uint64_t member_id() const { return member_id_; }
  // The membership as this member applied it (the simulator's membership checks).
  const Membership& membership() const { return *membership_; }
  // Stopped for good: this member applied its own removal (etcd exits then).
  bool stopped() const { return stopped_; }

 private:
  class WatchStreamImpl;
  class LessorHooks;

  // A client waiting for its proposal to be applied on this member.
  struct Waiter {
    absl::AnyInvocable<void(ApplyResult) &&> done;
    env::TimerId timeout = 0;
  };
  // A read waiting for a ReadIndex and then for the applied index to reach it.
  using ReadDone = absl::AnyInvocable<void(absl::Status) &&>;
  struct ReadBatch {
    std::vector<ReadDone> reads;
    env::TimerId timeout = 0;  // the retry timer of the ReadIndex in flight
    int64_t deadline_ns = 0;   // Loop time after which the reads fail
  };
  // A request forwarded to the leader, waiting for its reply.
  struct Forwarded {
    absl::AnyInvocable<void(const serverpb::ForwardedResponse&) &&> done;
    env::TimerId timeout = 0;
  };

  // ---- start-up (server_recovery.cc)
  absl::Status OpenDirectories();
  absl::Status OpenBackend();
  // The WAL's options for this start (BUGGIFY may shrink its segments).
  storage::WalOptions WalOptions() const;
  absl::Status Bootstrap();
  absl::Status BootstrapJoining();
  // `redoable_entries`: how many leading log entries this bootstrap recreates identically
  // (the initial ConfChanges; 0 when joining), so a backend that already applied no more
  // than those is an unfinished bootstrap, not a damaged directory.
  absl::Status StartFreshDataDir(uint64_t redoable_entries, absl::string_view backend_without_wal);
  absl::Status Recover();
  // Removes the WAL segments left by a bootstrap that never became durable.
  absl::Status RemoveUnbootstrappedWal();
  // Reads and verifies the backend image a received snapshot names (its data) whole,
  // before anything is changed; then replaces the backend with it, durably.
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ReadBackendImage(
      const raftpb::Snapshot& snapshot);
  absl::Status RestoreBackend(const raftpb::Snapshot& snapshot,
                              const std::vector<std::pair<std::string, std::string>>& records);
  void CreateSnapshotTransfers();
  absl::Status ReloadStateFromBackend();
  absl::Status CreateRaftNode(uint64_t applied);
  void ConnectPeers();
  // A peer message from a member the membership does not list yet (see LearnRemote).
  void LearnRemote(uint64_t from, const std::string& peer_url);

  // ---- the Ready loop (server_raft.cc)
  void ScheduleTick();
  void OnTick();
  // --auto-compaction-*: steps the AutoCompactor on the Loop clock (leader compacts).
  void MaybeAutoCompact();
  void MaybeProcessReady();
  void ProcessReady();
  void OnReadyPersisted(raft::Ready rd, absl::Status status);
  // The rest of a persisted Ready: apply its committed entries, Advance, and what follows.
  void FinishReady(raft::Ready rd);
  void SendRaftMessages(std::vector<raftpb::Message>& messages);
  void SendPeer(uint64_t to, const serverpb::PeerMessage& message);
  void StartSnapshotTransfer(raftpb::Message m);
  void StepReceivedSnapshot(raftpb::Message m);
  bool AcceptForwardedProposal(const serverpb::PeerMessage& message);
  bool IsDuplicateProposal(const raftpb::Message& m);
  void HandleSoftState(const raft::SoftState& soft);
  void HandleReadStates(std::vector<raft::ReadState>& states);
  absl::Status InstallSnapshot(const raftpb::Snapshot& snapshot);
  void ApplyCommitted(const std::vector<raftpb::Entry>& entries);
  void ApplyNormalEntry(const raftpb::Entry& entry);
  void ApplyConfChangeEntry(const raftpb::Entry& entry);
  void MaybeTakeSnapshot();
  void Fatal(const absl::Status& status);
  // One line to ServerConfig::debug_log, formatted only when it is set.
  template <typename... Args>
  void DebugLog(const absl::FormatSpec<Args...>& format, const Args&... args) const {
    if (config_.debug_log) config_.debug_log(absl::StrFormat(format, args...));
  }

  // ---- corruption checks (server_corrupt.cc)
  void ScheduleCorruptCheck();
  void StartCorruptCheck();
  void AnswerHashQuery(uint64_t from, const serverpb::HashKvQuery& query);
  void OnHashAnswer(uint64_t from, const serverpb::HashKvAnswer& answer);
  void FinishCorruptCheck();
  // An operator warning: ServerConfig::warn_log, and the debug log.
  void Warn(std::string_view line) const;

  // --strict-reconfig-check's view (server/reconfig_check.h): the applied membership and,
  // on the leader, each peer's contact (peer_heard_).
  ReconfigView CurrentReconfigView() const;

  // ---- proposals and reads (server_requests.cc)
  bool Serving(absl::Status* why) const;
  // `leader_only`: the leader's own duties (lease expiry and checkpoints), which only the
  // leader may decide: dropped instead of forwarded if this member is no longer leader
  // when Raft gets them (FlushProposals).
  void Propose(serverpb::InternalRaftRequest request,
               absl::AnyInvocable<void(ApplyResult) &&> done, bool leader_only = false);
  // `who` goes into the entry's header: the user and auth revision the apply path checks.
  template <typename Response, typename Request>
  void ProposeTyped(Request request, void (serverpb::InternalRaftRequest::*set)(Request*),
                    Callback<Response> done, const AuthInfo& who = AuthInfo());
  // etcd's AuthInfoFromCtx: token first, then the certificate's CN, else no one.
  absl::StatusOr<AuthInfo> ResolveCaller(const Caller& caller);
  // Cancels watchers whose callers may no longer read what they watch (server_watch.cc).
  void RecheckWatchPermissions();
  template <typename Response, typename Request>
  void ProposeAuth(const Caller& caller, Request request,
                   void (serverpb::InternalRaftRequest::*set)(Request*), Callback<Response> done);
  template <typename Response, typename Request>
  void ProposeAuthAs(const AuthInfo& who, Request request,
                     void (serverpb::InternalRaftRequest::*set)(Request*),
                     Callback<Response> done);
  template <typename Response>
  Response MembersResponse() const;
  template <typename Response>
  absl::AnyInvocable<void(ApplyResult) &&> AnswerWithMembers(Callback<Response> done);
  void ProposeConfChange(raftpb::ConfChange cc, serverpb::ConfChangeContext context,
                         absl::AnyInvocable<void(ApplyResult) &&> done);
  void AwaitApply(uint64_t id, absl::AnyInvocable<void(ApplyResult) &&> done);
  // Hands the queued proposals to Raft (ProposeBatch), oldest first.
  void FlushProposals();
  // Answers the waiter of a proposal Raft refused.
  std::optional<Waiter> TakeWaiter(uint64_t id);
  void FailProposal(uint64_t id, absl::Status status);
  void Complete(uint64_t request_id, ApplyResult result);
  void LinearizableRead(ReadDone done);
  void IssueReadIndex();
  void SendReadIndex(ReadBatch batch);
  void ServeReadsUpTo(uint64_t applied);
  void RunLeaseDuties();
  // Passes `fits` (a quota check) through; raises NOSPACE when it says the write does not.
  absl::Status CheckQuota(absl::Status fits);
  void RaiseNoSpaceAlarm();
  void MaybePublish();
  void Forward(serverpb::ForwardedRequest request,
               absl::AnyInvocable<void(const serverpb::ForwardedResponse&) &&> done);
  void HandleForwardedRequest(uint64_t from, const serverpb::ForwardedRequest& request);
  template <typename Response>
  absl::AnyInvocable<void(const serverpb::ForwardedResponse&) &&> AnswerForwarded(
      const Response& (serverpb::ForwardedResponse::*get)() const, Callback<Response> done);
  serverpb::ForwardedResponse ServeForwarded(const serverpb::ForwardedRequest& request);
  HeaderInfo Header() const;
  template <typename Response>
  void FillHeaderNow(Response* response) const {
    FillHeader(Header(), store_->current_revision(), response);
  }
  void FailAllPending(const absl::Status& status);
  // Bytes of the backend's files, what etcd reports as dbSize (its bolt file's size).
  uint64_t BackendFileBytes() const;

  // ---- Constant after construction.
  env::Env* const env_;
  env::Loop* const loop_;
  const ServerConfig config_;
  std::string wal_dir_;
  std::string snap_dir_;
  std::string db_dir_;
  int election_ticks_ = 10;

  // ---- Durable state and its in-memory views (owned, single-threaded on loop_).
  uint64_t member_id_ = 0;
  uint64_t cluster_id_ = 0;
  std::unique_ptr<storage::Snapshotter> snapshotter_;
  std::unique_ptr<storage::Wal> wal_;
  raft::MemoryStorage raft_storage_;
  std::unique_ptr<raft::RandomSource> raft_random_;
  std::unique_ptr<raft::RawNode> raft_;
  std::unique_ptr<kv::MvccStore> store_;
  std::unique_ptr<kv::Lessor> lessor_;
  std::unique_ptr<LessorHooks> lessor_hooks_;
  std::unique_ptr<kv::WatchHub> watch_hub_;
  std::optional<Membership> membership_;
  std::optional<Alarms> alarms_;
  std::unique_ptr<Applier> applier_;
  std::unique_ptr<AuthStore> auth_;
  // Live watch streams, for cancelling watchers whose read permission an auth change took
  // away (RecheckWatchPermissions). Ordered by address only for set semantics; the order
  // of rechecks does not matter (each stream's cancels are its own).
  std::set<WatchStreamImpl*> watch_streams_;
  // Volatile (per member, as etcd's simple tokens): a restart forgets them.
  std::unique_ptr<SimpleTokens> tokens_;
  // ServerConfig::auth_crypto, or an InlineAuthCrypto seeded from the Env when unset.
  std::shared_ptr<AuthCrypto> auth_crypto_;
  // A bcrypt hash of nothing at the configured cost: unknown users are checked against it
  // so that their answer takes as long as a wrong password's.
  std::string dummy_password_hash_;
  SnapshotTransferStats snapshot_stats_;
  std::unique_ptr<SnapshotSender> snapshot_sender_;
  std::unique_ptr<SnapshotReceiver> snapshot_receiver_;
  raftpb::ConfState conf_state_;
  uint64_t snapshot_index_ = 0;
  uint64_t applied_index_ = 0;
  uint64_t applied_term_ = 0;

  // ---- Volatile.
  bool started_ = false;
  bool stopped_ = false;
  bool failed_ = false;
  bool ready_in_flight_ = false;
  bool ready_scheduled_ = false;
  env::TimerId tick_timer_ = 0;
  // Set in Start when --auto-compaction-retention is non-zero; stepped from OnTick.
  std::optional<AutoCompactor> auto_compactor_;
  int64_t next_auto_compaction_ns_ = 0;
  uint64_t leader_id_ = 0;
  uint64_t term_ = 0;
  bool is_leader_ = false;
  bool published_ = false;
  bool nospace_alarm_proposing_ = false;
  uint64_t publish_request_id_ = 0;
  std::optional<RequestIdGenerator> ids_;
  // Ordered: FailAllPending answers them in id order (a hash map's order changes with the
  // process's hash seed, which broke same-seed trace_hash in keelsim).
  std::map<uint64_t, Waiter> waiters_;
  // Proposals accepted since the last ProcessReady, not yet given to Raft (their waiters
  // are in waiters_). One MsgProp carries the whole burst, so the leader sends one MsgApp
  // per follower, and each follower one MsgAppResp, per burst instead of per request.
  struct PendingProposal {
    uint64_t id = 0;
    std::string data;
    bool leader_only = false;
  };
  std::vector<PendingProposal> pending_proposals_;
  std::vector<ReadDone> queued_reads_;
  std::map<std::string, ReadBatch> reads_in_flight_;  // by ReadIndex context
  std::multimap<uint64_t, ReadDone> reads_waiting_apply_;  // by read index
  // Requests in reads_waiting_apply_ for a token's Authenticate entry (WhenCallerReady).
  size_t token_waits_ = 0;
  std::map<uint64_t, Forwarded> forwarded_;  // ordered, as waiters_
  // Request IDs of recently accepted forwarded proposals, oldest first (bounded).
  static constexpr size_t kRecentForwardedIds = 65536;
  absl::flat_hash_set<uint64_t> recent_forwarded_ids_;
  std::deque<uint64_t> recent_forwarded_order_;
  std::vector<std::pair<uint64_t, absl::AnyInvocable<void() &&>>> leader_waiters_;
  int64_t last_progress_tick_ns_ = 0;
  ServerStats counters_;
  MetricsRecorder metrics_recorder_{std::max<int64_t>(1, config_.heartbeat_interval_ms) * 1'000'000};
  bool watch_recheck_posted_ = false;
  // The leader's periodic corruption check in flight (server_corrupt.cc): its own HashKV
  // when it asked, the peers still to answer, the answers so far.
  struct HashCheck {
    uint64_t id = 0;
    KvHash before;
    std::set<uint64_t> waiting;
    std::vector<PeerHash> peers;
    env::TimerId timeout = 0;
  };
  std::optional<HashCheck> hash_check_;
  uint64_t last_hash_check_id_ = 0;
  env::TimerId corrupt_check_timer_ = 0;
  bool corrupt_alarm_proposing_ = false;
  // Loop times of the first and last message of each peer's current uninterrupted stretch
  // of messages (a gap over an election timeout starts a new one), for
  // --strict-reconfig-check on the leader (etcd's transport ActiveSince). Bounded by the
  // membership: only members' messages are recorded.
  struct PeerHeard {
    int64_t since_ns = 0;
    int64_t last_ns = 0;
  };
  absl::flat_hash_map<uint64_t, PeerHeard> peer_heard_;
  // Expires when the server is destroyed; objects handed to clients (watch streams) check
  // it before touching the server.
  std::shared_ptr<const int> alive_ = std::make_shared<const int>(0);
};

}  // namespace keel::server

#endif  // KEEL_SERVER_SERVER_IMPL_H_
