// The Ready loop: ticking, persisting, sending, applying. See server_impl.h.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "env/buggify.h"
#include "kv/errors.h"
#include "raft/entry_util.h"
#include "raft/errors.h"
#include "server/errors.h"
#include "server/server_impl.h"
#include "storage/file_util.h"

namespace keel::server {
namespace {

// BUGGIFY's slow state machine: how long a Ready's apply waits (a few heartbeats of the
// simulator's fastest scenarios).
constexpr int64_t kBuggifyApplyDelayNs = 15'000'000;

}  // namespace

void ServerImpl::Start() {
  if (started_ || stopped_) return;
  started_ = true;
  last_progress_tick_ns_ = loop_->NowNanos();
  // A single-member cluster elects itself at once instead of waiting a whole timeout.
  if (conf_state_.voters_size() <= 1 && membership_->voter_count() == 1) {
    (void)raft_->Campaign();
  }
  const bool periodic = config_.auto_compaction_periodic;
  const int64_t retention = periodic ? config_.auto_compaction_retention_ns
                                     : config_.auto_compaction_retention_revisions;
  if (retention > 0) {
    auto_compactor_.emplace(periodic, retention, loop_->NowNanos(), store_->current_revision());
    next_auto_compaction_ns_ = loop_->NowNanos() + auto_compactor_->interval_ns();
  }
  ScheduleTick();
  ScheduleCorruptCheck();
  MaybeProcessReady();
}

void ServerImpl::MaybeAutoCompact() {
  const int64_t now = loop_->NowNanos();
  if (!auto_compactor_ || now < next_auto_compaction_ns_) return;
  next_auto_compaction_ns_ = now + auto_compactor_->interval_ns();
  std::optional<int64_t> target =
      auto_compactor_->Tick(now, store_->current_revision(), is_leader_);
  if (!target) return;
  etcdserverpb::CompactionRequest request;
  request.set_revision(*target);
  Compact(request, [this, alive = std::weak_ptr<const int>(alive_)](
                       absl::StatusOr<etcdserverpb::CompactionResponse> r) {
    if (alive.expired()) return;
    // etcd's compactor counts ErrCompacted as done: someone compacted past it already.
    const bool ok = r.ok() || r.status().message() == kv::kMsgCompacted;
    auto_compactor_->Done(loop_->NowNanos(), ok);
  });
}

void ServerImpl::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (tick_timer_ != 0) loop_->Cancel(tick_timer_);
  if (corrupt_check_timer_ != 0) loop_->Cancel(corrupt_check_timer_);
  if (hash_check_.has_value() && hash_check_->timeout != 0) loop_->Cancel(hash_check_->timeout);
  hash_check_.reset();
  // Ends transfers in both directions: timers cancelled, their files removed.
  snapshot_sender_.reset();
  snapshot_receiver_.reset();
  pending_proposals_.clear();  // FailAllPending answers their waiters
  FailAllPending(StoppedError());
}

void ServerImpl::ScheduleTick() {
  tick_timer_ = loop_->RunAfter(config_.heartbeat_interval_ms * 1'000'000, [this]() mutable {
    tick_timer_ = 0;
    if (stopped_) return;
    OnTick();
    ScheduleTick();
  });
}

void ServerImpl::OnTick() {
  raft_->Tick();
  MaybeAutoCompact();
  if (is_leader_) RunLeaseDuties();
  // Bug-zoo site server-follower-lease-expiry: a follower runs its own lease clock and
  // revokes locally, without consensus.
  if (!is_leader_ && config_.bugs.on(env::Bug::kServerFollowerLeaseExpiry)) {
    if (!lessor_->is_primary()) lessor_->Promote(loop_->NowNanos(), 0);
    for (kv::LeaseId id : lessor_->ExpiredLeases(loop_->NowNanos(), 16)) {
      (void)applier_->RevokeLease(id);
      (void)store_->Commit();
    }
  }
  // etcd sends progress notifications every 10 minutes.
  if (loop_->NowNanos() - last_progress_tick_ns_ >= int64_t{600} * 1'000'000'000) {
    last_progress_tick_ns_ = loop_->NowNanos();
    watch_hub_->ProgressTick();
  }
  if (watch_hub_->HasBacklog()) (void)watch_hub_->Pump(1000);
  MaybePublish();
  MaybeProcessReady();
}

