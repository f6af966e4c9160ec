#include "raft/raft.h"

#include <algorithm>
#include <functional>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "base/check.h"
#include "raft/confchange.h"
#include "raft/entry_util.h"
#include "raft/errors.h"

// Formats only when a logger is installed, so logging costs nothing when off.
#define RAFT_LOG(...)                                          \
  do {                                                         \
    if (logging()) Log(absl::StrFormat(__VA_ARGS__));          \
  } while (0)

namespace keel::raft {
namespace {

// A MsgVote/MsgPreVote carrying this context comes from a leadership transfer and must be
// considered even by nodes that still hear from the current leader.
constexpr char kCampaignTransfer[] = "CampaignTransfer";

raftpb::MessageType VoteRespMsgType(raftpb::MessageType t) {
  switch (t) {
    case raftpb::MsgVote:
      return raftpb::MsgVoteResp;
    case raftpb::MsgPreVote:
      return raftpb::MsgPreVoteResp;
    default:
      KEEL_CHECK_MSG(false, "not a vote message");
  }
  return raftpb::MsgVoteResp;
}

int NumOfPendingConf(const std::vector<raftpb::Entry>& entries) {
  int n = 0;
  for (const auto& e : entries) {
    if (e.type() == raftpb::EntryConfChange || e.type() == raftpb::EntryConfChangeV2) ++n;
  }
  return n;
}

}  // namespace

const char* StateTypeName(StateType s) {
  switch (s) {
    case StateType::kFollower:
      return "StateFollower";
    case StateType::kCandidate:
      return "StateCandidate";
    case StateType::kLeader:
      return "StateLeader";
    case StateType::kPreCandidate:
      return "StatePreCandidate";
  }
  return "StateUnknown";
}

bool IsLocalMsg(raftpb::MessageType t) {
  return t == raftpb::MsgHup || t == raftpb::MsgBeat || t == raftpb::MsgUnreachable ||
         t == raftpb::MsgSnapStatus || t == raftpb::MsgCheckQuorum;
}

bool IsResponseMsg(raftpb::MessageType t) {
  return t == raftpb::MsgAppResp || t == raftpb::MsgVoteResp ||
         t == raftpb::MsgHeartbeatResp || t == raftpb::MsgUnreachable ||
         t == raftpb::MsgPreVoteResp;
}

Raft::Raft(const Config& c)
    : id_(c.id),
      max_msg_size_bytes_(c.max_size_per_msg),
      max_uncommitted_size_bytes_(c.max_uncommitted_entries_size),
      check_quorum_(c.check_quorum),
      pre_vote_(c.pre_vote),
      disable_proposal_forwarding_(c.disable_proposal_forwarding),
      heartbeat_timeout_(c.heartbeat_tick),
      election_timeout_(c.election_tick),
      // 0 = [T, 2T); RawNode::Create validated the field, tests building Raft directly may not.
      election_timeout_max_(c.election_tick_max == 0 ? 2 * c.election_tick : c.election_tick_max),
      random_(c.random),
      bugs_(c.bugs),
      logger_(c.logger),
      log_(c.storage, c.max_committed_size_per_ready),
      tracker_(static_cast<size_t>(c.max_inflight_msgs), c.max_inflight_bytes),
      read_only_(c.read_only_option) {}

absl::StatusOr<std::unique_ptr<Raft>> Raft::Create(const Config& c) {
  absl::StatusOr<InitialState> initial = c.storage->GetInitialState();
  if (!initial.ok()) return initial.status();
  std::unique_ptr<Raft> r(new Raft(c));
  absl::StatusOr<ConfigAndProgress> cp =
      RestoreConfState(r->tracker_, r->log_.LastIndex(), initial->conf_state);
  if (!cp.ok()) return cp.status();
  const raftpb::ConfState cs = r->SwitchToConfig(*std::move(cp));
  KEEL_CHECK_MSG(ConfStatesEquivalent(cs, initial->conf_state),
                  "restored configuration differs from storage");
  if (!IsEmptyHardState(initial->hard_state)) {
    const raftpb::HardState& hs = initial->hard_state;
    if (hs.commit() < r->log_.committed() || hs.commit() > r->log_.LastIndex()) {
      return absl::DataLossError(absl::StrFormat(
          "raft: hard state commit %d is out of range [%d, %d]", hs.commit(),
          r->log_.committed(), r->log_.LastIndex()));
    }
    r->LoadState(hs);
  }
  if (c.applied > 0) {
    if (c.applied > r->log_.committed()) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "raft: applied %d is beyond commit %d", c.applied, r->log_.committed()));
    }
    r->log_.AppliedTo(std::max(c.applied, r->log_.applied()));
  }
  r->BecomeFollower(r->term_, kNoneId);
  if (r->logging()) {
    r->Log(absl::StrFormat("newraft %x [term: %d, commit: %d, applied: %d, lastindex: %d, lastterm: %d]", r->id_, r->term_, r->log_.committed(), r->log_.applied(), r->log_.LastIndex(), r->log_.LastTerm()));
  }
  return r;
}

void Raft::LoadState(const raftpb::HardState& hs) {
  log_.CommitTo(hs.commit());
  term_ = hs.term();
  vote_ = hs.vote();
}

raftpb::HardState Raft::hard_state() const {
  raftpb::HardState hs;
  hs.set_term(term_);
  hs.set_vote(vote_);
  hs.set_commit(log_.committed());
  return hs;
}

bool Raft::Promotable() const {
  const Progress* pr = tracker_.Find(id_);
  return pr != nullptr && !pr->is_learner && !log_.HasPendingSnapshot();
}

// ---------------------------------------------------------------------------------------
// Sending.
// ---------------------------------------------------------------------------------------

