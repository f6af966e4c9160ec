#include "sim/cluster/coverage.h"

#include "raft/raft.h"
#include "raft/raftpb/raft.pb.h"
#include "sim/cluster/raft_trace.h"
#include "sim/world.h"

namespace keel::sim {
namespace {

constexpr const char* kCounterNames[] = {
    "raft.elections_started", "raft.elections_won",   "raft.prevote_campaigns",
    "raft.snapshots_sent",    "raft.snapshots_installed", "raft.joint_entered",
    "raft.leader_transfers",  "raft.read_index_batches", "raft.read_index_forwarded",
    "raft.append_rejected",   "raft.log_truncations",
};

}  // namespace

RaftCoverage::RaftCoverage(SimCluster* cluster)
    : cluster_(cluster), next_(cluster->network().observer()), members_(cluster->size()) {
  static_assert(sizeof(kCounterNames) / sizeof(kCounterNames[0]) == kCounterCount);
  cluster_->network().set_observer(this);
}

RaftCoverage::~RaftCoverage() { cluster_->network().set_observer(next_); }

void RaftCoverage::AfterStep(uint64_t event_node) {
  const int i = event_node == World::kAnyNode ? -1 : cluster_->IndexOf(event_node);
  if (i >= 0) return Observe(i);
  for (int k = 0; k < cluster_->size(); ++k) Observe(k);
}

void RaftCoverage::Observe(int i) {
  // Members joined at run time (membership_ops.h) get their slot when first seen.
  if (static_cast<size_t>(i) >= members_.size()) members_.resize(i + 1);
  Member& m = members_[i];
  server::ServerImpl* s = cluster_->server(i);
  if (s == nullptr) {
    m.server = nullptr;
    return;
  }
  const raft::Raft& r = s->raft_node().raft();
  const int role = static_cast<int>(r.state());
  const bool joint = r.tracker().config.voters.IsJoint();
  // A received snapshot restored into Raft's log but not yet in storage (the server
  // installs it): Raft's first index is past storage's.
  const bool snapshot_pending = r.log().FirstIndex() > s->raft_log().FirstIndex().value_or(1);
  const uint64_t last_index = r.log().LastIndex();
  const uint64_t last_term = r.log().LastTerm();
  if (m.server != static_cast<const void*>(s)) {
    // A new incarnation (or the first look): its restart is no transition.
    m = Member{s,         role,         r.term(),        joint,          snapshot_pending,
               last_index, last_term, m.prevote_term, m.prevote_at_ns, m.read_context, {}};
    return;
  }
  if (role == static_cast<int>(raft::StateType::kLeader)) {
    for (const auto& [id, pr] : r.tracker().progress) {
      if (pr.state != raft::ProgressState::kSnapshot) {
        m.snapshot_to.erase(id);
        continue;
      }
      auto [it, inserted] = m.snapshot_to.emplace(id, pr.pending_snapshot);
      if (inserted || it->second != pr.pending_snapshot) ++counts_[kSnapshotsSent];
      it->second = pr.pending_snapshot;
    }
  } else {
    m.snapshot_to.clear();
  }
  if (role != m.role || r.term() != m.term) {
    const bool leader = role == static_cast<int>(raft::StateType::kLeader);
    const bool candidate = role == static_cast<int>(raft::StateType::kCandidate);
    if (r.term() > m.term && (candidate || (leader && r.lead() == r.id()))) {
      ++counts_[kElectionsStarted];
    }
    if (leader && (m.role != role || r.term() != m.term)) ++counts_[kElectionsWon];
  }
  if (joint && !m.joint) ++counts_[kJointEntered];
  if (snapshot_pending && !m.snapshot_pending) ++counts_[kSnapshotsInstalled];
  // The tail was truncated when what was the last entry is gone or has another term,
  // unless a snapshot replaced the whole log.
  // (A tail that was truncated and regrown ends in another index or term: look only then.)
  if ((last_index != m.last_index || last_term != m.last_term) && !snapshot_pending &&
      m.last_index > 0 && r.log().FirstIndex() <= m.last_index &&
      (last_index < m.last_index || r.log().TermOrZero(m.last_index) != m.last_term)) {
    ++counts_[kLogTruncations];
  }
  m.role = role;
  m.term = r.term();
  m.joint = joint;
  m.snapshot_pending = snapshot_pending;
  m.last_index = last_index;
  m.last_term = last_term;
}

void RaftCoverage::OnSend(uint64_t from, uint64_t to, uint64_t id, std::string_view payload) {
  if (next_ != nullptr) next_->OnSend(from, to, id, payload);
  // Most bytes are MsgApp entries, which nothing here counts: decide by the type first.
  const std::optional<uint64_t> type = PeekPeerFrameType(payload);
  if (!type.has_value()) return;
  switch (*type) {
    case raftpb::MsgPreVote:
    case raftpb::MsgTimeoutNow:
    case raftpb::MsgReadIndex:
    case raftpb::MsgAppResp:
    case raftpb::MsgHeartbeat: break;
    default: return;
  }
  std::optional<PeekedRaftMessage> msg = PeekPeerFrame(payload);
  if (!msg.has_value()) return;
  const int i = cluster_->IndexOf(from);
  if (i >= 0 && static_cast<size_t>(i) >= members_.size()) members_.resize(i + 1);  // a joiner
  switch (msg->type) {
    case raftpb::MsgPreVote:
      if (i >= 0 && (members_[i].prevote_term != msg->term ||
                     members_[i].prevote_at_ns != cluster_->world().now_ns())) {
        members_[i].prevote_term = msg->term;
        members_[i].prevote_at_ns = cluster_->world().now_ns();
        ++counts_[kPrevoteCampaigns];
      }
      break;
    case raftpb::MsgTimeoutNow: ++counts_[kLeaderTransfers]; break;
    case raftpb::MsgReadIndex: ++counts_[kReadIndexForwarded]; break;
    case raftpb::MsgAppResp:
      if (msg->reject) ++counts_[kAppendRejected];
      break;
    case raftpb::MsgHeartbeat:
      if (i >= 0 && !msg->context.empty() && members_[i].read_context != msg->context) {
        members_[i].read_context = std::string(msg->context);
        ++counts_[kReadIndexBatches];
      }
      break;
    default: break;
  }
}

void RaftCoverage::OnDeliver(uint64_t from, uint64_t to, uint64_t id) {
  if (next_ != nullptr) next_->OnDeliver(from, to, id);
}

void RaftCoverage::OnDrop(uint64_t from, uint64_t to, uint64_t id, std::string_view reason,
                          bool at_send) {
  if (next_ != nullptr) next_->OnDrop(from, to, id, reason, at_send);
}

void RaftCoverage::AddTo(std::map<std::string, uint64_t>* out) const {
  for (int c = 0; c < kCounterCount; ++c) {
    if (counts_[c] > 0) (*out)[kCounterNames[c]] += counts_[c];
  }
}

}  // namespace keel::sim