void ServerImpl::MaybeProcessReady() {
  if (ready_scheduled_ || ready_in_flight_ || failed_ || stopped_) return;
  if (!raft_->HasReady() && pending_proposals_.empty()) return;
  // Deferred to the loop so that a burst of proposals in one callback becomes one Ready:
  // group commit, one WAL write and one fsync for all of them.
  ready_scheduled_ = true;
  loop_->Post([this]() mutable {
    ready_scheduled_ = false;
    ProcessReady();
  });
}

void ServerImpl::ProcessReady() {
  if (ready_in_flight_ || failed_ || stopped_) return;
  FlushProposals();
  if (failed_ || stopped_ || !raft_->HasReady()) return;
  raft::Ready rd = raft_->GetReady();
  ready_in_flight_ = true;
  if (rd.soft_state.has_value()) HandleSoftState(*rd.soft_state);
  if (rd.hard_state.has_value()) term_ = rd.hard_state->term();
  HandleReadStates(rd.read_states);
  // Appends, heartbeats and vote requests may leave before our own fsync (thesis §10.2.1).
  SendRaftMessages(rd.messages);

  if (rd.snapshot.has_value()) {
    absl::Status installed = InstallSnapshot(*rd.snapshot);
    if (!installed.ok()) return Fatal(installed);
  }
  bool nothing_to_write = !rd.hard_state.has_value() && rd.entries.empty();
  // Bug-zoo site server-skip-wal: acknowledge entries as durable without writing them.
  if (config_.bugs.on(env::Bug::kServerSkipWal)) nothing_to_write = true;
  if (nothing_to_write) {
    // Nothing to persist: complete on the loop like a real write would, keeping one path.
    loop_->Post([this, rd = std::move(rd)]() mutable {
      OnReadyPersisted(std::move(rd), absl::OkStatus());
    });
    return;
  }
  raftpb::HardState hs = rd.hard_state.value_or(raftpb::HardState());
  if (config_.bugs.on(env::Bug::kRaftForgetVote)) hs.set_vote(0);  // bug-zoo site
  counters_.wal_fsyncs++;
  // The WAL owns the callback until it runs; `rd` travels inside it. Save encodes the
  // entries before it returns, so it reads them in place (no copy).
  auto holder = std::make_shared<raft::Ready>(std::move(rd));
  const int64_t save_start_ns = loop_->NowNanos();
  absl::Status submitted = wal_->Save(hs, holder->entries, [this, holder, save_start_ns](absl::Status s) {
    metrics_recorder_.ObserveWalFsync(loop_->NowNanos() - save_start_ns);
    OnReadyPersisted(std::move(*holder), std::move(s));
  });
  if (!submitted.ok()) Fatal(submitted);
}

void ServerImpl::OnReadyPersisted(raft::Ready rd, absl::Status status) {
  if (failed_) return;
  if (!status.ok()) {
    return Fatal(absl::Status(status.code(), absl::StrCat("WAL write failed: ", status.message())));
  }
  if (rd.hard_state.has_value()) raft_storage_.SetHardState(*rd.hard_state);
  if (!rd.entries.empty()) {
    absl::Status appended = raft_storage_.Append(std::move(rd.entries));
    if (!appended.ok()) return Fatal(appended);
  }
  if (config_.on_persisted) config_.on_persisted();
  SendRaftMessages(rd.messages_after_persist);
  // BUGGIFY: a slow state machine. Applying later is legal: Raft waits for Advance, and
  // reads, new Readies and snapshots wait with it.
  if (!rd.committed_entries.empty() && KEEL_BUGGIFY("server.apply_delay_15ms")) {
    loop_->RunAfter(kBuggifyApplyDelayNs, [this, alive = std::weak_ptr<const int>(alive_),
                                           rd = std::move(rd)]() mutable {
      if (alive.expired() || failed_ || stopped_) return;
      FinishReady(std::move(rd));
    });
    return;
  }
  FinishReady(std::move(rd));
}