void Raft::Send(raftpb::Message m) {
  if (m.from() == kNoneId) m.set_from(id_);
  const raftpb::MessageType t = m.type();
  if (t == raftpb::MsgVote || t == raftpb::MsgVoteResp || t == raftpb::MsgPreVote ||
      t == raftpb::MsgPreVoteResp) {
    // Vote messages carry the term they are about (a pre-vote is for a future term).
    KEEL_CHECK_MSG(m.term() != 0, "vote message without a term");
  } else {
    KEEL_CHECK_MSG(m.term() == 0, "term must be set by Send");
    // Proposals and read requests forwarded to the leader are term-less on purpose: the
    // leader accepts them whatever its term.
    if (t != raftpb::MsgProp && t != raftpb::MsgReadIndex) m.set_term(term_);
  }
  // A vote or an append ack promises that local state is durable; it may only leave this
  // node after the caller persisted the Ready that contains that state.
  if (t == raftpb::MsgAppResp || t == raftpb::MsgVoteResp || t == raftpb::MsgPreVoteResp) {
    msgs_after_append_.push_back(std::move(m));
  } else {
    msgs_.push_back(std::move(m));
  }
}

bool Raft::MaybeSendAppend(uint64_t to, bool send_if_empty) {
  if (to == id_) return false;  // The leader acks its own log on persistence instead.
  Progress* pr = tracker_.Find(to);
  if (pr == nullptr || pr->IsPaused()) return false;

  absl::StatusOr<uint64_t> prev_term = log_.Term(pr->next - 1);
  absl::StatusOr<std::vector<raftpb::Entry>> entries =
      log_.EntriesFrom(pr->next, max_msg_size_bytes_);
  if (entries.ok() && entries->empty() && !send_if_empty) return false;
  if (!prev_term.ok() || !entries.ok()) {
    // What the follower needs was compacted: it must catch up from a snapshot (§7).
    return MaybeSendSnapshot(to, *pr);
  }

  raftpb::Message m;
  m.set_to(to);
  m.set_type(raftpb::MsgApp);
  m.set_index(pr->next - 1);
  m.set_logterm(*prev_term);
  m.set_commit(log_.committed());
  if (!entries->empty()) {
    const uint64_t last = entries->back().index();
    uint64_t bytes = 0;
    for (const auto& e : *entries) bytes += EntrySizeBytes(e);
    switch (pr->state) {
      case ProgressState::kReplicate:
        // Pipeline: assume success and keep sending; a rejection resets next.
        pr->OptimisticUpdate(last);
        pr->inflights.Add(last, bytes);
        break;
      case ProgressState::kProbe:
        pr->probe_sent = true;
        break;
      case ProgressState::kSnapshot:
        KEEL_CHECK_MSG(false, "sending entries to a follower awaiting a snapshot");
    }
    m.mutable_entries()->Reserve(static_cast<int>(entries->size()));
    for (auto& e : *entries) *m.add_entries() = std::move(e);
  }
  Send(std::move(m));
  return true;
}

bool Raft::MaybeSendSnapshot(uint64_t to, Progress& pr) {
  // Only send a (large) snapshot to a follower we know to be alive.
  if (!pr.recent_active) return false;
  absl::StatusOr<raftpb::Snapshot> snapshot = log_.Snapshot();
  if (!snapshot.ok()) {
    if (IsErrSnapshotTemporarilyUnavailable(snapshot.status())) return false;
    KEEL_CHECK_MSG(false, "failed to read snapshot from storage");
  }
  KEEL_CHECK_MSG(!IsEmptySnapshot(*snapshot), "need a non-empty snapshot");
  const uint64_t index = snapshot->metadata().index();
  RAFT_LOG("%x [firstindex: %d, commit: %d] sent snapshot[index: %d, term: %d] to %x", id_,
           log_.FirstIndex(), log_.committed(), index, snapshot->metadata().term(), to);
  pr.BecomeSnapshot(index);
  raftpb::Message m;
  m.set_to(to);
  m.set_type(raftpb::MsgSnap);
  *m.mutable_snapshot() = *std::move(snapshot);
  Send(std::move(m));
  return true;
}

void Raft::SendHeartbeat(uint64_t to, const std::string& ctx) {
  // The follower may not have the leader's committed entries yet; never tell it to commit
  // beyond what it is known to hold.
  const Progress* pr = tracker_.Find(to);
  raftpb::Message m;
  m.set_to(to);
  m.set_type(raftpb::MsgHeartbeat);
  m.set_commit(std::min(pr->match, log_.committed()));
  if (!ctx.empty()) m.set_context(ctx);
  Send(std::move(m));
}

void Raft::SendTimeoutNow(uint64_t to) {
  raftpb::Message m;
  m.set_to(to);
  m.set_type(raftpb::MsgTimeoutNow);
  Send(std::move(m));
}

void Raft::BcastAppend() {
  for (const auto& [id, pr] : tracker_.progress) {
    if (id != id_) SendAppend(id);
  }
}

void Raft::BcastHeartbeat() { BcastHeartbeatWithCtx(read_only_.LastPendingRequestCtx()); }

void Raft::BcastHeartbeatWithCtx(const std::string& ctx) {
  for (const auto& [id, pr] : tracker_.progress) {
    if (id != id_) SendHeartbeat(id, ctx);
  }
}

// ---------------------------------------------------------------------------------------
// Role changes.
// ---------------------------------------------------------------------------------------

void Raft::Reset(uint64_t term) {
  if (term_ != term) {
    term_ = term;
    vote_ = kNoneId;  // One vote per term: a new term frees the vote.
  }
  lead_ = kNoneId;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  ResetRandomizedElectionTimeout();
  AbortLeaderTransfer();
  tracker_.ResetVotes();
  const uint64_t last = log_.LastIndex();
  for (auto& [id, pr] : tracker_.progress) {
    Progress fresh(last + 1, tracker_.max_inflight(), tracker_.max_inflight_bytes(),
                   pr.is_learner);
    // We only vouch for what is durable; unstable entries are acked through Advance().
    if (id == id_) fresh.match = std::min(last, log_.StableLastIndex());
    pr = std::move(fresh);
  }
  pending_conf_index_ = 0;
  uncommitted_size_ = 0;
  read_only_ = ReadOnly(read_only_.option());
  pending_read_index_messages_.clear();
}

void Raft::ResetRandomizedElectionTimeout() {
  // §5.2: spreading timeouts over [T, Tmax) (by default [T, 2T)) makes split votes rare.
  // The default asks random_ for exactly the same draw as before Tmax existed, so golden
  // transcripts are unchanged; a zero-width range is a fixed timeout and draws nothing.
  KEEL_CHECK_MSG(election_timeout_max_ >= election_timeout_, "election_tick_max < election_tick");
  const uint64_t span = static_cast<uint64_t>(election_timeout_max_ - election_timeout_);
  randomized_election_timeout_ =
      election_timeout_ + (span == 0 ? 0 : static_cast<int>(random_->Uniform(span)));
}

