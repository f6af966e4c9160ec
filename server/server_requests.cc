// Client requests: proposals with their waiters, ReadIndex reads, leases, membership and
// maintenance. See server.h for what each callback outcome means.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "env/buggify.h"
#include "kv/errors.h"
#include "kv/lease/lease_errors.h"
#include "kv/request_check.h"
#include "raft/errors.h"
#include "server/errors.h"
#include "server/member_id.h"
#include "server/server_impl.h"
#include "storage/format.h"

namespace keel::server {
namespace {

// Committed-but-unapplied entries beyond which new proposals are refused
// ("etcdserver: too many requests"), as etcd's maxGapBetweenApplyAndCommitIndex.
constexpr uint64_t kMaxApplyLag = 5000;
// Proposal bytes per MsgProp at most (FlushProposals): Raft's max_size_per_msg.
constexpr size_t kMaxProposalBatchBytes = size_t{1} << 20;
// Leases the leader revokes / checkpoints per tick at most (etcd: 1000 revokes/s).
constexpr size_t kMaxRevokesPerTick = 100;
constexpr size_t kMaxCheckpointsPerTick = 100;
// Client-visible server version, reported by Status (etcdctl endpoint status).
constexpr char kVersion[] = "3.4.23";

template <typename Response>
absl::StatusOr<Response> Unwrap(ApplyResult result) {
  if (!result.status.ok()) return result.status;
  if (result.response == nullptr) return absl::InternalError("apply produced no response");
  return std::move(*static_cast<Response*>(result.response.get()));
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Proposals.
// ---------------------------------------------------------------------------------------

HeaderInfo ServerImpl::Header() const { return HeaderInfo{cluster_id_, member_id_, term_}; }

bool ServerImpl::Serving(absl::Status* why) const {
  if (failed_ || stopped_) {
    *why = StoppedError();
    return false;
  }
  if (!started_) {
    *why = absl::UnavailableError("etcdserver: server not started");
    return false;
  }
  return true;
}

void ServerImpl::Propose(serverpb::InternalRaftRequest request,
                         absl::AnyInvocable<void(ApplyResult) &&> done, bool leader_only) {
  absl::Status why;
  if (!Serving(&why)) return std::move(done)(ApplyResult{why, nullptr});
  const raft::NodeStatus status = raft_->GetStatus();
  if (status.commit > applied_index_ + kMaxApplyLag) {
    counters_.too_many_requests++;
    return std::move(done)(ApplyResult{TooManyRequestsError(), nullptr});
  }
  if (leader_id_ == 0) return std::move(done)(ApplyResult{NoLeaderError(), nullptr});
  const uint64_t id = ids_->Next();
  request.mutable_header()->set_id(id);
  std::string data = request.SerializeAsString();
  if (data.size() > config_.max_request_bytes) {
    return std::move(done)(ApplyResult{kv::RequestTooLargeError(), nullptr});
  }
  // Raft sees it at this loop turn's ProcessReady, with every other proposal of the turn
  // (FlushProposals). Its messages would not leave before that Ready anyway.
  pending_proposals_.push_back(PendingProposal{id, std::move(data), leader_only});
  AwaitApply(id, std::move(done));
}

void ServerImpl::FlushProposals() {
  std::vector<PendingProposal> pending;
  pending.swap(pending_proposals_);
  // A leader's own duties proposed before it learned it was deposed (a paused leader's
  // deferred tick expires leases on its clock, then the new leader's MsgApp arrives in the
  // same loop turn) must not be forwarded to the new leader: they would revoke leases the
  // real leader keeps alive (found by keelsim, seeds 214 and 527: lease-expired-early).
  // etcd 3.5 checks leadership before revoking for the same reason. Raft's own state is
  // the authority here: is_leader_ follows it only at the next Ready.
  if (raft_->raft().state() != raft::StateType::kLeader) {
    auto deposed = std::stable_partition(pending.begin(), pending.end(),
                                         [](const PendingProposal& p) { return !p.leader_only; });
    for (auto it = deposed; it != pending.end(); ++it) FailProposal(it->id, NoLeaderError());
    pending.erase(deposed, pending.end());
  }
  size_t next = 0;
  // Bounded: each pass hands at least one proposal to Raft. A MsgProp stays under Raft's
  // message size (a forwarded one must fit one transport frame).
  while (next < pending.size()) {
    std::vector<std::string> batch;
    std::vector<uint64_t> ids;
    size_t batch_bytes = 0;
    // BUGGIFY: tiny batches, one proposal per MsgProp (one entry per Ready when alone).
    const size_t max_entries = KEEL_BUGGIFY("server.proposal_batch_one") ? 1 : pending.size();
    while (next < pending.size() && batch.size() < max_entries &&
           (batch.empty() || batch_bytes + pending[next].data.size() <= kMaxProposalBatchBytes)) {
      batch_bytes += pending[next].data.size();
      ids.push_back(pending[next].id);
      batch.push_back(std::move(pending[next].data));
      ++next;
    }
    absl::Status proposed = raft_->ProposeBatch(std::move(batch));
    if (proposed.ok()) continue;
    // Dropped before reaching any log: definitely not applied, but clients treat
    // Unavailable as "retry", which is what they should do.
    DebugLog("%x: Raft refused %d proposals: %s", member_id_, ids.size(), proposed.message());
    const absl::Status error = raft::IsErrProposalDropped(proposed) ? NoLeaderError() : proposed;
    for (uint64_t id : ids) FailProposal(id, error);
  }
}

// Removes the waiter of proposal `id` (its timeout cancelled), if it is still waiting.
std::optional<ServerImpl::Waiter> ServerImpl::TakeWaiter(uint64_t id) {
  auto it = waiters_.find(id);
  if (it == waiters_.end()) return std::nullopt;  // proposed by another member, or answered
  Waiter w = std::move(it->second);
  waiters_.erase(it);
  loop_->Cancel(w.timeout);
  counters_.proposals_pending--;
  return w;
}

void ServerImpl::FailProposal(uint64_t id, absl::Status status) {
  std::optional<Waiter> w = TakeWaiter(id);
  if (!w.has_value()) return;
  counters_.proposals_failed++;
  std::move(w->done)(ApplyResult{std::move(status), nullptr});
}

// Registers the client waiting for proposal `id`: answered when its entry is applied here
// (Complete), or with the unknown-outcome "request timed out" after the request timeout.
void ServerImpl::AwaitApply(uint64_t id, absl::AnyInvocable<void(ApplyResult) &&> done) {
  counters_.proposals_pending++;
  Waiter& w = waiters_[id];
  w.done = std::move(done);
  w.timeout = loop_->RunAfter(config_.request_timeout_ms * 1'000'000, [this, id]() mutable {
    DebugLog("%x: proposal %x timed out (leader %x, term %d, applied %d, commit %d)", member_id_,
             id, leader_id_, raft_->raft().term(), applied_index_, raft_->GetStatus().commit);
    FailProposal(id, TimeoutError());
  });
  MaybeProcessReady();
}

void ServerImpl::Complete(uint64_t request_id, ApplyResult result) {
  std::optional<Waiter> w = TakeWaiter(request_id);
  if (!w.has_value()) return;
  counters_.proposals_committed++;
  std::move(w->done)(std::move(result));
}

template <typename Response, typename Request>
void ServerImpl::ProposeTyped(Request request,
                              void (serverpb::InternalRaftRequest::*set)(Request*),
                              Callback<Response> done, const AuthInfo& who) {
  serverpb::InternalRaftRequest internal;
  (internal.*set)(new Request(std::move(request)));
  if (who.revision != 0) {
    internal.mutable_header()->set_username(who.username);
    internal.mutable_header()->set_auth_revision(who.revision);
  }
  if (config_.bugs.on(env::Bug::kServerAckBeforeCommit) && leader_id_ != 0) {
    // Bug-zoo site server-ack-before-commit: "OK" as soon as it is proposed, before any
    // quorum.
    Response early;
    FillHeader(Header(), store_->current_revision() + 1, &early);
    Propose(std::move(internal), [](ApplyResult) {});
    std::move(done)(std::move(early));
    return;
  }
  Propose(std::move(internal), [done = std::move(done)](ApplyResult r) mutable {
    std::move(done)(Unwrap<Response>(std::move(r)));
  });
}

void ServerImpl::FailAllPending(const absl::Status& status) {
  auto waiters = std::move(waiters_);
  waiters_.clear();
  for (auto& [id, w] : waiters) {
    loop_->Cancel(w.timeout);
    std::move(w.done)(ApplyResult{status, nullptr});
  }
  counters_.proposals_pending = 0;
  auto batches = std::move(reads_in_flight_);
  reads_in_flight_.clear();
  for (auto& [ctx, batch] : batches) {
    loop_->Cancel(batch.timeout);
    for (ReadDone& r : batch.reads) std::move(r)(status);
  }
  auto queued = std::move(queued_reads_);
  queued_reads_.clear();
  for (ReadDone& r : queued) std::move(r)(status);
  auto waiting = std::move(reads_waiting_apply_);
  reads_waiting_apply_.clear();
  for (auto& [index, r] : waiting) std::move(r)(status);
  auto forwarded = std::move(forwarded_);
  forwarded_.clear();
  for (auto& [id, f] : forwarded) {
    loop_->Cancel(f.timeout);
    serverpb::ForwardedResponse failed;
    failed.set_code(static_cast<int>(status.code()));
    failed.set_message(std::string(status.message()));
    std::move(f.done)(failed);
  }
  leader_waiters_.clear();
}

// ---------------------------------------------------------------------------------------
// Linearizable reads: batched ReadIndex, then wait for the applied index.
// ---------------------------------------------------------------------------------------

void ServerImpl::LinearizableRead(ReadDone done) {
  absl::Status why;
  if (!Serving(&why)) return std::move(done)(why);
  if (leader_id_ == 0) return std::move(done)(NoLeaderError());
  queued_reads_.push_back(std::move(done));
  // One ReadIndex in flight at a time; everything queued meanwhile shares the next one.
  if (reads_in_flight_.empty()) IssueReadIndex();
}

void ServerImpl::IssueReadIndex() {
  if (queued_reads_.empty()) return;
  ReadBatch batch;
  batch.reads = std::move(queued_reads_);
  queued_reads_.clear();
  batch.deadline_ns = loop_->NowNanos() + config_.request_timeout_ms * 1'000'000;
  SendReadIndex(std::move(batch));
}

// Asks Raft for a read index on behalf of `batch`. A request Raft drops silently (no
// leader yet, a leader change, a lost message) is asked again after a short retry
// interval, as etcd 3.5 does, so one lost request does not hold every queued read until
// the request timeout; past the batch's deadline its reads fail with "request timed out".
void ServerImpl::SendReadIndex(ReadBatch batch) {
  if (loop_->NowNanos() >= batch.deadline_ns) {
    for (ReadDone& r : batch.reads) std::move(r)(TimeoutError());
    return IssueReadIndex();
  }
  // The context names this member as well as the batch: the leader keeps one pending
  // entry per distinct context and answers a repeated one only once, so two members whose
  // sequence numbers happened to coincide would leave one of them unanswered until its
  // retry timer. The batch's number is a request ID (as etcd's), unique across this
  // member's lives too: a per-life counter repeats after a restart, and a context still
  // pending at the leader from the previous life would answer the new batch with that
  // older read index (a stale read).
  std::string ctx(16, '\0');
  const uint64_t seq = ids_->Next();
  for (int i = 0; i < 8; ++i) {
    ctx[i] = static_cast<char>(member_id_ >> (56 - 8 * i));
    ctx[8 + i] = static_cast<char>(seq >> (56 - 8 * i));
  }
  absl::Status asked = raft_->ReadIndex(ctx);
  if (!asked.ok()) {
    for (ReadDone& r : batch.reads) std::move(r)(NoLeaderError());
    return;
  }
  const int64_t retry_ns =
      std::min<int64_t>(500, std::max<int64_t>(2 * config_.heartbeat_interval_ms,
                                               config_.election_timeout_ms / 2)) * 1'000'000;
  batch.timeout = loop_->RunAfter(retry_ns, [this, ctx]() mutable {
    auto it = reads_in_flight_.find(ctx);
    if (it == reads_in_flight_.end()) return;
    ReadBatch unanswered = std::move(it->second);
    reads_in_flight_.erase(it);
    SendReadIndex(std::move(unanswered));
  });
  reads_in_flight_[ctx] = std::move(batch);
  MaybeProcessReady();
}

void ServerImpl::HandleReadStates(std::vector<raft::ReadState>& states) {
  for (raft::ReadState& rs : states) {
    auto it = reads_in_flight_.find(rs.request_ctx);
    if (it == reads_in_flight_.end()) continue;  // timed out already
    ReadBatch batch = std::move(it->second);
    reads_in_flight_.erase(it);
    loop_->Cancel(batch.timeout);
    uint64_t wait_for = rs.index;
    if (config_.bugs.on(env::Bug::kServerReadBeforeApply)) wait_for = 0;  // bug-zoo site
    for (ReadDone& r : batch.reads) reads_waiting_apply_.emplace(wait_for, std::move(r));
  }
  ServeReadsUpTo(applied_index_);
  if (reads_in_flight_.empty()) IssueReadIndex();
}

void ServerImpl::ServeReadsUpTo(uint64_t applied) {
  while (!reads_waiting_apply_.empty() && reads_waiting_apply_.begin()->first <= applied) {
    ReadDone r = std::move(reads_waiting_apply_.begin()->second);
    reads_waiting_apply_.erase(reads_waiting_apply_.begin());
    std::move(r)(absl::OkStatus());
  }
}

// ---------------------------------------------------------------------------------------
// Quota: etcd's quotaKVServer. A write that would exceed --quota-backend-bytes fails with
// "database space exceeded" and makes this member raise the cluster-wide NOSPACE alarm
// (through Raft, so every member's apply path turns capped at the same index).
// ---------------------------------------------------------------------------------------

absl::Status ServerImpl::CheckQuota(absl::Status fits) {
  if (fits.code() == absl::StatusCode::kResourceExhausted) RaiseNoSpaceAlarm();
  return fits;
}

void ServerImpl::RaiseNoSpaceAlarm() {
  // One proposal at a time, and none once ours is raised: activation is idempotent, but
  // a flood of refused writes must not become a flood of proposals.
  if (nospace_alarm_proposing_ || alarms_->Has(member_id_, etcdserverpb::NOSPACE)) return;
  absl::Status why;
  if (!Serving(&why)) return;
  nospace_alarm_proposing_ = true;
  serverpb::InternalRaftRequest internal;
  etcdserverpb::AlarmRequest* alarm = internal.mutable_alarm();
  alarm->set_action(etcdserverpb::AlarmRequest::ACTIVATE);
  alarm->set_memberid(member_id_);
  alarm->set_alarm(etcdserverpb::NOSPACE);
  Propose(std::move(internal), [this, alive = std::weak_ptr<const int>(alive_)](ApplyResult) {
    if (alive.expired()) return;
    nospace_alarm_proposing_ = false;
  });
}

// ---------------------------------------------------------------------------------------
// KV.
// ---------------------------------------------------------------------------------------

void ServerImpl::Range(const etcdserverpb::RangeRequest& request,
                       Callback<etcdserverpb::RangeResponse> done, const Caller& caller) {
  absl::Status valid = kv::CheckRangeRequest(request);
  if (!valid.ok()) return std::move(done)(valid);
  absl::StatusOr<AuthInfo> who = ResolveCaller(caller);
  if (!who.ok()) return std::move(done)(who.status());
  // etcd checks a range when it is served (after the ReadIndex for a linearizable one),
  // against the auth store as this member has applied it by then.
  auto serve = [this, request, who = *std::move(who),
                done = std::move(done)](absl::Status ready) mutable {
    if (!ready.ok()) return std::move(done)(ready);
    absl::Status permitted = auth_->IsRangePermitted(who, request.key(), request.range_end());
    if (!permitted.ok()) return std::move(done)(permitted);
    absl::StatusOr<etcdserverpb::RangeResponse> response = store_->Range(request);
    if (response.ok()) FillHeaderNow(&*response);
    std::move(done)(std::move(response));
  };
  bool local = request.serializable();
  if (config_.bugs.on(env::Bug::kServerStaleRead)) local = true;  // bug-zoo site
  if (local) {
    absl::Status why;
    if (!Serving(&why)) return serve(why);
    return serve(absl::OkStatus());
  }
  LinearizableRead(std::move(serve));
}

void ServerImpl::Put(const etcdserverpb::PutRequest& request,
                     Callback<etcdserverpb::PutResponse> done,
                     const Caller& caller) {
  absl::StatusOr<AuthInfo> who = ResolveCaller(caller);
  if (!who.ok()) return std::move(done)(who.status());
  absl::Status valid = kv::CheckPutRequest(request);
  if (valid.ok()) valid = CheckQuota(store_->CheckQuota(request));
  if (!valid.ok()) return std::move(done)(valid);
  ProposeTyped<etcdserverpb::PutResponse>(request, &serverpb::InternalRaftRequest::set_allocated_put,
                                          std::move(done), *who);
}

void ServerImpl::DeleteRange(const etcdserverpb::DeleteRangeRequest& request,
                             Callback<etcdserverpb::DeleteRangeResponse> done,
                             const Caller& caller) {
  absl::StatusOr<AuthInfo> who = ResolveCaller(caller);
  if (!who.ok()) return std::move(done)(who.status());
  absl::Status valid = kv::CheckDeleteRequest(request);
  if (!valid.ok()) return std::move(done)(valid);
  ProposeTyped<etcdserverpb::DeleteRangeResponse>(
      request, &serverpb::InternalRaftRequest::set_allocated_delete_range, std::move(done), *who);
}

void ServerImpl::Txn(const etcdserverpb::TxnRequest& request,
                     Callback<etcdserverpb::TxnResponse> done,
                     const Caller& caller) {
  absl::StatusOr<AuthInfo> who = ResolveCaller(caller);
  if (!who.ok()) return std::move(done)(who.status());
  absl::Status valid = kv::CheckTxnRequest(request, static_cast<int>(config_.max_txn_ops));
  if (valid.ok()) valid = CheckQuota(store_->CheckQuota(request));
  if (!valid.ok()) return std::move(done)(valid);
  ProposeTyped<etcdserverpb::TxnResponse>(request, &serverpb::InternalRaftRequest::set_allocated_txn,
                                          std::move(done), *who);
}

void ServerImpl::Compact(const etcdserverpb::CompactionRequest& request,
                         Callback<etcdserverpb::CompactionResponse> done) {
  ProposeTyped<etcdserverpb::CompactionResponse>(
      request, &serverpb::InternalRaftRequest::set_allocated_compaction, std::move(done));
}

// ---------------------------------------------------------------------------------------
// Leases.
// ---------------------------------------------------------------------------------------

void ServerImpl::LeaseGrant(const etcdserverpb::LeaseGrantRequest& request,
                            Callback<etcdserverpb::LeaseGrantResponse> done) {
  // etcd's quota charges a lease grant a fixed overhead (etcdserver/quota.go).
  constexpr int64_t kLeaseOverheadBytes = 64;
  absl::Status fits = store_->size_bytes() + kLeaseOverheadBytes < store_->quota_bytes()
                          ? absl::OkStatus()
                          : kv::NoSpaceError();
  fits = CheckQuota(fits);
  if (!fits.ok()) return std::move(done)(fits);
  etcdserverpb::LeaseGrantRequest r = request;
  // As etcd: the proposer picks a positive ID when the client gives none.
  while (r.id() == 0) r.set_id(static_cast<int64_t>(ids_->Next() & 0x7fffffffffffffffULL));
  ProposeTyped<etcdserverpb::LeaseGrantResponse>(
      r, &serverpb::InternalRaftRequest::set_allocated_lease_grant, std::move(done));
}

void ServerImpl::LeaseRevoke(const etcdserverpb::LeaseRevokeRequest& request,
                             Callback<etcdserverpb::LeaseRevokeResponse> done,
                             const Caller& caller) {
  absl::StatusOr<AuthInfo> who = ResolveCaller(caller);
  if (!who.ok()) return std::move(done)(who.status());
  ProposeTyped<etcdserverpb::LeaseRevokeResponse>(
      request, &serverpb::InternalRaftRequest::set_allocated_lease_revoke, std::move(done), *who);
}

serverpb::ForwardedResponse ServerImpl::ServeForwarded(const serverpb::ForwardedRequest& request) {
  serverpb::ForwardedResponse response;
  response.set_request_id(request.request_id());
  const int64_t now = loop_->NowNanos();
  if (!is_leader_) {
    absl::Status s = leader_id_ == 0 ? NoLeaderError() : LeaderChangedError();
    response.set_code(static_cast<int>(s.code()));
    response.set_message(std::string(s.message()));
    return response;
  }
  if (request.has_keep_alive()) {
    etcdserverpb::LeaseKeepAliveResponse* out = response.mutable_keep_alive();
    out->set_id(request.keep_alive().id());
    // Bug-zoo site lease-keepalive-ignored: answered with the granted TTL, expiry untouched.
    absl::StatusOr<kv::RenewResult> renewed = absl::NotFoundError("lease not found");
    if (config_.bugs.on(env::Bug::kLeaseKeepaliveIgnored)) {
      absl::StatusOr<kv::LeaseTimeToLive> ttl = lessor_->TimeToLive(request.keep_alive().id(), now);
      if (ttl.ok() && ttl->ttl_seconds > 0) renewed = kv::RenewResult{ttl->granted_ttl_seconds, false};
    } else {
      renewed = lessor_->Renew(request.keep_alive().id(), now);
    }
    if (renewed.ok()) {
      out->set_ttl(renewed->ttl_seconds);
      if (renewed->clear_checkpoint) {
        etcdserverpb::LeaseCheckpointRequest clear;
        etcdserverpb::LeaseCheckpoint* cp = clear.add_checkpoints();
        cp->set_id(request.keep_alive().id());
        cp->set_remaining_ttl(0);
        serverpb::InternalRaftRequest internal;
        *internal.mutable_lease_checkpoint() = std::move(clear);
        Propose(std::move(internal), [](ApplyResult) {});
      }
    } else if (renewed.status() == kv::LeaseNotPrimaryError()) {
      // A leader that has not applied its own term's first entry yet (ApplyNormalEntry):
      // etcd's LeaseRenew retries ErrNotPrimary until the lessor is promoted; the client
      // retries this answer.
      absl::Status s = LeaderChangedError();
      response.set_code(static_cast<int>(s.code()));
      response.set_message(std::string(s.message()));
      return response;
    } else {
      // etcd answers a keep-alive for an unknown lease with TTL 0, not an error.
      out->set_ttl(0);
    }
    FillHeaderNow(out);
  } else if (request.has_time_to_live()) {
    absl::StatusOr<kv::LeaseTimeToLive> ttl =
        lessor_->TimeToLive(request.time_to_live().id(), now);
    if (!ttl.ok()) {
      response.set_code(static_cast<int>(ttl.status().code()));
      response.set_message(std::string(ttl.status().message()));
      return response;
    }
    etcdserverpb::LeaseTimeToLiveResponse* out = response.mutable_time_to_live();
    out->set_id(ttl->id);
    out->set_ttl(ttl->ttl_seconds);
    out->set_grantedttl(ttl->granted_ttl_seconds);
    if (request.time_to_live().keys()) {
      for (const std::string& k : ttl->keys) out->add_keys(k);
    }
    FillHeaderNow(out);
  }
  return response;
}

void ServerImpl::Forward(serverpb::ForwardedRequest request,
                         absl::AnyInvocable<void(const serverpb::ForwardedResponse&) &&> done) {
  absl::Status why;
  serverpb::ForwardedResponse failed;
  if (!Serving(&why) || leader_id_ == 0) {
    if (why.ok()) why = NoLeaderError();
    failed.set_code(static_cast<int>(why.code()));
    failed.set_message(std::string(why.message()));
    return std::move(done)(failed);
  }
  if (is_leader_) return std::move(done)(ServeForwarded(request));
  const uint64_t id = ids_->Next();
  request.set_request_id(id);
  request.set_min_applied_index(applied_index_);
  Forwarded& f = forwarded_[id];
  f.done = std::move(done);
  f.timeout = loop_->RunAfter(config_.request_timeout_ms * 1'000'000, [this, id]() mutable {
    auto it = forwarded_.find(id);
    if (it == forwarded_.end()) return;
    Forwarded timed_out = std::move(it->second);
    forwarded_.erase(it);
    serverpb::ForwardedResponse r;
    r.set_code(static_cast<int>(absl::StatusCode::kUnavailable));
    r.set_message(std::string(TimeoutError().message()));
    std::move(timed_out.done)(r);
  });
  serverpb::PeerMessage message;
  *message.mutable_request() = std::move(request);
  SendPeer(leader_id_, message);
}

void ServerImpl::HandleForwardedRequest(uint64_t from, const serverpb::ForwardedRequest& request) {
  if (request.has_member_promote()) {
    // Asynchronous (a configuration change through Raft): answered when it applies.
    const uint64_t request_id = request.request_id();
    if (!is_leader_) {  // never forwarded twice: a leader change fails it, as etcd's does
      serverpb::PeerMessage reply;
      reply.mutable_response()->set_request_id(request_id);
      reply.mutable_response()->set_code(static_cast<int>(absl::StatusCode::kUnavailable));
      reply.mutable_response()->set_message(std::string(LeaderChangedError().message()));
      return SendPeer(from, reply);
    }
    return MemberPromote(request.member_promote(),
                         [this, from, request_id](
                             absl::StatusOr<etcdserverpb::MemberPromoteResponse> r) mutable {
                           serverpb::PeerMessage reply;
                           serverpb::ForwardedResponse* out = reply.mutable_response();
                           out->set_request_id(request_id);
                           if (r.ok()) {
                             *out->mutable_member_promote() = *std::move(r);
                           } else {
                             out->set_code(static_cast<int>(r.status().code()));
                             out->set_message(std::string(r.status().message()));
                           }
                           SendPeer(from, reply);
                         });
  }
  auto answer = [this, from, request](absl::Status ready) {
    serverpb::PeerMessage reply;
    if (ready.ok()) {
      *reply.mutable_response() = ServeForwarded(request);
    } else {
      reply.mutable_response()->set_request_id(request.request_id());
      reply.mutable_response()->set_code(static_cast<int>(ready.code()));
      reply.mutable_response()->set_message(std::string(ready.message()));
    }
    SendPeer(from, reply);
  };
  if (applied_index_ >= request.min_applied_index()) return answer(absl::OkStatus());
  // Bounded by the forwarder's own timeout; the reply is dropped if it gave up meanwhile.
  reads_waiting_apply_.emplace(request.min_applied_index(), std::move(answer));
}

// The caller's answer to a request the leader served: its status, or the response with
// the header naming the member the client asked (not the leader that answered).
template <typename Response>
absl::AnyInvocable<void(const serverpb::ForwardedResponse&) &&> ServerImpl::AnswerForwarded(
    const Response& (serverpb::ForwardedResponse::*get)() const, Callback<Response> done) {
  return [this, get, done = std::move(done)](const serverpb::ForwardedResponse& r) mutable {
    if (r.code() != 0) {
      return std::move(done)(absl::Status(static_cast<absl::StatusCode>(r.code()), r.message()));
    }
    Response response = (r.*get)();
    response.mutable_header()->set_member_id(member_id_);
    std::move(done)(std::move(response));
  };
}

void ServerImpl::LeaseKeepAlive(const etcdserverpb::LeaseKeepAliveRequest& request,
                                Callback<etcdserverpb::LeaseKeepAliveResponse> done) {
  serverpb::ForwardedRequest forwarded;
  *forwarded.mutable_keep_alive() = request;
  Forward(std::move(forwarded),
          AnswerForwarded(&serverpb::ForwardedResponse::keep_alive, std::move(done)));
}

void ServerImpl::LeaseTimeToLive(const etcdserverpb::LeaseTimeToLiveRequest& request,
                                 Callback<etcdserverpb::LeaseTimeToLiveResponse> done) {
  serverpb::ForwardedRequest forwarded;
  *forwarded.mutable_time_to_live() = request;
  Forward(std::move(forwarded),
          AnswerForwarded(&serverpb::ForwardedResponse::time_to_live, std::move(done)));
}

void ServerImpl::LeaseLeases(const etcdserverpb::LeaseLeasesRequest& request,
                             Callback<etcdserverpb::LeaseLeasesResponse> done) {
  // Served after a ReadIndex so the list reflects every acknowledged grant and revoke.
  LinearizableRead([this, done = std::move(done)](absl::Status ready) mutable {
    if (!ready.ok()) return std::move(done)(ready);
    etcdserverpb::LeaseLeasesResponse response;
    for (kv::LeaseId id : lessor_->Leases()) response.add_leases()->set_id(id);
    FillHeaderNow(&response);
    std::move(done)(std::move(response));
  });
}

void ServerImpl::RunLeaseDuties() {
  int64_t now = loop_->NowNanos();
  // Bug-zoo site lease-wall-clock-expiry: expiry judged by the wall clock (which NTP may
  // step) against deadlines set on the monotonic Loop clock.
  if (config_.bugs.on(env::Bug::kLeaseWallClockExpiry)) now = env_->WallClockMillis() * 1'000'000;
  for (kv::LeaseId id : lessor_->ExpiredLeases(now, kMaxRevokesPerTick)) {
    serverpb::InternalRaftRequest revoke;
    revoke.mutable_lease_revoke()->set_id(id);
    revoke.mutable_header()->set_system(true);
    Propose(std::move(revoke), [](ApplyResult) {}, /*leader_only=*/true);
  }
  auto due = lessor_->DueCheckpoints(now, kMaxCheckpointsPerTick);
  if (!due.empty()) {
    serverpb::InternalRaftRequest checkpoint;
    for (const auto& [id, remaining] : due) {
      etcdserverpb::LeaseCheckpoint* cp = checkpoint.mutable_lease_checkpoint()->add_checkpoints();
      cp->set_id(id);
      cp->set_remaining_ttl(remaining);
    }
    Propose(std::move(checkpoint), [](ApplyResult) {}, /*leader_only=*/true);
  }
}

void ServerImpl::MaybePublish() {
  if (published_ || publish_request_id_ != 0 || leader_id_ == 0) return;
  const serverpb::Member* self = membership_->Find(member_id_);
  if (self == nullptr) return;
  const bool same = self->name() == config_.name &&
                    std::equal(self->client_urls().begin(), self->client_urls().end(),
                               config_.advertise_client_urls.begin(),
                               config_.advertise_client_urls.end());
  if (same) {
    published_ = true;
    return;
  }
  serverpb::InternalRaftRequest publish;
  publish.mutable_publish()->set_member_id(member_id_);
  publish.mutable_publish()->set_name(config_.name);
  for (const std::string& url : config_.advertise_client_urls) {
    publish.mutable_publish()->add_client_urls(url);
  }
  publish_request_id_ = 1;  // in flight; retried on failure at a later tick
  Propose(std::move(publish), [this](ApplyResult r) {
    publish_request_id_ = 0;
    if (r.status.ok()) published_ = true;
  });
}

// ---------------------------------------------------------------------------------------
// Cluster.
// ---------------------------------------------------------------------------------------

namespace {

void ToProto(const serverpb::Member& m, etcdserverpb::Member* out) {
  out->set_id(m.id());
  out->set_name(m.name());
  for (const std::string& u : m.peer_urls()) out->add_peerurls(u);
  for (const std::string& u : m.client_urls()) out->add_clienturls(u);
  out->set_islearner(m.is_learner());
}

}  // namespace

template <typename Response>
Response ServerImpl::MembersResponse() const {
  Response response;
  std::vector<serverpb::Member> members = membership_->List();
  // etcd lists members sorted by ID (membership.MembersByID).
  std::sort(members.begin(), members.end(),
            [](const serverpb::Member& a, const serverpb::Member& b) { return a.id() < b.id(); });
  for (const serverpb::Member& member : members) ToProto(member, response.add_members());
  FillHeaderNow(&response);
  // etcd's Cluster RPCs answer with cluster ID, member ID and term only (v3rpc/member.go's
  // header()): no revision.
  response.mutable_header()->clear_revision();
  return response;
}

std::vector<etcdserverpb::Member> ServerImpl::KnownMembers() const {
  etcdserverpb::MemberListResponse response = MembersResponse<etcdserverpb::MemberListResponse>();
  return {response.members().begin(), response.members().end()};
}

// The callback of a configuration change: on success, the member list after it.
template <typename Response>
absl::AnyInvocable<void(ApplyResult) &&> ServerImpl::AnswerWithMembers(Callback<Response> done) {
  return [this, done = std::move(done)](ApplyResult r) mutable {
    if (!r.status.ok()) return std::move(done)(r.status);
    std::move(done)(MembersResponse<Response>());
  };
}

void ServerImpl::ProposeConfChange(raftpb::ConfChange cc, serverpb::ConfChangeContext context,
                                   absl::AnyInvocable<void(ApplyResult) &&> done) {
  absl::Status why;
  if (!Serving(&why)) return std::move(done)(ApplyResult{why, nullptr});
  if (leader_id_ == 0) return std::move(done)(ApplyResult{NoLeaderError(), nullptr});
  absl::Status valid = membership_->ValidateConfChange(cc, context);
  if (!valid.ok()) return std::move(done)(ApplyResult{valid, nullptr});
  const uint64_t id = ids_->Next();
  context.set_request_id(id);
  cc.set_id(id);
  cc.set_context(context.SerializeAsString());
  FlushProposals();  // requests accepted before this change reach the log before it
  absl::Status proposed = raft_->ProposeConfChange(cc);
  if (!proposed.ok()) return std::move(done)(ApplyResult{NoLeaderError(), nullptr});
  AwaitApply(id, std::move(done));
}

ReconfigView ServerImpl::CurrentReconfigView() const {
  constexpr int64_t kHealthIntervalNs = int64_t{5'000'000'000};  // etcd's HealthInterval
  ReconfigView view;
  view.self_id = member_id_;
  view.members = membership_->List();
  if (is_leader_) {
    std::map<uint64_t, PeerContact>& contact = view.contact.emplace();
    const int64_t now = loop_->NowNanos();
    for (const serverpb::Member& m : view.members) {
      auto it = peer_heard_.find(m.id());
      if (it == peer_heard_.end() ||
          now - it->second.last_ns > config_.election_timeout_ms * 1'000'000) {
        contact[m.id()] = PeerContact::kDown;
      } else {
        contact[m.id()] = now - it->second.since_ns >= kHealthIntervalNs ? PeerContact::kUp
                                                                          : PeerContact::kUpRecently;
      }
    }
  }
  return view;
}

void ServerImpl::MemberAdd(const etcdserverpb::MemberAddRequest& request,
                           Callback<etcdserverpb::MemberAddResponse> done) {
  if (request.peerurls().empty()) return std::move(done)(MemberBadUrlsError());
  if (request.islearner()) {
    absl::Status limit = CheckLearnerLimit(membership_->List());
    if (!limit.ok()) return std::move(done)(limit);
  }
  if (config_.strict_reconfig_check) {
    absl::Status safe = CheckAddMember(CurrentReconfigView(), request.islearner());
    if (!safe.ok()) return std::move(done)(safe);
  }
  std::vector<std::string> urls(request.peerurls().begin(), request.peerurls().end());
  serverpb::ConfChangeContext context;
  serverpb::Member* m = context.mutable_member();
  // etcd mixes the wall-clock second in, so a re-added URL gets a fresh ID (the Loop's
  // clock would not do: it starts over with each keeld process).
  m->set_id(ComputeMemberId(urls, config_.initial_cluster_token,
                            env_->WallClockMillis() / 1000));
  for (const std::string& u : urls) m->add_peer_urls(u);
  m->set_is_learner(request.islearner());
  raftpb::ConfChange cc;
  cc.set_type(request.islearner() ? raftpb::ConfChangeAddLearnerNode : raftpb::ConfChangeAddNode);
  cc.set_node_id(m->id());
  serverpb::Member added = *m;
  ProposeConfChange(cc, context, [this, added, done = std::move(done)](ApplyResult r) mutable {
    if (!r.status.ok()) return std::move(done)(r.status);
    etcdserverpb::MemberAddResponse response = MembersResponse<etcdserverpb::MemberAddResponse>();
    ToProto(added, response.mutable_member());
    std::move(done)(std::move(response));
  });
}

void ServerImpl::MemberRemove(const etcdserverpb::MemberRemoveRequest& request,
                              Callback<etcdserverpb::MemberRemoveResponse> done) {
  if (config_.strict_reconfig_check) {
    absl::Status safe = CheckRemoveMember(CurrentReconfigView(), request.id());
    if (!safe.ok()) return std::move(done)(safe);
  }
  raftpb::ConfChange cc;
  cc.set_type(raftpb::ConfChangeRemoveNode);
  cc.set_node_id(request.id());
  ProposeConfChange(cc, {}, AnswerWithMembers(std::move(done)));
}

void ServerImpl::MemberUpdate(const etcdserverpb::MemberUpdateRequest& request,
                              Callback<etcdserverpb::MemberUpdateResponse> done) {
  if (request.peerurls().empty()) return std::move(done)(MemberBadUrlsError());
  raftpb::ConfChange cc;
  cc.set_type(raftpb::ConfChangeUpdateNode);
  cc.set_node_id(request.id());
  serverpb::ConfChangeContext context;
  context.mutable_member()->set_id(request.id());
  for (const std::string& u : request.peerurls()) context.mutable_member()->add_peer_urls(u);
  ProposeConfChange(cc, context, AnswerWithMembers(std::move(done)));
}

void ServerImpl::MemberPromote(const etcdserverpb::MemberPromoteRequest& request,
                               Callback<etcdserverpb::MemberPromoteResponse> done) {
  const serverpb::Member* m = membership_->Find(request.id());
  if (m == nullptr) return std::move(done)(MemberNotFoundError());
  if (!m->is_learner()) return std::move(done)(MemberNotLearnerError());
  if (config_.strict_reconfig_check) {
    absl::Status safe = CheckPromoteMember(CurrentReconfigView(), request.id());
    if (!safe.ok()) return std::move(done)(safe);
  }
  if (!is_leader_) {
    if (leader_id_ == 0) return std::move(done)(NotLeaderError());
    serverpb::ForwardedRequest forwarded;
    *forwarded.mutable_member_promote() = request;
    return Forward(std::move(forwarded),
                   AnswerForwarded(&serverpb::ForwardedResponse::member_promote, std::move(done)));
  }
  // etcd: a learner is ready once its match index reaches 90% of the leader's.
  const raft::NodeStatus status = raft_->GetStatus();
  auto self = status.progress.find(member_id_);
  auto learner = status.progress.find(request.id());
  if (self == status.progress.end() || learner == status.progress.end() ||
      static_cast<double>(learner->second.match) < 0.9 * static_cast<double>(self->second.match)) {
    return std::move(done)(LearnerNotReadyError());
  }
  raftpb::ConfChange cc;
  cc.set_type(raftpb::ConfChangeAddNode);
  cc.set_node_id(request.id());
  serverpb::ConfChangeContext context;
  *context.mutable_member() = *m;
  ProposeConfChange(cc, context, AnswerWithMembers(std::move(done)));
}

void ServerImpl::MemberList(const etcdserverpb::MemberListRequest& request,
                            Callback<etcdserverpb::MemberListResponse> done) {
  // etcd 3.4 serves MemberList from the local view (3.5 added a linearizable option).
  absl::Status why;
  if (!Serving(&why)) return std::move(done)(why);
  std::move(done)(MembersResponse<etcdserverpb::MemberListResponse>());
}

// ---------------------------------------------------------------------------------------
// Maintenance.
// ---------------------------------------------------------------------------------------

void ServerImpl::Alarm(const etcdserverpb::AlarmRequest& request,
                       Callback<etcdserverpb::AlarmResponse> done) {
  if (request.action() == etcdserverpb::AlarmRequest::GET) {
    etcdserverpb::AlarmResponse response;
    for (const etcdserverpb::AlarmMember& m : alarms_->List()) {
      if (request.alarm() == etcdserverpb::NONE || request.alarm() == m.alarm()) {
        *response.add_alarms() = m;
      }
    }
    // No header: etcd 3.4's applier answers Alarm with the alarms alone (its gateway
    // prints `{}` when there are none).
    return std::move(done)(std::move(response));
  }
  ProposeTyped<etcdserverpb::AlarmResponse>(request, &serverpb::InternalRaftRequest::set_allocated_alarm,
                                            std::move(done));
}

void ServerImpl::Status(const etcdserverpb::StatusRequest&,
                        Callback<etcdserverpb::StatusResponse> done) {
  absl::Status why;
  if (!Serving(&why)) return std::move(done)(why);
  const raft::NodeStatus status = raft_->GetStatus();
  etcdserverpb::StatusResponse response;
  response.set_version(kVersion);
  response.set_dbsize(static_cast<int64_t>(BackendFileBytes()));
  response.set_dbsizeinuse(store_->size_bytes());
  response.set_leader(leader_id_);
  response.set_raftindex(raft_storage_.LastIndex().value_or(0));
  response.set_raftterm(status.term);
  response.set_raftappliedindex(applied_index_);
  response.set_islearner(membership_->Find(member_id_) != nullptr &&
                         membership_->Find(member_id_)->is_learner());
  // etcd 3.4 (maintenance.go): "no leader", then every alarm of the cluster, printed as
  // its protobuf text ("memberID:<id> alarm:NOSPACE ").
  if (leader_id_ == 0) response.add_errors(std::string(NoLeaderError().message()));
  for (const etcdserverpb::AlarmMember& m : alarms_->List()) response.add_errors(AlarmText(m));
  FillHeaderNow(&response);
  std::move(done)(std::move(response));
}

void ServerImpl::Defragment(const etcdserverpb::DefragmentRequest&,
                            Callback<etcdserverpb::DefragmentResponse> done) {
  absl::Status why;
  if (!Serving(&why)) return std::move(done)(why);
  // LevelDB reclaims space by its own compactions; an explicit full compaction is what
  // defragmenting means for it.
  store_->backend().CompactAll();
  // No header, as etcd 3.4's maintenance server (`&pb.DefragmentResponse{}`).
  std::move(done)(etcdserverpb::DefragmentResponse());
}

void ServerImpl::HashKV(const etcdserverpb::HashKVRequest& request,
                        Callback<etcdserverpb::HashKVResponse> done) {
  absl::StatusOr<etcdserverpb::HashKVResponse> response = store_->HashKV(request.revision());
  if (response.ok()) {
    const int64_t revision = response->header().revision();
    FillHeaderNow(&*response);
    response->mutable_header()->set_revision(revision);
  }
  std::move(done)(std::move(response));
}

namespace {

// Streams a BackendSnapshot taken at construction, in chunks.
class BackendSnapshotReader final : public SnapshotReader {
 public:
  explicit BackendSnapshotReader(std::string bytes) : bytes_(std::move(bytes)) {}
  absl::StatusOr<std::string> Next(size_t max_bytes, uint64_t* remaining_bytes) override {
    const size_t n = std::min(max_bytes, bytes_.size() - offset_);
    std::string chunk = bytes_.substr(offset_, n);
    offset_ += n;
    *remaining_bytes = bytes_.size() - offset_;
    return chunk;
  }

 private:
  const std::string bytes_;
  size_t offset_ = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<SnapshotReader>> ServerImpl::Snapshot() {
  absl::Status why;
  if (!Serving(&why)) return why;
  const int64_t start_ns = loop_->NowNanos();
  absl::Status committed = store_->Commit();
  if (!committed.ok()) return committed;
  serverpb::BackendSnapshot data;
  absl::Status dumped = store_->backend().ScanAll([&](std::string_view k, std::string_view v) {
    data.add_keys(std::string(k));
    data.add_values(std::string(v));
    return true;
  });
  if (!dumped.ok()) return dumped;
  // The backup layout is in storage/format.h ("Backup files").
  const std::string payload = data.SerializeAsString();
  std::string bytes(storage::kBackupMagic);
  for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<char>(static_cast<uint64_t>(payload.size()) >> (8 * i)));
  bytes += payload;
  bytes.resize((bytes.size() + storage::kBackupAlignmentBytes - 1) / storage::kBackupAlignmentBytes *
                   storage::kBackupAlignmentBytes,
               '\0');
  metrics_recorder_.ObserveBackendSnapshot(loop_->NowNanos() - start_ns);
  return std::make_unique<BackendSnapshotReader>(std::move(bytes));
}

void ServerImpl::MoveLeader(const etcdserverpb::MoveLeaderRequest& request,
                            Callback<etcdserverpb::MoveLeaderResponse> done) {
  if (!is_leader_) return std::move(done)(NotLeaderError());
  const serverpb::Member* target = membership_->Find(request.targetid());
  if (target == nullptr || target->is_learner()) return std::move(done)(BadLeaderTransfereeError());
  if (request.targetid() == member_id_) {
    etcdserverpb::MoveLeaderResponse response;
    FillHeaderNow(&response);
    return std::move(done)(std::move(response));
  }
  auto shared = std::make_shared<Callback<etcdserverpb::MoveLeaderResponse>>(std::move(done));
  const env::TimerId timeout =
      loop_->RunAfter(config_.election_timeout_ms * 2 * 1'000'000, [shared]() mutable {
        // Whichever of timeout and leader change comes first answers; the other finds
        // the callback already taken (a moved-from AnyInvocable is empty).
        auto done = std::move(*shared);
        if (done) std::move(done)(LeaderTransferTimeoutError());
      });
  leader_waiters_.emplace_back(request.targetid(), [this, shared, timeout]() mutable {
    loop_->Cancel(timeout);
    auto done = std::move(*shared);
    if (!done) return;
    etcdserverpb::MoveLeaderResponse response;
    FillHeaderNow(&response);
    std::move(done)(std::move(response));
  });
  raft_->TransferLeader(request.targetid());
  MaybeProcessReady();
}

uint64_t ServerImpl::BackendFileBytes() const {
  uint64_t total = 0;
  absl::StatusOr<std::vector<std::string>> names = env_->fs()->GetChildren(db_dir_);
  if (!names.ok()) return 0;
  for (const std::string& name : *names) {
    absl::StatusOr<uint64_t> size = env_->fs()->GetFileSize(db_dir_ + "/" + name);
    if (size.ok()) total += *size;
  }
  return total;
}

ServerStats ServerImpl::Stats() const {
  ServerStats s = counters_;
  const raft::NodeStatus status = raft_->GetStatus();
  s.member_id = member_id_;
  s.cluster_id = cluster_id_;
  s.leader_id = leader_id_;
  s.raft_term = status.term;
  s.raft_index = raft_storage_.LastIndex().value_or(0);
  s.raft_commit_index = status.commit;
  s.raft_applied_index = applied_index_;
  s.revision = store_->current_revision();
  s.compact_revision = store_->compact_revision();
  s.db_size_bytes = BackendFileBytes();
  const serverpb::Member* self = membership_->Find(member_id_);
  s.is_learner = self != nullptr && self->is_learner();
  s.alarms = alarms_->List();
  s.snapshots_sent = snapshot_stats_.succeeded;
  s.snapshots_send_failed = snapshot_stats_.failed;
  s.snapshot_bytes_sent = snapshot_stats_.bytes_sent;
  s.snapshots_received = snapshot_stats_.received;
  s.snapshot_receive_failures = snapshot_stats_.receive_failures;
  s.metrics = metrics_recorder_.metrics();
  s.quota_backend_bytes = static_cast<uint64_t>(store_->quota_bytes());
  s.db_size_in_use_bytes = store_->size_bytes();
  return s;
}

}  // namespace keel::server