void ServerImpl::FinishReady(raft::Ready rd) {
  ApplyCommitted(rd.committed_entries);
  if (failed_) return;
  raft_->Advance();
  ready_in_flight_ = false;
  MaybeTakeSnapshot();
  ServeReadsUpTo(applied_index_);
  MaybeProcessReady();
}

void ServerImpl::SendRaftMessages(std::vector<raftpb::Message>& messages) {
  for (raftpb::Message& m : messages) {
    if (m.to() == member_id_) continue;
    if (m.type() == raftpb::MsgSnap) {
      // Raft's snapshot carries only metadata (the backend is the state): the backend
      // image streams beside it in chunks, and the follower steps the MsgSnap itself once
      // the image is complete and verified (snapshot_transfer.h).
      StartSnapshotTransfer(std::move(m));
      continue;
    }
    serverpb::PeerMessage envelope;
    // A follower forwarding a proposal to its leader: say for which term (see
    // AcceptForwardedProposal).
    if (m.type() == raftpb::MsgProp) {
      envelope.set_proposal_term(raft_->raft().term());
      DebugLog("%x forwarded a proposal (%d entries) to %x at term %d", member_id_,
               m.entries_size(), m.to(), raft_->raft().term());
    }
    if (m.type() == raftpb::MsgApp || m.type() == raftpb::MsgHeartbeat ||
        m.type() == raftpb::MsgVote || m.type() == raftpb::MsgPreVote) {
      for (const std::string& url : config_.advertise_peer_urls) envelope.add_sender_peer_urls(url);
    }
    *envelope.mutable_raft() = std::move(m);
    SendPeer(envelope.raft().to(), envelope);
  }
}

void ServerImpl::SendPeer(uint64_t to, const serverpb::PeerMessage& message) {
  std::string bytes = message.SerializeAsString();
  metrics_recorder_.OnSent(to, message.has_raft() ? static_cast<int>(message.raft().type()) : -1,
                           bytes.size(), loop_->NowNanos());
  env_->transport()->Send(to, std::move(bytes));
}

void ServerImpl::StartSnapshotTransfer(raftpb::Message m) {
  if (snapshot_sender_ == nullptr) return raft_->ReportSnapshot(m.to(), false);  // stopped
  // The image is the backend as it is now; its consistent index is >= the snapshot's
  // index, and the receiver's apply path skips entries at or below it.
  // As etcd's createMergedSnapshotMessage: the metadata describes that same state (applied
  // index, term and configuration), not the older stored snapshot. Otherwise a member
  // added after the stored snapshot finds itself missing from its ConfState, Raft refuses
  // the snapshot, and the leader resends it forever (found by tests/join_test.py).
  raftpb::SnapshotMetadata* meta = m.mutable_snapshot()->mutable_metadata();
  if (applied_index_ > meta->index()) {
    meta->set_index(applied_index_);
    meta->set_term(applied_term_);
    *meta->mutable_conf_state() = conf_state_;
  }
  snapshot_sender_->Start(std::move(m), ids_->Next(), [this](storage::BackendImageWriter* w) {
    absl::Status added;
    absl::Status scanned = store_->backend().ScanAll([&](std::string_view k, std::string_view v) {
      added = w->Add(k, v);
      return added.ok();
    });
    return scanned.ok() ? added : scanned;
  });
}