void Raft::BecomeFollower(uint64_t term, uint64_t lead) {
  Reset(term);
  lead_ = lead;
  state_ = StateType::kFollower;
  RAFT_LOG("%x became follower at term %d", id_, term_);
}

void Raft::BecomeCandidate() {
  KEEL_CHECK_MSG(state_ != StateType::kLeader, "invalid transition [leader -> candidate]");
  Reset(term_ + 1);
  vote_ = id_;
  state_ = StateType::kCandidate;
  RAFT_LOG("%x became candidate at term %d", id_, term_);
}

void Raft::BecomePreCandidate() {
  KEEL_CHECK_MSG(state_ != StateType::kLeader, "invalid transition [leader -> pre-candidate]");
  // A pre-candidate changes neither term nor vote: that is the point of PreVote.
  tracker_.ResetVotes();
  lead_ = kNoneId;
  state_ = StateType::kPreCandidate;
  RAFT_LOG("%x became pre-candidate at term %d", id_, term_);
}

void Raft::BecomeLeader() {
  KEEL_CHECK_MSG(state_ != StateType::kFollower, "invalid transition [follower -> leader]");
  Reset(term_);
  lead_ = id_;
  state_ = StateType::kLeader;
  Progress* self = tracker_.Find(id_);
  // Campaigning requires membership and no unapplied conf change, so we are still a voter.
  KEEL_CHECK_MSG(self != nullptr && !self->is_learner, "became leader while not a voter");
  self->BecomeReplicate();
  self->recent_active = true;
  // Conf changes in the log we inherit may be unapplied; be conservative and treat the
  // whole log as possibly containing one.
  pending_conf_index_ = log_.LastIndex();
  // An empty entry of our term: committing it commits everything before it (§5.4.2) and
  // lets ReadIndex learn the commit index (thesis §6.4).
  std::vector<raftpb::Entry> empty(1);
  KEEL_CHECK_MSG(AppendEntries(std::move(empty)), "empty entry refused");
  RAFT_LOG("%x became leader at term %d", id_, term_);
}

// ---------------------------------------------------------------------------------------
// Ticks.
// ---------------------------------------------------------------------------------------

void Raft::Tick() {
  if (state_ == StateType::kLeader) {
    TickHeartbeat();
  } else {
    TickElection();
  }
}

void Raft::TickElection() {
  ++election_elapsed_;
  if (Promotable() && PastElectionTimeout()) {
    election_elapsed_ = 0;
    raftpb::Message m;
    m.set_from(id_);
    m.set_type(raftpb::MsgHup);
    (void)Step(std::move(m));
  }
}

void Raft::TickHeartbeat() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  if (election_elapsed_ >= election_timeout_) {
    election_elapsed_ = 0;
    if (check_quorum_) {
      raftpb::Message m;
      m.set_from(id_);
      m.set_type(raftpb::MsgCheckQuorum);
      (void)Step(std::move(m));
    }
    // A transfer that did not finish within an election timeout is abandoned.
    if (state_ == StateType::kLeader && lead_transferee_ != kNoneId) AbortLeaderTransfer();
  }
  if (state_ != StateType::kLeader) return;
  if (heartbeat_elapsed_ >= heartbeat_timeout_) {
    heartbeat_elapsed_ = 0;
    raftpb::Message m;
    m.set_from(id_);
    m.set_type(raftpb::MsgBeat);
    (void)Step(std::move(m));
  }
}

// ---------------------------------------------------------------------------------------
// Elections.
// ---------------------------------------------------------------------------------------

void Raft::Hup(CampaignType t) {
  if (state_ == StateType::kLeader) return;
  if (!Promotable()) {
    RAFT_LOG("%x is unpromotable and can not campaign", id_);
    return;
  }
  // A conf change that is committed but unapplied could change who may vote; wait.
  if (log_.committed() > log_.applied()) {
    auto entries = log_.Slice(log_.applied() + 1, log_.committed() + 1, kNoLimit);
    KEEL_CHECK_MSG(entries.ok(), "unexpected error getting unapplied entries");
    if (NumOfPendingConf(*entries) != 0) {
      RAFT_LOG("%x cannot campaign at term %d since there are still pending configuration "
               "changes to apply", id_, term_);
      return;
    }
  }
  RAFT_LOG("%x is starting a new election at term %d", id_, term_);
  Campaign(t);
}

void Raft::Campaign(CampaignType t) {
  raftpb::MessageType vote_msg;
  uint64_t term;
  if (t == CampaignType::kPreElection) {
    BecomePreCandidate();
    vote_msg = raftpb::MsgPreVote;
    // Pre-votes ask about the term we would use, without moving to it.
    term = term_ + 1;
  } else {
    BecomeCandidate();
    vote_msg = raftpb::MsgVote;
    term = term_;
  }
  for (uint64_t id : tracker_.VoterIds()) {
    raftpb::Message m;
    m.set_to(id);
    m.set_term(term);
    if (id == id_) {
      // Our own vote counts only once our HardState (term, vote) is durable: it comes
      // back to us through Advance().
      m.set_type(VoteRespMsgType(vote_msg));
      Send(std::move(m));
      continue;
    }
    m.set_type(vote_msg);
    m.set_index(log_.LastIndex());
    m.set_logterm(log_.LastTerm());
    if (t == CampaignType::kTransfer) m.set_context(kCampaignTransfer);
    RAFT_LOG("%x [logterm: %d, index: %d] sent %s request to %x at term %d", id_,
             log_.LastTerm(), log_.LastIndex(), raftpb::MessageType_Name(vote_msg), id, term_);
    Send(std::move(m));
  }
}

VoteResult Raft::Poll(uint64_t id, raftpb::MessageType t, bool granted) {
  RAFT_LOG("%x received %s%s from %x at term %d", id_, raftpb::MessageType_Name(t),
           granted ? "" : " rejection", id, term_);
  tracker_.RecordVote(id, granted);
  return tracker_.TallyVotes().result;
}

