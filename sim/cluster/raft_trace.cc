#include "sim/cluster/raft_trace.h"

#include <algorithm>

#include "raft/raft.h"
#include "raft/raftpb/raft.pb.h"
#include "raft/storage.h"
#include "base/check.h"

namespace keel::sim {
namespace {

// Protobuf wire format (https://protobuf.dev/programming-guides/encoding/): each field is
// a varint key (field_number << 3 | wire_type) followed by its value.
constexpr int kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5;
// A varint has at most 10 bytes; a raftpb::Message has at most this many fields we walk
// (a bound on the scan of a hostile or foreign frame).
constexpr int kMaxVarintBytes = 10;
constexpr size_t kMaxFields = size_t{1} << 20;

bool ReadVarint(std::string_view* in, uint64_t* v) {
  *v = 0;
  for (int i = 0; i < kMaxVarintBytes && !in->empty(); ++i) {
    const auto byte = static_cast<unsigned char>(in->front());
    in->remove_prefix(1);
    *v |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

// Reads one field: its number, wire type, varint value or length-delimited bytes.
bool ReadField(std::string_view* in, uint64_t* field, int* wire, uint64_t* value,
               std::string_view* bytes) {
  uint64_t key = 0;
  if (!ReadVarint(in, &key)) return false;
  *field = key >> 3;
  *wire = static_cast<int>(key & 7);
  switch (*wire) {
    case kVarint: return ReadVarint(in, value);
    case kFixed64:
    case kFixed32: {
      const size_t n = *wire == kFixed64 ? 8 : 4;
      if (in->size() < n) return false;
      in->remove_prefix(n);
      return true;
    }
    case kLengthDelimited: {
      uint64_t len = 0;
      if (!ReadVarint(in, &len) || len > in->size()) return false;
      *bytes = in->substr(0, len);
      in->remove_prefix(len);
      return true;
    }
    default: return false;  // groups or garbage
  }
}

// Index (field 3) of one serialized raftpb::Entry, 0 if absent or malformed.
uint64_t EntryIndex(std::string_view entry) {
  uint64_t field = 0, value = 0;
  int wire = 0;
  std::string_view bytes;
  for (size_t n = 0; n < kMaxFields && !entry.empty(); ++n) {
    if (!ReadField(&entry, &field, &wire, &value, &bytes)) return 0;
    if (field == 3 && wire == kVarint) return value;
  }
  return 0;
}

bool IsPeerMessage(uint64_t type) {
  switch (type) {
    case raftpb::MsgApp:
    case raftpb::MsgAppResp:
    case raftpb::MsgVote:
    case raftpb::MsgVoteResp:
    case raftpb::MsgSnap:
    case raftpb::MsgHeartbeat:
    case raftpb::MsgHeartbeatResp:
    case raftpb::MsgTransferLeader:
    case raftpb::MsgTimeoutNow:
    case raftpb::MsgReadIndex:
    case raftpb::MsgReadIndexResp:
    case raftpb::MsgPreVote:
    case raftpb::MsgPreVoteResp:
    case raftpb::MsgProp: return true;
    default: return false;
  }
}

const char* RoleName(int role) {
  switch (static_cast<raft::StateType>(role)) {
    case raft::StateType::kFollower: return "follower";
    case raft::StateType::kCandidate: return "candidate";
    case raft::StateType::kPreCandidate: return "precandidate";
    case raft::StateType::kLeader: return "leader";
  }
  return "unknown";
}

}  // namespace

std::optional<PeekedRaftMessage> PeekPeerFrame(std::string_view frame) {
  // serverpb::PeerMessage (server/serverpb/internal.proto): a oneof whose field 1 is the
  // raftpb::Message. Forwarded requests and snapshot chunks use other oneof fields. Fields
  // outside the oneof may follow the message (proposal_term, the sender's peer URLs on
  // MsgApp, MsgHeartbeat, MsgVote and MsgPreVote): protobuf writes field 1 first.
  uint64_t field = 0, value = 0;
  int wire = 0;
  std::string_view sub;
  if (!ReadField(&frame, &field, &wire, &value, &sub)) return std::nullopt;
  if (field != 1 || wire != kLengthDelimited) return std::nullopt;
  return PeekRaftMessage(sub);
}

std::optional<uint64_t> PeekPeerFrameType(std::string_view frame) {
  uint64_t key = 0, len = 0, type = 0;
  if (!ReadVarint(&frame, &key) || key != ((1 << 3) | kLengthDelimited)) return std::nullopt;
  // The message may be followed by the envelope's other fields (see PeekPeerFrame).
  if (!ReadVarint(&frame, &len) || len > frame.size()) return std::nullopt;
  if (!ReadVarint(&frame, &key) || key != ((1 << 3) | kVarint)) return std::nullopt;
  if (!ReadVarint(&frame, &type)) return std::nullopt;
  return type;
}

std::optional<PeekedRaftMessage> PeekRaftMessage(std::string_view bytes) {
  PeekedRaftMessage m;
  bool has_type = false;
  uint64_t field = 0, value = 0;
  int wire = 0;
  std::string_view sub;
  for (size_t n = 0; n < kMaxFields && !bytes.empty(); ++n) {
    if (!ReadField(&bytes, &field, &wire, &value, &sub)) return std::nullopt;
    if (wire == kVarint) {
      switch (field) {
        case 1:
          m.type = value;
          has_type = true;
          break;
        case 2: m.to = value; break;
        case 3: m.from = value; break;
        case 4: m.term = value; break;
        case 5: m.log_term = value; break;
        case 6: m.index = value; break;
        case 8: m.commit = value; break;
        case 10: m.reject = value != 0; break;
        default: break;
      }
    } else if (wire == kLengthDelimited && field == 7) {
      ++m.entries;
      m.last_entry = EntryIndex(sub);
    } else if (wire == kLengthDelimited && field == 12) {
      m.context = sub;
    }
  }
  if (!bytes.empty() || !has_type || !IsPeerMessage(m.type)) return std::nullopt;
  return m;
}

bool RaftTracer::Observed::operator==(const Observed& o) const {
  return role == o.role && term == o.term && lead == o.lead && vote == o.vote &&
         commit == o.commit && last_index == o.last_index && last_term == o.last_term;
}

RaftTracer::RaftTracer(SimCluster* cluster)
    : cluster_(cluster),
      world_(&cluster->world()),
      enabled_(world_->trace().has_json_sink()),
      members_(cluster->size()) {
  if (enabled_) cluster_->network().set_observer(this);
}

RaftTracer::~RaftTracer() {
  if (enabled_) cluster_->network().set_observer(nullptr);
}

void RaftTracer::OnSend(uint64_t from, uint64_t to, uint64_t id, std::string_view payload) {
  std::optional<PeekedRaftMessage> m = PeekPeerFrame(payload);
  // A frame that is not this link's Raft message (a snapshot chunk, say) is not ours.
  if (!m.has_value() || m->from != from || m->to != to) return;
  const auto type = static_cast<raftpb::MessageType>(m->type);
  world_->trace().Annotate(world_->now_ns(), from, "raft.send",
                           {{"id", id},
                            {"to", to},
                            {"type", raftpb::MessageType_Name(type)},
                            {"term", m->term},
                            {"index", m->index},
                            {"log_term", m->log_term},
                            {"entries", m->entries},
                            {"last_entry", m->last_entry},
                            {"commit", m->commit},
                            {"reject", m->reject}});
  if (in_flight_.size() >= kMaxInFlight) in_flight_.erase(in_flight_.begin());
  in_flight_.insert(id);
}

void RaftTracer::OnDeliver(uint64_t from, uint64_t to, uint64_t id) {
  // A duplicated message's second copy finds no entry: the trace tells one fate per id.
  if (in_flight_.erase(id) == 0) return;
  world_->trace().Annotate(world_->now_ns(), to, "raft.recv", {{"id", id}, {"from", from}});
  const int i = cluster_->IndexOf(to);
  if (i >= 0 && i < static_cast<int>(members_.size())) members_[i].woke_by_message = true;
}

void RaftTracer::OnDrop(uint64_t from, uint64_t to, uint64_t id, std::string_view reason,
                        bool at_send) {
  if (in_flight_.erase(id) == 0) return;
  // The schema's convention: on the sender's line with `to` when refused at send, on the
  // receiver's with `from` when lost on arrival.
  if (at_send) {
    world_->trace().Annotate(world_->now_ns(), from, "raft.drop",
                             {{"id", id}, {"to", to}, {"reason", reason}});
  } else {
    world_->trace().Annotate(world_->now_ns(), to, "raft.drop",
                             {{"id", id}, {"from", from}, {"reason", reason}});
  }
}

void RaftTracer::AfterStep() {
  if (!enabled_) return;
  // Members added during the run (membership changes) are traced from their first step.
  if (members_.size() < static_cast<size_t>(cluster_->size())) members_.resize(cluster_->size());
  for (int i = 0; i < static_cast<int>(members_.size()); ++i) ObserveMember(i);
}

void RaftTracer::ObserveMember(int i) {
  Member& m = members_[i];
  const server::ServerImpl* s = cluster_->server(i);
  if (s == nullptr) {
    m.up = false;
    m.woke_by_message = false;
    return;
  }
  const std::string_view cause = !m.up               ? (m.ever_up ? "restart" : "start")
                                 : m.woke_by_message ? "recv"
                                                     : "tick";
  const bool first = !m.up;
  m.up = m.ever_up = true;
  m.woke_by_message = false;
  KEEL_CHECK(m.tail.size() <= kMaxLogTail);
  const raft::Raft& r = s->raft_node().raft();
  const Fingerprint seen{
      static_cast<int>(r.state()), r.term(), r.lead(), r.vote(), r.log().committed(),
      r.log().StableLastIndex()};
  if (!first && seen == m.seen) return;  // the whole cost on almost every event
  m.seen = seen;
  Observed now;
  now.role = static_cast<int>(r.state());
  now.term = r.term();
  now.lead = r.lead();
  now.vote = r.vote();
  now.commit = r.log().committed();
  now.last_index = r.log().LastIndex();
  now.last_term = r.log().LastTerm();
  TraceAppends(i, m);
  if (!first && now == m.traced) return;
  m.traced = now;
  world_->trace().Annotate(world_->now_ns(), cluster_->member_id(i), "raft.state",
                           {{"role", RoleName(now.role)},
                            {"term", now.term},
                            {"lead", now.lead},
                            {"vote", now.vote},
                            {"commit", now.commit},
                            {"last_index", now.last_index},
                            {"last_term", now.last_term},
                            {"cause", cause}});
}

void RaftTracer::TraceAppends(int i, Member& m) {
  const raft::MemoryStorage& storage = cluster_->server(i)->raft_log();
  const uint64_t first = storage.FirstIndex().value_or(1);
  const uint64_t last = storage.LastIndex().value_or(0);
  auto term_at = [&](uint64_t index) -> uint64_t {
    // Out of range never calls Term(): its error Status allocates.
    return index + 1 >= first && index <= last ? storage.Term(index).value_or(0) : 0;
  };
  // Log Matching (§5.3): equal last index and last term mean equal logs (the fingerprint
  // changed for another reason).
  if (!m.tail.empty() && m.tail.back().first == last && m.tail.back().second == term_at(last)) {
    return;
  }
  if (m.tail.empty() && m.floor == last && last + 1 == first) return;  // nothing yet
  const uint64_t id = cluster_->member_id(i);
  // Forget what the log no longer holds, back to the last entry that still matches.
  while (!m.tail.empty()) {
    const auto [index, term] = m.tail.back();
    if (index < first) break;  // compacted: committed, so it still matches
    if (index <= last && term_at(index) == term) break;
    m.tail.pop_back();
  }
  uint64_t from = m.tail.empty() ? m.floor + 1 : m.tail.back().first + 1;
  if (from < first) {
    // A snapshot replaced everything up to first - 1 (installed from the leader, or our
    // own compaction caught up with entries we never saw).
    world_->trace().Annotate(world_->now_ns(), id, "raft.snapshot",
                             {{"index", first - 1}, {"term", term_at(first - 1)}});
    m.tail.clear();
    m.floor = first - 1;
    from = first;
  }
  for (uint64_t index = from; index <= last; ++index) {
    const uint64_t term = term_at(index);
    world_->trace().Annotate(world_->now_ns(), id, "raft.append",
                             {{"index", index}, {"term", term}});
    m.tail.emplace_back(index, term);
    if (m.tail.size() > kMaxLogTail) {
      m.floor = m.tail.front().first;
      m.tail.pop_front();
    }
  }
  if (m.tail.empty()) m.floor = std::min(m.floor, last);
}

}  // namespace keel::sim