void ServerImpl::StepReceivedSnapshot(raftpb::Message m) {
  if (stopped_ || failed_ || membership_->IsRemoved(m.from())) return;
  (void)raft_->Step(std::move(m));
  MaybeProcessReady();
}

void ServerImpl::OnMessage(uint64_t from, std::string payload) {
  if (stopped_ || failed_) return;
  serverpb::PeerMessage message;
  if (!message.ParseFromString(payload)) return;  // garbage from the network: ignore
  if (membership_.has_value() && membership_->Find(from) != nullptr) {  // bounded: members only
    metrics_recorder_.OnReceived(from, message.has_raft() ? static_cast<int>(message.raft().type()) : -1,
                                 payload.size(), loop_->NowNanos());
    PeerHeard& heard = peer_heard_[from];
    const int64_t now = loop_->NowNanos();
    if (heard.last_ns == 0 || now - heard.last_ns > config_.election_timeout_ms * 1'000'000) {
      heard.since_ns = now;
    }
    heard.last_ns = now;
  }
  switch (message.body_case()) {
    case serverpb::PeerMessage::kRaft: {
      if (membership_->IsRemoved(message.raft().from())) return;
      if (message.sender_peer_urls_size() > 0) LearnRemote(from, message.sender_peer_urls(0));
      if (message.raft().type() == raftpb::MsgProp && !AcceptForwardedProposal(message)) return;
      (void)raft_->Step(std::move(*message.mutable_raft()));
      break;
    }
    case serverpb::PeerMessage::kSnapshotChunk:
      if (membership_->IsRemoved(from) || snapshot_receiver_ == nullptr) return;
      snapshot_receiver_->OnChunk(from, message.snapshot_chunk());
      break;
    case serverpb::PeerMessage::kSnapshotAck:
      if (snapshot_sender_ == nullptr) return;
      snapshot_sender_->OnAck(from, message.snapshot_ack());
      break;
    case serverpb::PeerMessage::kRequest:
      HandleForwardedRequest(from, message.request());
      break;
    case serverpb::PeerMessage::kHashQuery:
      if (membership_->IsRemoved(from)) return;
      AnswerHashQuery(from, message.hash_query());
      break;
    case serverpb::PeerMessage::kHashAnswer:
      OnHashAnswer(from, message.hash_answer());
      break;
    case serverpb::PeerMessage::kResponse: {
      auto it = forwarded_.find(message.response().request_id());
      if (it == forwarded_.end()) return;
      Forwarded f = std::move(it->second);
      forwarded_.erase(it);
      loop_->Cancel(f.timeout);
      std::move(f.done)(message.response());
      break;
    }
    default:
      return;
  }
  MaybeProcessReady();
}

// A forwarded proposal (MsgProp) is not part of Raft's protocol but etcd's: Raft tolerates
// duplicated messages of its own, yet a duplicated MsgProp would append, and execute, the
// same client request twice. Every copy of one forwarded proposal carries the term its
// sender forwarded it in, and only the leader of exactly that term appends it: a member is
// leader of a term at most once, for one uninterrupted stretch (a restart comes back as a
// follower, and leading again takes a higher term), so its in-memory record of the request
// IDs it accepted covers every copy it can ever accept. A copy reaching a follower, a
// candidate, or a leader of another term is dropped, not forwarded again: re-forwarded, a
// copy delayed across leader changes and crashes reached a later leader that had never
// seen the request and executed it a second time (keelsim seed 3555: a put acknowledged
// at revision 398 was executed again at revision 519). To the proposer a dropped copy is a
// lost message: its request times out, as when the network drops it.
bool ServerImpl::AcceptForwardedProposal(const serverpb::PeerMessage& message) {
  const raft::Raft& raft = raft_->raft();
  if (raft.state() != raft::StateType::kLeader || message.proposal_term() != raft.term()) {
    DebugLog("%x dropped a forwarded proposal (%d entries) from %x stamped term %d: we are %s "
             "at term %d", member_id_, message.raft().entries_size(), message.raft().from(),
             message.proposal_term(), raft::StateTypeName(raft.state()), raft.term());
    return false;
  }
  if (IsDuplicateProposal(message.raft())) {
    DebugLog("%x dropped a repeated forwarded proposal from %x", member_id_, message.raft().from());
    return false;
  }
  return true;
}