void Raft::HandleVoteRequest(const raftpb::Message& m) {
  // We can vote if this repeats a vote we cast, or we have not voted and know no leader
  // in this term, or it is a pre-vote for a future term...
  const bool can_vote = vote_ == m.from() || (vote_ == kNoneId && lead_ == kNoneId) ||
                        (m.type() == raftpb::MsgPreVote && m.term() > term_);
  // ...and the candidate's log is at least as up to date as ours (§5.4.1).
  raftpb::Message resp;
  resp.set_to(m.from());
  resp.set_type(VoteRespMsgType(m.type()));
  bool up_to_date = log_.IsUpToDate(m.index(), m.logterm());
  if (bugs_.on(env::Bug::kRaftVoteAnyLog)) up_to_date = true;  // bug-zoo site
  if (can_vote && up_to_date) {
    RAFT_LOG("%x [logterm: %d, index: %d, vote: %x] cast %s for %x [logterm: %d, index: %d] "
             "at term %d", id_, log_.LastTerm(), log_.LastIndex(), vote_,
             raftpb::MessageType_Name(m.type()), m.from(), m.logterm(), m.index(), term_);
    // The response carries the candidate's term: for a pre-vote that is the future term
    // the pre-candidate will use, which we must not adopt ourselves.
    resp.set_term(m.term());
    Send(std::move(resp));
    if (m.type() == raftpb::MsgVote) {
      election_elapsed_ = 0;
      vote_ = m.from();
    }
  } else {
    RAFT_LOG("%x [logterm: %d, index: %d, vote: %x] rejected %s from %x [logterm: %d, "
             "index: %d] at term %d", id_, log_.LastTerm(), log_.LastIndex(), vote_,
             raftpb::MessageType_Name(m.type()), m.from(), m.logterm(), m.index(), term_);
    resp.set_term(term_);
    resp.set_reject(true);
    Send(std::move(resp));
  }
}

// ---------------------------------------------------------------------------------------
// Step: term handling first, then the role's handler.
// ---------------------------------------------------------------------------------------

bool Raft::HandleTerm(const raftpb::Message& m) {
  if (m.term() == 0) {
    // A local message (tick, proposal, ...).
  } else if (m.term() > term_) {
    if (m.type() == raftpb::MsgVote || m.type() == raftpb::MsgPreVote) {
      const bool force = m.context() == kCampaignTransfer;
      const bool in_lease = check_quorum_ && lead_ != kNoneId &&
                            election_elapsed_ < election_timeout_;
      if (!force && in_lease) {
        // Thesis §4.2.3: while we hear from a leader, ignore disruptive candidates
        // (e.g. a removed server that keeps timing out) without adopting their term.
        RAFT_LOG("%x [term: %d] ignored %s from %x [term: %d]: lease is not expired", id_,
                 term_, raftpb::MessageType_Name(m.type()), m.from(), m.term());
        return false;
      }
    }
    if (m.type() == raftpb::MsgPreVote) {
      // Never change our term in response to a pre-vote.
    } else if (m.type() == raftpb::MsgPreVoteResp && !m.reject()) {
      // A granted pre-vote carries the future term we asked about; we adopt a term only
      // once we win the pre-election.
    } else {
      RAFT_LOG("%x [term: %d] received a %s message with higher term from %x [term: %d]",
               id_, term_, raftpb::MessageType_Name(m.type()), m.from(), m.term());
      const bool from_leader = m.type() == raftpb::MsgApp || m.type() == raftpb::MsgHeartbeat ||
                               m.type() == raftpb::MsgSnap;
      BecomeFollower(m.term(), from_leader ? m.from() : kNoneId);
    }
  } else if (m.term() < term_) {
    if ((check_quorum_ || pre_vote_) &&
        (m.type() == raftpb::MsgHeartbeat || m.type() == raftpb::MsgApp)) {
      // A leader with a stale term (e.g. it was partitioned) would otherwise never learn
      // the new term: with CheckQuorum/PreVote we may never bump terms by campaigning
      // against it. Answering lets it step down.
      raftpb::Message resp;
      resp.set_to(m.from());
      resp.set_type(raftpb::MsgAppResp);
      Send(std::move(resp));
    } else if (m.type() == raftpb::MsgPreVote) {
      // Reject explicitly so a pre-candidate with a stale term learns ours.
      raftpb::Message resp;
      resp.set_to(m.from());
      resp.set_term(term_);
      resp.set_type(raftpb::MsgPreVoteResp);
      resp.set_reject(true);
      Send(std::move(resp));
    }
    // Any other stale message is ignored.
    return false;
  }
  return true;
}

