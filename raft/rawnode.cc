#include "raft/rawnode.h"

#include <utility>

#include "absl/strings/str_format.h"
#include "base/check.h"
#include "raft/confchange.h"
#include "raft/entry_util.h"
#include "raft/errors.h"

namespace keel::raft {

RawNode::RawNode(std::unique_ptr<Raft> raft) : raft_(std::move(raft)) {
  prev_soft_state_ = raft_->soft_state();
  prev_hard_state_ = raft_->hard_state();
}

absl::StatusOr<std::unique_ptr<RawNode>> RawNode::Create(Config c) {
  if (absl::Status s = ValidateConfig(&c); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<Raft>> r = Raft::Create(c);
  if (!r.ok()) return r.status();
  return std::unique_ptr<RawNode>(new RawNode(*std::move(r)));
}

void RawNode::Tick() { raft_->Tick(); }

absl::Status RawNode::Campaign() {
  raftpb::Message m;
  m.set_type(raftpb::MsgHup);
  return raft_->Step(std::move(m));
}

absl::Status RawNode::Propose(std::string_view data) {
  raftpb::Message m;
  m.set_type(raftpb::MsgProp);
  m.set_from(raft_->id());
  m.add_entries()->set_data(data.data(), data.size());
  return raft_->Step(std::move(m));
}

absl::Status RawNode::ProposeBatch(std::vector<std::string> data) {
  if (data.empty()) return absl::OkStatus();
  raftpb::Message m;
  m.set_type(raftpb::MsgProp);
  m.set_from(raft_->id());
  m.mutable_entries()->Reserve(static_cast<int>(data.size()));
  for (std::string& d : data) m.add_entries()->set_data(std::move(d));
  return raft_->Step(std::move(m));
}

absl::Status RawNode::ProposeConfChange(const raftpb::ConfChange& cc) {
  raftpb::Message m;
  m.set_type(raftpb::MsgProp);
  raftpb::Entry* e = m.add_entries();
  e->set_type(raftpb::EntryConfChange);
  e->set_data(cc.SerializeAsString());
  return raft_->Step(std::move(m));
}

absl::Status RawNode::ProposeConfChange(const raftpb::ConfChangeV2& cc) {
  raftpb::Message m;
  m.set_type(raftpb::MsgProp);
  raftpb::Entry* e = m.add_entries();
  e->set_type(raftpb::EntryConfChangeV2);
  e->set_data(cc.SerializeAsString());
  return raft_->Step(std::move(m));
}

absl::StatusOr<raftpb::ConfState> RawNode::ApplyConfChange(const raftpb::ConfChange& cc) {
  return raft_->ApplyConfChange(ConfChangeAsV2(cc));
}

absl::StatusOr<raftpb::ConfState> RawNode::ApplyConfChange(const raftpb::ConfChangeV2& cc) {
  return raft_->ApplyConfChange(cc);
}

absl::Status RawNode::Step(raftpb::Message m) {
  if (IsLocalMsg(m.type())) return ErrStepLocalMsg();
  if (IsResponseMsg(m.type()) && raft_->tracker().Find(m.from()) == nullptr) {
    return ErrStepPeerNotFound();
  }
  return raft_->Step(std::move(m));
}

absl::Status RawNode::ReadIndex(std::string_view ctx) {
  raftpb::Message m;
  m.set_type(raftpb::MsgReadIndex);
  m.add_entries()->set_data(ctx.data(), ctx.size());
  return raft_->Step(std::move(m));
}

void RawNode::TransferLeader(uint64_t transferee) {
  raftpb::Message m;
  m.set_type(raftpb::MsgTransferLeader);
  m.set_from(transferee);
  (void)raft_->Step(std::move(m));
}

void RawNode::ReportUnreachable(uint64_t id) {
  raftpb::Message m;
  m.set_type(raftpb::MsgUnreachable);
  m.set_from(id);
  (void)raft_->Step(std::move(m));
}

void RawNode::ReportSnapshot(uint64_t id, bool ok) {
  raftpb::Message m;
  m.set_type(raftpb::MsgSnapStatus);
  m.set_from(id);
  m.set_reject(!ok);
  (void)raft_->Step(std::move(m));
}

bool RawNode::HasReady() const {
  if (in_flight_) return false;
  const Raft& r = *raft_;
  if (r.soft_state() != prev_soft_state_) return true;
  const raftpb::HardState hs = r.hard_state();
  if (!IsEmptyHardState(hs) && !HardStateEqual(hs, prev_hard_state_)) return true;
  if (r.log().HasPendingSnapshot()) return true;
  if (r.HasPendingMessagesOrReads()) return true;
  return !r.log().UnstableEntries().empty() || r.log().HasNextCommittedEntries();
}

Ready RawNode::GetReady() {
  KEEL_CHECK_MSG(!in_flight_, "GetReady called before Advance of the previous Ready");
  Raft& r = *raft_;
  Ready rd;
  InFlight fl;

  const SoftState ss = r.soft_state();
  if (ss != prev_soft_state_) {
    rd.soft_state = ss;
    prev_soft_state_ = ss;
  }
  const raftpb::HardState hs = r.hard_state();
  if (!HardStateEqual(hs, prev_hard_state_)) {
    rd.must_sync = hs.term() != prev_hard_state_.term() || hs.vote() != prev_hard_state_.vote();
    rd.hard_state = hs;
    prev_hard_state_ = hs;
  }
  rd.read_states = std::move(r.read_states());
  r.read_states().clear();

  rd.entries = r.log().UnstableEntries();
  if (!rd.entries.empty()) {
    fl.last_entry_index = rd.entries.back().index();
    fl.last_entry_term = rd.entries.back().term();
    rd.must_sync = true;
  }
  if (r.log().UnstableSnapshot()) {
    rd.snapshot = *r.log().UnstableSnapshot();
    fl.snapshot_index = rd.snapshot->metadata().index();
    fl.applied_to = fl.snapshot_index;
    rd.must_sync = true;
  }
  rd.committed_entries = r.log().NextCommittedEntries();
  if (!rd.committed_entries.empty()) {
    fl.applied_to = rd.committed_entries.back().index();
    for (const auto& e : rd.committed_entries) fl.committed_payload_bytes += PayloadSizeBytes(e);
  }

  rd.messages = std::move(r.msgs());
  r.msgs().clear();
  for (raftpb::Message& m : r.msgs_after_append()) {
    if (m.to() == r.id()) {
      fl.self_messages.push_back(std::move(m));
    } else {
      rd.messages_after_persist.push_back(std::move(m));
    }
  }
  r.msgs_after_append().clear();
  in_flight_ = std::move(fl);
  return rd;
}

void RawNode::Advance() {
  KEEL_CHECK_MSG(in_flight_.has_value(), "Advance without an outstanding Ready");
  InFlight fl = std::move(*in_flight_);
  in_flight_.reset();
  Raft& r = *raft_;
  // Order matters: first mark what became durable, then what was applied, then deliver
  // our own acks (which may commit more and emit new messages).
  if (fl.last_entry_index > 0) r.mutable_log().StableTo(fl.last_entry_index, fl.last_entry_term);
  if (fl.snapshot_index > 0) r.mutable_log().StableSnapTo(fl.snapshot_index);
  r.ReduceUncommittedSize(fl.committed_payload_bytes);
  if (fl.applied_to > r.log().applied()) r.AppliedTo(fl.applied_to);
  for (raftpb::Message& m : fl.self_messages) (void)r.Step(std::move(m));
}

NodeStatus RawNode::GetStatus() const {
  const Raft& r = *raft_;
  NodeStatus s;
  s.id = r.id();
  s.term = r.term();
  s.vote = r.vote();
  s.commit = r.log().committed();
  s.applied = r.log().applied();
  s.lead = r.lead();
  s.role = r.state();
  s.lead_transferee = r.lead_transferee();
  s.conf_state = r.tracker().ConfState();
  if (r.state() == StateType::kLeader) {
    for (const auto& [id, pr] : r.tracker().progress) {
      PeerStatus p;
      p.match = pr.match;
      p.next = pr.next;
      p.state = pr.state;
      p.is_learner = pr.is_learner;
      p.recent_active = pr.recent_active;
      p.paused = pr.IsPaused();
      p.inflight_count = pr.inflights.Count();
      s.progress.emplace(id, p);
    }
  }
  return s;
}

std::string NodeStatus::ToString() const {
  std::string out = absl::StrFormat("id=%d term=%d vote=%d commit=%d applied=%d lead=%d %s", id,
                                    term, vote, commit, applied, lead, StateTypeName(role));
  for (const auto& [pid, p] : progress) {
    absl::StrAppendFormat(&out, "\n  %d: %s match=%d next=%d%s", pid, ProgressStateName(p.state),
                          p.match, p.next, p.is_learner ? " learner" : "");
  }
  return out;
}

}  // namespace keel::raft