// Whether every entry of `m` is a request this leader accepted before (and remembers it
// accepted). Records the request IDs of `m` otherwise.
bool ServerImpl::IsDuplicateProposal(const raftpb::Message& m) {
  bool duplicate = !m.entries().empty();
  std::vector<uint64_t> ids;
  for (const raftpb::Entry& e : m.entries()) {
    serverpb::InternalRaftRequest request;
    if (e.type() != raftpb::EntryNormal || !request.ParseFromString(e.data()) ||
        request.header().id() == 0) {
      return false;  // not ours to judge: let Raft have it
    }
    ids.push_back(request.header().id());
    duplicate = duplicate && recent_forwarded_ids_.contains(request.header().id());
  }
  if (duplicate) return true;
  for (uint64_t id : ids) {
    if (!recent_forwarded_ids_.insert(id).second) continue;
    recent_forwarded_order_.push_back(id);
    if (recent_forwarded_order_.size() > kRecentForwardedIds) {
      recent_forwarded_ids_.erase(recent_forwarded_order_.front());
      recent_forwarded_order_.pop_front();
    }
  }
  return false;
}

void ServerImpl::OnPeerUnreachable(uint64_t peer) {
  if (membership_.has_value() && membership_->Find(peer) != nullptr) metrics_recorder_.OnUnreachable(peer);
  if (raft_ != nullptr && !stopped_) raft_->ReportUnreachable(peer);
  if (snapshot_sender_ != nullptr && !stopped_) snapshot_sender_->OnPeerUnreachable(peer);
}

void ServerImpl::HandleSoftState(const raft::SoftState& soft) {
  const bool was_leader = is_leader_;
  if (soft.lead != leader_id_) {
    DebugLog("%x sees leader %x (was %x) at term %d as %s", member_id_, soft.lead, leader_id_,
             raft_->raft().term(), raft::StateTypeName(soft.state));
    if (soft.lead != 0) counters_.leader_changes_seen++;
    leader_id_ = soft.lead;
  }
  is_leader_ = soft.state == raft::StateType::kLeader;
  // A new leader's lessor is promoted only when it applies its own term's empty entry
  // (ApplyNormalEntry), as etcd's applyEntryNormal does, not here.
  if (!is_leader_ && was_leader) {
    lessor_->Demote();
  }
  // MoveLeader and others waiting for a particular leader.
  for (auto it = leader_waiters_.begin(); it != leader_waiters_.end();) {
    if (it->first == leader_id_) {
      auto done = std::move(it->second);
      it = leader_waiters_.erase(it);
      std::move(done)();
    } else {
      ++it;
    }
  }
}