absl::Status Raft::Step(raftpb::Message m) {
  if (!HandleTerm(m)) return absl::OkStatus();
  switch (m.type()) {
    case raftpb::MsgHup:
      Hup(pre_vote_ ? CampaignType::kPreElection : CampaignType::kElection);
      return absl::OkStatus();
    case raftpb::MsgVote:
    case raftpb::MsgPreVote:
      HandleVoteRequest(m);
      return absl::OkStatus();
    default:
      break;
  }
  switch (state_) {
    case StateType::kLeader:
      return StepLeader(m);
    case StateType::kCandidate:
    case StateType::kPreCandidate:
      return StepCandidate(m);
    case StateType::kFollower:
      return StepFollower(m);
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------
// Leader.
// ---------------------------------------------------------------------------------------

absl::Status Raft::StepLeader(raftpb::Message& m) {
  switch (m.type()) {
    case raftpb::MsgBeat:
      BcastHeartbeat();
      return absl::OkStatus();
    case raftpb::MsgCheckQuorum: {
      Progress* self = tracker_.Find(id_);
      if (self != nullptr) self->recent_active = true;
      if (!tracker_.QuorumActive()) {
        RAFT_LOG("%x stepped down to follower since quorum is not active", id_);
        BecomeFollower(term_, kNoneId);
      }
      // Start the next observation window.
      for (auto& [id, pr] : tracker_.progress) {
        if (id != id_) pr.recent_active = false;
      }
      return absl::OkStatus();
    }
    case raftpb::MsgProp:
      return StepLeaderProposal(m);
    case raftpb::MsgReadIndex:
      if (tracker_.IsSingleton()) {
        // Alone, we are trivially the leader: answer at once.
        RespondToReadIndexReq(m, log_.committed());
        return absl::OkStatus();
      }
      // Until an entry of our term commits we do not know the commit index (thesis §6.4).
      if (!CommittedEntryInCurrentTerm()) {
        if (pending_read_index_messages_.size() >= ReadOnly::kMaxPending) {
          return ErrProposalDropped("too many pending read index requests");
        }
        pending_read_index_messages_.push_back(m);
        return absl::OkStatus();
      }
      if (read_only_.Full()) return ErrProposalDropped("too many pending read index requests");
      SendReadIndexResponse(m);
      return absl::OkStatus();
    default:
      break;
  }

  // Everything else comes from a peer and needs its Progress.
  Progress* pr = tracker_.Find(m.from());
  if (pr == nullptr) return absl::OkStatus();
  switch (m.type()) {
    case raftpb::MsgAppResp:
      StepLeaderAppendResponse(m, *pr);
      break;
    case raftpb::MsgHeartbeatResp:
      StepLeaderHeartbeatResponse(m, *pr);
      break;
    case raftpb::MsgSnapStatus:
      if (pr->state != ProgressState::kSnapshot) break;
      if (m.reject()) pr->pending_snapshot = 0;  // Failed: do not assume it arrived.
      pr->BecomeProbe();
      // Wait for the follower's MsgAppResp (or a heartbeat) before probing again.
      pr->probe_sent = true;
      break;
    case raftpb::MsgUnreachable:
      // While pipelining, an unreachable follower probably lost a MsgApp: probe again.
      if (pr->state == ProgressState::kReplicate) pr->BecomeProbe();
      break;
    case raftpb::MsgTransferLeader:
      StepLeaderTransfer(m, *pr);
      break;
    default:
      break;
  }
  return absl::OkStatus();
}

absl::Status Raft::StepLeaderProposal(raftpb::Message& m) {
  KEEL_CHECK_MSG(m.entries_size() > 0, "stepped empty MsgProp");
  if (tracker_.Find(id_) == nullptr) {
    // We were removed from the configuration while leading.
    return ErrProposalDropped("leader is not a member of the configuration");
  }
  if (lead_transferee_ != kNoneId) {
    return ErrProposalDropped("leadership transfer in progress");
  }
  std::vector<raftpb::Entry> entries;
  entries.reserve(m.entries_size());
  std::vector<raftpb::ConfChangeV2> accepted_changes;  // for the bug-zoo site below only
  for (int i = 0; i < m.entries_size(); ++i) {
    raftpb::Entry& e = *m.mutable_entries(i);
    std::optional<raftpb::ConfChangeV2> cc;
    if (e.type() == raftpb::EntryConfChange) {
      raftpb::ConfChange v1;
      if (v1.ParseFromString(e.data())) cc = ConfChangeAsV2(v1);
    } else if (e.type() == raftpb::EntryConfChangeV2) {
      raftpb::ConfChangeV2 v2;
      if (v2.ParseFromString(e.data())) cc = std::move(v2);
    }
    if (cc) {
      // One change at a time, and joint configs must be left before anything else
      // (thesis §4.1, §4.3). Refused changes become empty normal entries so that indexes
      // of the other entries in the batch are unaffected.
      const bool already_pending = pending_conf_index_ > log_.applied();
      const bool already_joint = tracker_.config.voters.IsJoint();
      const bool wants_leave_joint = ConfChangeLeavesJoint(*cc);
      std::string refused;
      if (already_pending) {
        refused = absl::StrFormat("possible unapplied conf change at index %d (applied to %d)",
                                  pending_conf_index_, log_.applied());
      } else if (already_joint && !wants_leave_joint) {
        refused = "must transition out of joint config first";
      } else if (!already_joint && wants_leave_joint) {
        refused = "not in joint state; refusing empty conf change";
      }
      if (!refused.empty()) {
        RAFT_LOG("%x ignoring conf change at config %s: %s", id_, tracker_.config.ToString(),
                 refused);
        e = raftpb::Entry();
        e.set_type(raftpb::EntryNormal);
      } else {
        pending_conf_index_ = log_.LastIndex() + static_cast<uint64_t>(i) + 1;
        if (bugs_.on(env::Bug::kRaftConfChangeAtPropose)) accepted_changes.push_back(*cc);
      }
    }
    entries.push_back(std::move(e));
  }
  if (!AppendEntries(std::move(entries))) {
    return ErrProposalDropped("too many uncommitted entries (max_uncommitted_entries_size)");
  }
  // Bug-zoo site raft-confchange-at-propose: the leader switches to the new configuration
  // as soon as the entry is in its log, instead of when the application applies it after
  // commit (the later ApplyConfChange of the same change is then a no-op).
  for (const raftpb::ConfChangeV2& cc : accepted_changes) (void)ApplyConfChange(cc);
  BcastAppend();
  return absl::OkStatus();
}

void Raft::StepLeaderAppendResponse(const raftpb::Message& m, Progress& pr) {
  pr.recent_active = true;
  if (m.reject()) {
    // Fast back-off: the follower told us the last index (and its term) where our logs
    // might still agree; skip every entry of a term the follower cannot match.
    RAFT_LOG("%x received MsgAppResp(rejected, hint: (index %d, term %d)) from %x for index %d",
             id_, m.rejecthint(), m.logterm(), m.from(), m.index());
    uint64_t next_probe = m.rejecthint();
    if (m.logterm() > 0) next_probe = log_.FindConflictByTerm(m.rejecthint(), m.logterm());
    if (pr.MaybeDecrTo(m.index(), next_probe)) {
      if (pr.state == ProgressState::kReplicate) pr.BecomeProbe();
      SendAppend(m.from());
    }
    return;
  }
  const bool old_paused = pr.IsPaused();
  if (!pr.MaybeUpdate(m.index())) return;
  if (pr.state == ProgressState::kProbe) {
    pr.BecomeReplicate();
  } else if (pr.state == ProgressState::kSnapshot && pr.match >= pr.pending_snapshot) {
    // The follower caught up past the snapshot (from it or from entries).
    pr.BecomeProbe();
    pr.BecomeReplicate();
  } else if (pr.state == ProgressState::kReplicate) {
    pr.inflights.FreeLE(m.index());
  }
  if (MaybeCommit()) {
    // An entry of our term committed: ReadIndex requests may now be served.
    ReleasePendingReadIndexMessages();
    BcastAppend();
  } else if (old_paused && m.from() != id_) {
    // A paused follower may be missing the latest commit index.
    SendAppend(m.from());
  }
  // Acks may have freed several inflight slots: send as much as allowed, bounded by the
  // number of slots (each iteration fills one).
  for (size_t i = 0; i <= tracker_.max_inflight() && MaybeSendAppend(m.from(), false); ++i) {
  }
  if (m.from() == lead_transferee_ && pr.match == log_.LastIndex()) {
    RAFT_LOG("%x sent MsgTimeoutNow to %x after received MsgAppResp", id_, m.from());
    SendTimeoutNow(m.from());
  }
}

void Raft::StepLeaderHeartbeatResponse(const raftpb::Message& m, Progress& pr) {
  pr.recent_active = true;
  pr.probe_sent = false;
  // Free one slot of a full window so a stalled pipeline can make progress.
  if (pr.state == ProgressState::kReplicate && pr.inflights.Full()) pr.inflights.FreeFirstOne();
  if (pr.match < log_.LastIndex()) SendAppend(m.from());

  if (read_only_.option() != ReadOnlyOption::kSafe || m.context().empty()) return;
  const std::map<uint64_t, bool>* acks = read_only_.RecvAck(m.from(), m.context());
  if (acks == nullptr || tracker_.config.voters.Vote(*acks) != VoteResult::kWon) return;
  // A quorum confirmed we were still leader when the request (and all before it) arrived.
  for (ReadOnly::Pending& p : read_only_.Advance(m.context())) {
    RespondToReadIndexReq(p.req, p.index);
  }
}

void Raft::StepLeaderTransfer(const raftpb::Message& m, Progress& pr) {
  if (pr.is_learner) {
    RAFT_LOG("%x is learner. Ignored transferring leadership", id_);
    return;
  }
  const uint64_t transferee = m.from();
  if (lead_transferee_ != kNoneId) {
    if (lead_transferee_ == transferee) return;  // Already in progress.
    AbortLeaderTransfer();
  }
  if (transferee == id_) return;  // Already leader.
  RAFT_LOG("%x [term %d] starts to transfer leadership to %x", id_, term_, transferee);
  // The transfer must finish within an election timeout or be abandoned.
  election_elapsed_ = 0;
  lead_transferee_ = transferee;
  if (pr.match == log_.LastIndex()) {
    SendTimeoutNow(transferee);
  } else {
    SendAppend(transferee);  // Catch it up first (thesis §3.10).
  }
}

bool Raft::AppendEntries(std::vector<raftpb::Entry> entries) {
  uint64_t li = log_.LastIndex();
  for (size_t i = 0; i < entries.size(); ++i) {
    entries[i].set_term(term_);
    entries[i].set_index(li + 1 + i);
  }
  if (!IncreaseUncommittedSize(entries)) return false;
  li = log_.Append(std::move(entries));
  // The leader does not send itself MsgApp: it acks its own entries once the caller has
  // persisted them (delivered back via Advance), which is what makes it safe to send
  // MsgApp before the local fsync completes (thesis §10.2.1).
  raftpb::Message self_ack;
  self_ack.set_to(id_);
  self_ack.set_type(raftpb::MsgAppResp);
  self_ack.set_index(li);
  Send(std::move(self_ack));
  return true;
}

bool Raft::MaybeCommit() {
  // Bug-zoo site raft-commit-old-term: count replicas for entries of any term.
  if (bugs_.on(env::Bug::kRaftCommitOldTerm)) {
    const uint64_t quorum_index = tracker_.Committed();
    if (quorum_index > log_.committed()) {
      log_.CommitTo(quorum_index);
      return true;
    }
    return false;
  }
  // Bug-zoo site raft-learner-acks-count: the quorum size is the voters' majority, but the
  // acks are taken from voters and learners alike (a learner's ack stands in for a voter's).
  if (bugs_.on(env::Bug::kRaftLearnerAcksCount) && !tracker_.config.voters.IsJoint()) {
    std::vector<uint64_t> acked;
    for (const auto& [id, pr] : tracker_.progress) acked.push_back(pr.match);
    std::sort(acked.begin(), acked.end(), std::greater<uint64_t>());
    const size_t quorum = tracker_.config.voters.incoming.ids().size() / 2 + 1;
    if (quorum <= acked.size()) return log_.MaybeCommit(acked[quorum - 1], term_);
  }
  return log_.MaybeCommit(tracker_.Committed(), term_);
}

bool Raft::CommittedEntryInCurrentTerm() const {
  return log_.TermOrZero(log_.committed()) == term_;
}

bool Raft::IncreaseUncommittedSize(const std::vector<raftpb::Entry>& entries) {
  uint64_t s = 0;
  for (const auto& e : entries) s += PayloadSizeBytes(e);
  // Always admit a proposal when nothing is outstanding, so a single oversized entry can
  // still make progress; and never refuse empty entries.
  if (uncommitted_size_ > 0 && s > 0 && uncommitted_size_ + s > max_uncommitted_size_bytes_) {
    return false;
  }
  uncommitted_size_ += s;
  return true;
}

void Raft::ReduceUncommittedSize(uint64_t s) {
  // Entries may have been appended by a previous leader (not counted): clamp at zero.
  uncommitted_size_ = s > uncommitted_size_ ? 0 : uncommitted_size_ - s;
}

void Raft::ReleasePendingReadIndexMessages() {
  if (pending_read_index_messages_.empty()) return;
  if (!CommittedEntryInCurrentTerm()) return;
  std::vector<raftpb::Message> msgs = std::move(pending_read_index_messages_);
  pending_read_index_messages_.clear();
  for (const auto& m : msgs) SendReadIndexResponse(m);
}

void Raft::SendReadIndexResponse(const raftpb::Message& m) {
  if (read_only_.option() == ReadOnlyOption::kLeaseBased) {
    RespondToReadIndexReq(m, log_.committed());
    return;
  }
  if (read_only_.Full()) return;  // Dropped: the client times out and retries.
  read_only_.AddRequest(log_.committed(), m);
  // The leader acks its own request; a heartbeat round collects the others.
  read_only_.RecvAck(id_, m.entries(0).data());
  BcastHeartbeatWithCtx(m.entries(0).data());
}

void Raft::RespondToReadIndexReq(const raftpb::Message& req, uint64_t read_index) {
  if (req.from() == kNoneId || req.from() == id_) {
    read_states_.push_back(ReadState{read_index, req.entries(0).data()});
    return;
  }
  raftpb::Message resp;
  resp.set_type(raftpb::MsgReadIndexResp);
  resp.set_to(req.from());
  resp.set_index(read_index);
  *resp.mutable_entries() = req.entries();
  Send(std::move(resp));
}

// ---------------------------------------------------------------------------------------
// Candidate and follower.
// ---------------------------------------------------------------------------------------

absl::Status Raft::StepCandidate(raftpb::Message& m) {
  const raftpb::MessageType my_vote_resp =
      state_ == StateType::kPreCandidate ? raftpb::MsgPreVoteResp : raftpb::MsgVoteResp;
  switch (m.type()) {
    case raftpb::MsgProp:
      return ErrProposalDropped("no leader (candidate)");
    case raftpb::MsgApp:
      BecomeFollower(m.term(), m.from());  // m.term() == term_: someone else won.
      HandleAppendEntries(m);
      break;
    case raftpb::MsgHeartbeat:
      BecomeFollower(m.term(), m.from());
      HandleHeartbeat(m);
      break;
    case raftpb::MsgSnap:
      BecomeFollower(m.term(), m.from());
      HandleSnapshot(m);
      break;
    case raftpb::MsgReadIndex:
      return ErrProposalDropped("no leader to serve read index (candidate)");
    default:
      if (m.type() != my_vote_resp) break;
      switch (Poll(m.from(), m.type(), !m.reject())) {
        case VoteResult::kWon:
          if (state_ == StateType::kPreCandidate) {
            Campaign(CampaignType::kElection);
          } else {
            BecomeLeader();
            BcastAppend();
          }
          break;
        case VoteResult::kLost:
          // A pre-vote response carries the future term; stay at ours.
          BecomeFollower(term_, kNoneId);
          break;
        case VoteResult::kPending:
          break;
      }
      break;
  }
  return absl::OkStatus();
}

absl::Status Raft::StepFollower(raftpb::Message& m) {
  switch (m.type()) {
    case raftpb::MsgProp:
      if (lead_ == kNoneId) return ErrProposalDropped("no leader");
      if (disable_proposal_forwarding_) {
        return ErrProposalDropped("proposal forwarding is disabled");
      }
      m.set_to(lead_);
      Send(std::move(m));
      break;
    case raftpb::MsgApp:
      election_elapsed_ = 0;
      lead_ = m.from();
      HandleAppendEntries(m);
      break;
    case raftpb::MsgHeartbeat:
      election_elapsed_ = 0;
      lead_ = m.from();
      HandleHeartbeat(m);
      break;
    case raftpb::MsgSnap:
      election_elapsed_ = 0;
      lead_ = m.from();
      HandleSnapshot(m);
      break;
    case raftpb::MsgTransferLeader:
      if (lead_ == kNoneId) {
        RAFT_LOG("%x no leader at term %d; dropping leader transfer msg", id_, term_);
        break;
      }
      m.set_to(lead_);
      Send(std::move(m));
      break;
    case raftpb::MsgTimeoutNow:
      // Leadership transfer: campaign at once, skipping PreVote (we are not partitioned;
      // the leader asked us to).
      RAFT_LOG("%x [term %d] received MsgTimeoutNow from %x and starts an election", id_,
               term_, m.from());
      Hup(CampaignType::kTransfer);
      break;
    case raftpb::MsgReadIndex:
      if (lead_ == kNoneId) return ErrProposalDropped("no leader to serve read index");
      m.set_to(lead_);
      Send(std::move(m));
      break;
    case raftpb::MsgReadIndexResp:
      if (m.entries_size() != 1) break;
      read_states_.push_back(ReadState{m.index(), m.entries(0).data()});
      break;
    default:
      break;
  }
  return absl::OkStatus();
}

void Raft::HandleAppendEntries(raftpb::Message& m) {
  raftpb::Message resp;
  resp.set_to(m.from());
  resp.set_type(raftpb::MsgAppResp);
  if (m.index() < log_.committed()) {
    // Everything up to our commit index matches the leader (committed entries are never
    // rewritten); tell it where we are.
    resp.set_index(log_.committed());
    Send(std::move(resp));
    return;
  }
  std::vector<raftpb::Entry> entries;
  entries.reserve(m.entries_size());
  for (auto& e : *m.mutable_entries()) entries.push_back(std::move(e));
  uint64_t prev_log_term = m.logterm();
  // Bug-zoo site raft-skip-append-check: pretend the previous entry matches whenever we
  // have one.
  if (bugs_.on(env::Bug::kRaftSkipAppendCheck) && m.index() <= log_.LastIndex() &&
      m.index() > log_.committed()) {
    prev_log_term = log_.TermOrZero(m.index());
  }
  if (auto last_new = log_.MaybeAppend(m.index(), prev_log_term, m.commit(), std::move(entries))) {
    resp.set_index(*last_new);
    Send(std::move(resp));
    return;
  }
  // Consistency check failed. Hint the largest index at which our logs might agree: the
  // last index whose term is <= the leader's term at m.index(); the leader then skips a
  // whole term per round trip instead of one entry.
  uint64_t hint_index = std::min(m.index(), log_.LastIndex());
  hint_index = log_.FindConflictByTerm(hint_index, m.logterm());
  absl::StatusOr<uint64_t> hint_term = log_.Term(hint_index);
  KEEL_CHECK_MSG(hint_term.ok(), "term of hint index unavailable");
  RAFT_LOG("%x [logterm: %d, index: %d] rejected MsgApp [logterm: %d, index: %d] from %x", id_,
           log_.TermOrZero(m.index()), m.index(), m.logterm(), m.index(), m.from());
  resp.set_index(m.index());
  resp.set_reject(true);
  resp.set_rejecthint(hint_index);
  resp.set_logterm(*hint_term);
  Send(std::move(resp));
}

void Raft::HandleHeartbeat(const raftpb::Message& m) {
  log_.CommitTo(m.commit());
  raftpb::Message resp;
  resp.set_to(m.from());
  resp.set_type(raftpb::MsgHeartbeatResp);
  if (m.has_context()) resp.set_context(m.context());
  Send(std::move(resp));
}

void Raft::HandleSnapshot(raftpb::Message& m) {
  const uint64_t index = m.snapshot().metadata().index();
  const uint64_t term = m.snapshot().metadata().term();
  raftpb::Message resp;
  resp.set_to(m.from());
  resp.set_type(raftpb::MsgAppResp);
  if (Restore(std::move(*m.mutable_snapshot()))) {
    RAFT_LOG("%x [commit: %d] restored snapshot [index: %d, term: %d]", id_, log_.committed(),
             index, term);
    resp.set_index(log_.LastIndex());
  } else {
    RAFT_LOG("%x [commit: %d] ignored snapshot [index: %d, term: %d]", id_, log_.committed(),
             index, term);
    resp.set_index(log_.committed());
  }
  Send(std::move(resp));
}

bool Raft::Restore(raftpb::Snapshot s) {
  const uint64_t index = s.metadata().index();
  const uint64_t term = s.metadata().term();
  if (index <= log_.committed()) return false;
  if (state_ != StateType::kFollower) {
    // Defense in depth: only followers install snapshots. Move to a new term as follower.
    BecomeFollower(term_ + 1, kNoneId);
    return false;
  }
  // More defense in depth: a snapshot whose config excludes us cannot be ours.
  const raftpb::ConfState cs = s.metadata().conf_state();
  bool found = false;
  for (uint64_t id : cs.voters()) found = found || id == id_;
  for (uint64_t id : cs.learners()) found = found || id == id_;
  for (uint64_t id : cs.voters_outgoing()) found = found || id == id_;
  if (!found) {
    RAFT_LOG("%x attempted to restore snapshot but it is not in the ConfState", id_);
    return false;
  }
  if (log_.MatchTerm(index, term)) {
    // We already have the snapshot's last entry: fast-forward commit instead.
    log_.CommitTo(index);
    return false;
  }
  log_.Restore(std::move(s));
  ProgressTracker empty(tracker_.max_inflight(), tracker_.max_inflight_bytes());
  absl::StatusOr<ConfigAndProgress> cp = RestoreConfState(empty, log_.LastIndex(), cs);
  KEEL_CHECK_MSG(cp.ok(), "unable to restore config from snapshot");
  tracker_.ResetVotes();
  const raftpb::ConfState restored = SwitchToConfig(*std::move(cp));
  KEEL_CHECK_MSG(ConfStatesEquivalent(restored, cs), "restored config differs from snapshot");
  Progress* self = tracker_.Find(id_);
  if (self != nullptr) self->MaybeUpdate(self->next - 1);
  return true;
}

// ---------------------------------------------------------------------------------------
// Configuration changes and applying.
// ---------------------------------------------------------------------------------------

absl::StatusOr<raftpb::ConfState> Raft::ApplyConfChange(const raftpb::ConfChangeV2& cc) {
  Changer changer(tracker_, log_.LastIndex());
  absl::StatusOr<ConfigAndProgress> cp;
  if (ConfChangeLeavesJoint(cc)) {
    cp = changer.LeaveJoint();
  } else if (std::optional<bool> auto_leave = ConfChangeEntersJoint(cc)) {
    cp = changer.EnterJoint(*auto_leave,
                            std::vector<raftpb::ConfChangeSingle>(cc.changes().begin(),
                                                                  cc.changes().end()));
  } else {
    cp = changer.Simple(
        std::vector<raftpb::ConfChangeSingle>(cc.changes().begin(), cc.changes().end()));
  }
  if (!cp.ok()) return cp.status();
  return SwitchToConfig(*std::move(cp));
}

raftpb::ConfState Raft::SwitchToConfig(ConfigAndProgress cp) {
  tracker_.config = std::move(cp.config);
  tracker_.progress = std::move(cp.progress);
  RAFT_LOG("%x switched to configuration %s", id_, tracker_.config.ToString());
  const raftpb::ConfState cs = tracker_.ConfState();
  const Progress* self = tracker_.Find(id_);
  is_learner_ = self != nullptr && self->is_learner;
  if ((self == nullptr || is_learner_) && state_ == StateType::kLeader) {
    // We were removed or demoted while leading. We keep leading until the cluster elects
    // someone else (we no longer count towards quorums, and refuse proposals).
    return cs;
  }
  if (state_ != StateType::kLeader || cs.voters_size() == 0) return cs;
  if (MaybeCommit()) {
    // The new config may commit more entries (e.g. a removed node held us back).
    BcastAppend();
  } else {
    // Probe new members right away rather than at the next heartbeat.
    for (const auto& [id, pr] : tracker_.progress) MaybeSendAppend(id, false);
  }
  if (lead_transferee_ != kNoneId && !tracker_.config.voters.Contains(lead_transferee_)) {
    AbortLeaderTransfer();
  }
  return cs;
}

void Raft::AppliedTo(uint64_t applied) {
  const uint64_t old_applied = log_.applied();
  log_.AppliedTo(applied);
  if (tracker_.config.auto_leave && old_applied <= pending_conf_index_ &&
      applied >= pending_conf_index_ && state_ == StateType::kLeader) {
    // The joint config was entered with auto-leave and is now applied: propose leaving
    // it. Empty data decodes as an empty ConfChangeV2 (= leave joint), and has zero
    // payload so the uncommitted-size cap can never refuse it.
    std::vector<raftpb::Entry> leave(1);
    leave[0].set_type(raftpb::EntryConfChangeV2);
    KEEL_CHECK_MSG(AppendEntries(std::move(leave)), "refused un-refusable auto-leave");
    pending_conf_index_ = log_.LastIndex();
    RAFT_LOG("%x initiating automatic transition out of joint configuration %s", id_,
             tracker_.config.ToString());
    BcastAppend();
  }
}

}  // namespace keel::raft