absl::Status ServerImpl::InstallSnapshot(const raftpb::Snapshot& snapshot) {
  // The image the snapshot names was verified on arrival; read (and verify) it whole
  // before anything durable changes, so an unusable one leaves no half-applied state.
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> records =
      ReadBackendImage(snapshot);
  if (!records.ok()) return records.status();
  // Durable next: if we crash before the backend holds it, Recover finds the snapshot
  // file (naming the image, which stays until the backend is durable) ahead of the
  // backend's consistent index and installs it again.
  absl::Status saved = snapshotter_->Save(snapshot);
  if (!saved.ok()) return saved;
  // An installed marker: the received snapshot replaced the whole log, so a restart must
  // not replay our older entries after its index (they may conflict with the leader's).
  absl::Status marked = wal_->SaveInstalledSnapshotMarker(
      {snapshot.metadata().index(), snapshot.metadata().term()},
      [this](absl::Status s) {
        if (!s.ok()) Fatal(s);
      });
  if (!marked.ok()) return marked;
  const int64_t previous_revision = store_->current_revision();
  absl::Status restored = RestoreBackend(snapshot, *records);
  if (!restored.ok()) return restored;
  records->clear();
  // The backend is durable at the snapshot: no published image is needed any more (one
  // published later is stepped, and installed, after this). Partial ones stay.
  (void)storage::RemoveFilesWithSuffix(env_->fs(), snap_dir_, storage::kImageSuffix);
  absl::Status state = ReloadStateFromBackend();
  if (!state.ok()) return state;
  watch_hub_->OnStoreRestored(previous_revision);
  raftpb::Snapshot metadata_only = snapshot;
  metadata_only.clear_data();
  absl::Status applied = raft_storage_.ApplySnapshot(metadata_only);
  if (!applied.ok()) return applied;
  conf_state_ = snapshot.metadata().conf_state();
  snapshot_index_ = snapshot.metadata().index();
  applied_index_ = snapshot.metadata().index();
  applied_term_ = snapshot.metadata().term();
  ConnectPeers();
  return absl::OkStatus();
}

void ServerImpl::ApplyCommitted(const std::vector<raftpb::Entry>& entries) {
  if (entries.empty()) return;
  for (const raftpb::Entry& e : entries) {
    if (e.index() <= applied_index_) continue;  // covered by an installed snapshot
    if (e.type() == raftpb::EntryNormal) {
      ApplyNormalEntry(e);
    } else {
      ApplyConfChangeEntry(e);
    }
    if (failed_) return;
    applied_index_ = e.index();
    applied_term_ = e.term();
    if (config_.on_apply) config_.on_apply(e);
  }
  // One backend batch for the whole group: data, consistent index, members, leases.
  const int64_t commit_start_ns = loop_->NowNanos();
  absl::Status committed = store_->Commit();
  metrics_recorder_.ObserveBackendCommit(loop_->NowNanos() - commit_start_ns);
  if (!committed.ok()) {
    return Fatal(absl::Status(committed.code(),
                              absl::StrCat("backend commit failed: ", committed.message())));
  }
  // Watchers that fell behind catch up in bounded steps, never blocking the apply path.
  if (watch_hub_->HasBacklog()) (void)watch_hub_->Pump(1000);
}

void ServerImpl::ApplyNormalEntry(const raftpb::Entry& e) {
  const bool already_in_backend = e.index() <= store_->consistent_index();
  if (e.data().empty()) {
    // A new leader's empty entry changes no data, but the consistent index must still
    // cover it: a snapshot taken right after it promises the backend holds everything up
    // to its index. (Found by keelsim: a member then refused to restart.)
    if (!already_in_backend) store_->SetConsistentIndex(e.index(), e.term());
    // A leader's lessor becomes primary once it applies the empty entry of its own term:
    // every entry of earlier terms has applied by then, including an expiry revoke that
    // this member proposed when it led before and that only commits now. Promoted at
    // election, it renewed such a lease and acknowledged the keep-alive, and the old
    // revoke then killed the lease anyway (keelsim seed 259). As etcd: until then a
    // keep-alive is "not primary" and retried. Every lease gets an election timeout of
    // grace: its owner could not reach anyone while there was no leader.
    if (is_leader_ && !lessor_->is_primary() && e.term() == raft_->raft().term()) {
      lessor_->Promote(loop_->NowNanos(), config_.election_timeout_ms * 1'000'000);
    }
    return;
  }
  serverpb::InternalRaftRequest request;
  if (!request.ParseFromString(e.data())) {
    return Fatal(absl::DataLossError(
        absl::StrFormat("unparseable request in committed entry %d", e.index())));
  }
  if (already_in_backend) return;  // applied before a restart; its waiter is gone
  store_->SetConsistentIndex(e.index(), e.term());
  // Bug-zoo site server-index-before-apply: the index reaches LevelDB in a batch of its
  // own, so a crash can keep it while losing the effects (etcd's v3.5 data-inconsistency
  // class).
  if (config_.bugs.on(env::Bug::kServerIndexBeforeApply)) (void)store_->Commit();
  counters_.proposals_applied++;
  const std::pair<bool, uint64_t> auth_before{auth_->enabled(), auth_->revision()};
  ApplyResult result = applier_->Apply(request, loop_->NowNanos(), Header(), e.index());
  if (std::pair{auth_->enabled(), auth_->revision()} != auth_before && !watch_recheck_posted_) {
    // Open watches are re-checked once the Ready's batch is applied, from the Loop.
    watch_recheck_posted_ = true;
    loop_->Post([this, alive = std::weak_ptr<const int>(alive_)]() mutable {
      if (alive.expired()) return;
      watch_recheck_posted_ = false;
      RecheckWatchPermissions();
    });
  }
  if (!store_->poisoned().ok()) {
    // A read the entry needed failed (EIO, or a checksum caught a bit flip): this replica
    // cannot know the entry's effect, so it answers nothing and applies nothing after it.
    // Its waiter hears "unavailable" (outcome unknown), never the read error as a refusal.
    return Fatal(absl::Status(store_->poisoned().code(),
                              absl::StrFormat("apply of committed entry %d failed: %s", e.index(),
                                              store_->poisoned().message())));
  }
  // etcd's applyEntryNormal: a write that fails the quota when it applies (the front-end
  // check passed on a smaller store) makes every member that applies it raise NOSPACE.
  // Proposed from the loop, not from inside the apply of this Ready.
  if (result.status.code() == absl::StatusCode::kResourceExhausted &&
      result.status.message() == kv::kMsgNoSpace && !alarms_->Has(etcdserverpb::NOSPACE)) {
    loop_->Post([this, alive = std::weak_ptr<const int>(alive_)]() mutable {
      if (!alive.expired()) RaiseNoSpaceAlarm();
    });
  }
  Complete(request.header().id(), std::move(result));
}

void ServerImpl::ApplyConfChangeEntry(const raftpb::Entry& e) {
  const bool already_in_backend = e.index() <= store_->consistent_index();
  raftpb::ConfChange cc;
  serverpb::ConfChangeContext context;
  if (e.type() != raftpb::EntryConfChange || !cc.ParseFromString(e.data()) ||
      !context.ParseFromString(cc.context())) {
    return Fatal(absl::DataLossError(
        absl::StrFormat("unparseable configuration change in committed entry %d", e.index())));
  }
  ApplyResult result;
  if (!already_in_backend) {
    store_->SetConsistentIndex(e.index(), e.term());
    result.status = membership_->ApplyConfChange(e.index(), cc, context, store_->backend());
  } else {
    // Replayed after a restart over a backend that holds it: Raft must decide as it did
    // the first time, which membership recorded. Assuming "applied" put a refused change
    // into Raft's configuration on this member only.
    result.status = Membership::RefusalAt(e.index(), store_->backend());
    if (result.status.code() == absl::StatusCode::kDataLoss) return Fatal(result.status);
  }
  // A change membership refused (it raced another one) changes nothing in Raft either:
  // both views must stay the same set of members.
  if (result.status.ok()) {
    absl::StatusOr<raftpb::ConfState> cs = raft_->ApplyConfChange(cc);
    if (cs.ok()) conf_state_ = *cs;
  }
  if (already_in_backend) return;
  if (cc.type() == raftpb::ConfChangeRemoveNode && result.status.ok()) {
    env_->transport()->RemovePeer(cc.node_id());
    metrics_recorder_.RemovePeer(cc.node_id());
    // Bug-zoo site server-removed-leader-leads: a leader that applies its own removal
    // keeps running (and leading) instead of stopping.
    const bool keep_running = is_leader_ && config_.bugs.on(env::Bug::kServerRemovedLeaderLeads);
    if (cc.node_id() == member_id_ && !keep_running) {
      // We were removed: stop serving, as etcd does.
      Complete(context.request_id(), std::move(result));
      Stop();
      return;
    }
  }
  ConnectPeers();
  Complete(context.request_id(), std::move(result));
}

void ServerImpl::MaybeTakeSnapshot() {
  if (applied_index_ < snapshot_index_ + config_.snapshot_count) {
    // BUGGIFY: snapshot (and compact) long before snapshot_count says, so followers need
    // InstallSnapshot and restarts replay from fresh snapshots far more often.
    if (applied_index_ <= snapshot_index_ || !KEEL_BUGGIFY_WITH_PROB("server.snapshot_early", 0.02)) return;
  }
  // The backend must hold everything up to applied_index_ durably before the snapshot
  // lets the WAL go: after this point nothing could replay those entries.
  absl::Status synced = store_->Sync();
  if (!synced.ok()) return Fatal(synced);
  absl::StatusOr<raftpb::Snapshot> snap =
      raft_storage_.CreateSnapshot(applied_index_, &conf_state_, /*data=*/"");
  if (!snap.ok()) return;  // e.g. a newer one was installed meanwhile
  // The state lives in the backend, committed up to applied_index_ already; the snapshot
  // file records what Raft needs (index, term, configuration) to restart from here.
  // A previous life may have saved this very snapshot and crashed before its WAL marker
  // was durable (recovery then fell back to an older one): the file is already right.
  bool exists = false;
  absl::StatusOr<std::vector<storage::SnapshotFileInfo>> files = snapshotter_->List();
  if (files.ok()) {
    for (const storage::SnapshotFileInfo& f : *files) {
      exists |= f.index == snap->metadata().index() && f.term == snap->metadata().term();
    }
  }
  if (!exists) {
    absl::Status saved = snapshotter_->Save(*snap);
    if (!saved.ok()) return Fatal(saved);
  }
  absl::Status marked = wal_->SaveSnapshotMarker(
      {snap->metadata().index(), snap->metadata().term()}, [this](absl::Status s) {
        if (!s.ok()) Fatal(s);
      });
  if (!marked.ok()) return Fatal(marked);
  snapshot_index_ = applied_index_;
  // Keep some entries for followers that are only a little behind (etcd: 5000).
  if (applied_index_ > config_.snapshot_catchup_entries) {
    (void)raft_storage_.Compact(applied_index_ - config_.snapshot_catchup_entries);
  }
  // Keep --max-snapshots snapshot files, and every WAL segment the oldest of them still
  // needs: if the newest turns out corrupt at restart, recovery falls back to an older one
  // and must find the log from there on. Beyond --max-wals segments in all, the oldest of
  // those no kept snapshot needs go (etcd's purge); 0 = unlimited for either.
  if (config_.max_snapshots > 0) (void)snapshotter_->Purge(config_.max_snapshots);
  absl::StatusOr<std::vector<storage::SnapshotFileInfo>> kept = snapshotter_->List();
  if (config_.max_wals > 0 && kept.ok() && !kept->empty()) {
    uint64_t oldest = kept->front().index;
    for (const storage::SnapshotFileInfo& info : *kept) oldest = std::min(oldest, info.index);
    (void)wal_->RemoveSegmentsBefore(oldest, config_.max_wals);
  }
}

void ServerImpl::Fatal(const absl::Status& status) {
  if (failed_) return;
  failed_ = true;
  FailAllPending(absl::UnavailableError(
      absl::StrCat("etcdserver: member stopped after a storage failure: ", status.message())));
  Stop();
  if (config_.on_fatal) config_.on_fatal(status);
}

}  // namespace keel::server
