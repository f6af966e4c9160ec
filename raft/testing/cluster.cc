#include "raft/testing/cluster.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/check.h"
#include "raft/entry_util.h"

namespace keel::raft::testing {

struct Cluster::Node {
  uint64_t id = 0;
  MemoryStorage storage;  // Survives crashes: it is the node's disk.
  std::unique_ptr<SplitMix64Source> random;
  std::unique_ptr<RawNode> raft;  // Null while crashed.
  bool connected = true;
  int phase = 0;
  // The state machine (volatile, rebuilt from the snapshot on restart).
  uint64_t applied_index = 0;
  uint64_t sm_hash = 0;
  uint64_t last_snapshot_index = 0;
  raftpb::ConfState conf_state;
  raftpb::ConfState initial_conf_state;
  // What the tester saw this node apply (like the lab's cfg.logs): kept across crashes.
  std::map<uint64_t, std::string> applied_values;
};

namespace {

std::string EncodeSnapshotData(uint64_t index, uint64_t hash) {
  return absl::StrCat(index, ":", hash);
}

void DecodeSnapshotData(const std::string& data, uint64_t* index, uint64_t* hash) {
  std::vector<std::string> parts = absl::StrSplit(data, ':');
  KEEL_CHECK_MSG(parts.size() == 2, "bad snapshot data");
  KEEL_CHECK_MSG(absl::SimpleAtoi(parts[0], index) && absl::SimpleAtoi(parts[1], hash),
                  "bad snapshot data");
}

uint64_t MixHash(uint64_t h, const raftpb::Entry& e) {
  return (h ^ HashData(e.data()) ^ (e.index() << 20)) * 0x100000001b3ULL;
}

}  // namespace

Cluster::Cluster(const ClusterOptions& options)
    : options_(options), rng_(options.seed * 0x9e3779b97f4a7c15ULL + 1),
      net_rng_(options.seed * 0xbf58476d1ce4e5b9ULL + 2) {
  raftpb::ConfState cs;
  for (int i = 1; i <= options.num_nodes; ++i) cs.add_voters(static_cast<uint64_t>(i));
  for (int i = 1; i <= options.num_nodes; ++i) {
    auto n = std::make_unique<Node>();
    n->id = static_cast<uint64_t>(i);
    n->storage.SetInitialConfState(cs);
    n->conf_state = cs;
    n->initial_conf_state = cs;
    n->phase = static_cast<int>(rng_.Uniform(static_cast<uint64_t>(options.slots_per_tick)));
    n->random = std::make_unique<SplitMix64Source>(options.seed * 1000003 + n->id);
    nodes_.push_back(std::move(n));
  }
  for (auto& n : nodes_) StartNode(*n);
}

Cluster::~Cluster() = default;

Cluster::Node& Cluster::node(uint64_t id) {
  KEEL_CHECK_MSG(id >= 1 && id <= nodes_.size(), "no such node");
  return *nodes_[id - 1];
}
const Cluster::Node& Cluster::node(uint64_t id) const {
  KEEL_CHECK_MSG(id >= 1 && id <= nodes_.size(), "no such node");
  return *nodes_[id - 1];
}

void Cluster::StartNode(Node& n) {
  // Rebuild the state machine from the persisted snapshot, as a real node would.
  const raftpb::Snapshot snap = *n.storage.Snapshot();
  n.applied_index = snap.metadata().index();
  n.sm_hash = 0;
  if (!snap.data().empty()) {
    uint64_t index = 0;
    DecodeSnapshotData(snap.data(), &index, &n.sm_hash);
    KEEL_CHECK_MSG(index == n.applied_index, "snapshot data does not match its index");
  }
  // Changes after the snapshot are re-applied as committed entries are handed out again.
  n.conf_state =
      snap.metadata().index() > 0 ? snap.metadata().conf_state() : n.initial_conf_state;
  n.last_snapshot_index = snap.metadata().index();

  Config c;
  c.id = n.id;
  c.election_tick = options_.election_tick;
  c.heartbeat_tick = options_.heartbeat_tick;
  c.storage = &n.storage;
  c.applied = n.applied_index;
  c.pre_vote = options_.pre_vote;
  c.check_quorum = options_.check_quorum;
  c.random = n.random.get();
  c.max_size_per_msg = options_.max_size_per_msg;
  c.max_inflight_msgs = options_.max_inflight_msgs;
  auto rn = RawNode::Create(c);
  KEEL_CHECK_MSG(rn.ok(), "RawNode::Create failed in harness");
  n.raft = *std::move(rn);
}

bool Cluster::alive(uint64_t id) const { return node(id).raft != nullptr; }
bool Cluster::connected(uint64_t id) const { return node(id).connected; }
void Cluster::Disconnect(uint64_t id) { node(id).connected = false; }
void Cluster::Connect(uint64_t id) { node(id).connected = true; }

void Cluster::Crash(uint64_t id) { node(id).raft.reset(); }

void Cluster::Restart(uint64_t id) {
  Node& n = node(id);
  n.raft.reset();
  StartNode(n);
}

uint64_t Cluster::term(uint64_t id) const {
  return alive(id) ? node(id).raft->raft().term() : 0;
}
bool Cluster::is_leader(uint64_t id) const {
  return alive(id) && node(id).raft->raft().state() == StateType::kLeader;
}
uint64_t Cluster::last_index(uint64_t id) const {
  return alive(id) ? node(id).raft->raft().log().LastIndex() : 0;
}

void Cluster::Send(raftpb::Message m) {
  ++messages_sent_;
  bytes_sent_ += m.ByteSizeLong();
  const Node& from = node(m.from());
  const bool dropped = !from.connected || !node(m.to()).connected ||
                       (options_.drop_rate > 0 &&
                        net_rng_.Uniform(1000000) < options_.drop_rate * 1000000);
  if (dropped) {
    if (m.type() == raftpb::MsgSnap && alive(m.from())) {
      node(m.from()).raft->ReportSnapshot(m.to(), false);
    }
    return;
  }
  uint64_t delay = options_.min_delay_slots +
                   net_rng_.Uniform(static_cast<uint64_t>(
                       options_.max_delay_slots - options_.min_delay_slots + 1));
  if (options_.long_delay_rate > 0 &&
      net_rng_.Uniform(1000000) < options_.long_delay_rate * 1000000) {
    delay += net_rng_.Uniform(static_cast<uint64_t>(options_.long_delay_slots));
  }
  network_.push(InFlightMessage{now_ + delay, seq_++, std::move(m)});
}

void Cluster::Deliver(const raftpb::Message& m) {
  Node& to = node(m.to());
  const Node& from = node(m.from());
  const bool ok = to.raft != nullptr && to.connected && from.connected;
  if (m.type() == raftpb::MsgSnap && alive(m.from())) {
    // The transport tells the sender whether the snapshot got through.
    node(m.from()).raft->ReportSnapshot(m.to(), ok);
  }
  if (!ok) return;
  (void)to.raft->Step(m);
  HandleReadies(to);
  if (m.type() == raftpb::MsgSnap && alive(m.from())) HandleReadies(node(m.from()));
}

void Cluster::HandleReadies(Node& n) {
  // Each Ready strictly shrinks the outstanding work; 1000 rounds means a livelock bug.
  for (int i = 0; i < 1000 && n.raft != nullptr && n.raft->HasReady(); ++i) {
    if (!HandleReady(n)) return;
  }
}

bool Cluster::HandleReady(Node& n) {
  Ready rd = n.raft->GetReady();
  for (auto& m : rd.messages) Send(std::move(m));
  if (options_.crash_mid_ready_rate > 0 &&
      rng_.Uniform(1000000) < options_.crash_mid_ready_rate * 1000000) {
    Crash(n.id);  // The Ready's state never reached the disk.
    return false;
  }
  if (rd.snapshot) {
    KEEL_CHECK_MSG(n.storage.ApplySnapshot(*rd.snapshot).ok(), "apply snapshot failed");
    DecodeSnapshotData(rd.snapshot->data(), &n.applied_index, &n.sm_hash);
    n.conf_state = rd.snapshot->metadata().conf_state();
    n.last_snapshot_index = rd.snapshot->metadata().index();
  }
  if (!rd.entries.empty()) {
    std::vector<raftpb::Entry> entries = rd.entries;
    KEEL_CHECK_MSG(n.storage.Append(std::move(entries)).ok(), "append failed");
    for (const auto& e : rd.entries) {
      absl::StatusOr<uint64_t> prev = n.storage.Term(e.index() - 1);
      checker_.ObservePersisted(n.id, e, prev.ok() ? *prev : 0);
    }
  }
  if (rd.hard_state) n.storage.SetHardState(*rd.hard_state);
  for (auto& m : rd.messages_after_persist) Send(std::move(m));
  for (const auto& e : rd.committed_entries) Apply(n, e);
  n.raft->Advance();
  MaybeSnapshot(n);
  return true;
}

void Cluster::Apply(Node& n, const raftpb::Entry& e) {
  if (e.index() <= n.applied_index) return;  // Covered by a snapshot we installed.
  if (e.index() != n.applied_index + 1) {
    checker_.ObserveApplied(n.id, e);
    return;
  }
  if (e.type() == raftpb::EntryConfChange) {
    raftpb::ConfChange cc;
    cc.ParseFromString(e.data());
    auto cs = n.raft->ApplyConfChange(cc);
    if (cs.ok()) n.conf_state = *cs;
  } else if (e.type() == raftpb::EntryConfChangeV2) {
    raftpb::ConfChangeV2 cc;
    cc.ParseFromString(e.data());
    auto cs = n.raft->ApplyConfChange(cc);
    if (cs.ok()) n.conf_state = *cs;
  } else if (!e.data().empty()) {
    auto [it, inserted] = n.applied_values.emplace(e.index(), e.data());
    if (!inserted && it->second != e.data()) {
      checker_.ObserveApplied(n.id, e);  // Will flag the mismatch via the global record.
    }
  }
  checker_.ObserveApplied(n.id, e);
  n.applied_index = e.index();
  n.sm_hash = MixHash(n.sm_hash, e);
}

void Cluster::MaybeSnapshot(Node& n) {
  if (options_.snapshot_every == 0 || n.raft == nullptr) return;
  if (n.applied_index < n.last_snapshot_index + options_.snapshot_every) return;
  auto snap = n.storage.CreateSnapshot(n.applied_index, &n.conf_state,
                                       EncodeSnapshotData(n.applied_index, n.sm_hash));
  KEEL_CHECK_MSG(snap.ok(), "create snapshot failed");
  KEEL_CHECK_MSG(n.storage.Compact(n.applied_index).ok(), "compact failed");
  n.last_snapshot_index = n.applied_index;
}

void Cluster::CheckSafety() {
  for (auto& n : nodes_) {
    if (n->raft != nullptr && n->raft->raft().state() == StateType::kLeader) {
      checker_.ObserveLeader(n->id, n->raft->raft().term(), n->raft->raft().log());
    }
  }
}

void Cluster::Step() {
  ++now_;
  // Bounded by the queue's size at entry plus what deliveries add for this same slot
  // (never: delays are >= 1 slot).
  while (!network_.empty() && network_.top().deliver_at <= now_) {
    raftpb::Message m = network_.top().msg;
    network_.pop();
    Deliver(m);
    CheckSafety();
  }
  for (auto& n : nodes_) {
    if (n->raft == nullptr) continue;
    if ((now_ + static_cast<uint64_t>(n->phase)) % options_.slots_per_tick != 0) continue;
    n->raft->Tick();
    HandleReadies(*n);
  }
  CheckSafety();
}

void Cluster::Run(int slots) {
  for (int i = 0; i < slots; ++i) Step();
}

std::optional<uint64_t> Cluster::CheckOneLeader() {
  for (int iter = 0; iter < 10; ++iter) {
    RunTicks(options_.election_tick + static_cast<int>(rng_.Uniform(5)));
    std::map<uint64_t, std::vector<uint64_t>> leaders;
    for (auto& n : nodes_) {
      if (n->connected && is_leader(n->id)) leaders[term(n->id)].push_back(n->id);
    }
    if (!leaders.empty()) {
      const auto& last = *leaders.rbegin();
      if (last.second.size() == 1) return last.second[0];
    }
  }
  return std::nullopt;
}

bool Cluster::CheckNoLeader() const {
  for (const auto& n : nodes_) {
    if (n->connected && is_leader(n->id)) return false;
  }
  return true;
}

std::optional<uint64_t> Cluster::CheckTerms() const {
  std::optional<uint64_t> t;
  for (const auto& n : nodes_) {
    if (!n->connected || n->raft == nullptr) continue;
    if (t && *t != term(n->id)) return std::nullopt;
    t = term(n->id);
  }
  return t;
}

Cluster::StartResult Cluster::Start(uint64_t id, const std::string& cmd) {
  StartResult r;
  Node& n = node(id);
  if (n.raft == nullptr || n.raft->raft().state() != StateType::kLeader) return r;
  if (!n.raft->Propose(cmd).ok()) return r;
  r.is_leader = true;
  r.index = n.raft->raft().log().LastIndex();
  r.term = n.raft->raft().term();
  HandleReadies(n);
  return r;
}

void Cluster::TransferLeader(uint64_t id, uint64_t transferee) {
  Node& n = node(id);
  if (n.raft == nullptr) return;
  n.raft->TransferLeader(transferee);
  HandleReadies(n);
}

bool Cluster::ProposeConfChange(uint64_t id, const raftpb::ConfChangeV2& cc) {
  Node& n = node(id);
  if (n.raft == nullptr || n.raft->raft().state() != StateType::kLeader) return false;
  if (!n.raft->ProposeConfChange(cc).ok()) return false;
  HandleReadies(n);
  return true;
}

int Cluster::NCommitted(uint64_t index, std::string* cmd) {
  int count = 0;
  std::optional<std::string> value;
  for (const auto& n : nodes_) {
    auto it = n->applied_values.find(index);
    if (it == n->applied_values.end()) continue;
    if (value && *value != it->second) {
      raftpb::Entry e;
      e.set_index(index);
      e.set_data(it->second);
      checker_.ObserveApplied(n->id, e);
    }
    value = it->second;
    ++count;
  }
  if (cmd != nullptr) *cmd = value.value_or("");
  return count;
}

int Cluster::Wait(uint64_t index, int n, int max_slots) {
  int got = NCommitted(index);
  for (int i = 0; i < max_slots && got < n; ++i) {
    Step();
    got = NCommitted(index);
  }
  return got;
}

std::optional<uint64_t> Cluster::One(const std::string& cmd, int expected, bool retry) {
  // "10 seconds" of trying, each attempt waiting "2 seconds" for agreement, in ticks.
  const int total_slots = 250 * options_.slots_per_tick;
  const int attempt_slots = 50 * options_.slots_per_tick;
  uint64_t starts = 0;
  const uint64_t begin = now_;
  while (now_ - begin < static_cast<uint64_t>(total_slots)) {
    std::optional<uint64_t> index;
    for (size_t k = 0; k < nodes_.size(); ++k) {
      starts = (starts + 1) % nodes_.size();
      const uint64_t id = starts + 1;
      if (!connected(id) || !alive(id)) continue;
      StartResult r = Start(id, cmd);
      if (r.is_leader) {
        index = r.index;
        break;
      }
    }
    if (index) {
      for (int i = 0; i < attempt_slots; ++i) {
        std::string got;
        if (NCommitted(*index, &got) >= expected && got == cmd) return index;
        Step();
      }
      if (!retry) return std::nullopt;
    } else {
      Run(2 * options_.slots_per_tick);
    }
  }
  return std::nullopt;
}

std::string Cluster::DebugString() const {
  std::string out;
  for (const auto& n : nodes_) {
    absl::StrAppend(&out, "node ", n->id, n->connected ? "" : " (disconnected)",
                    " applied_sm=", n->applied_index, " snap=", n->last_snapshot_index);
    if (n->raft == nullptr) {
      absl::StrAppend(&out, " crashed\n");
      continue;
    }
    const Raft& r = n->raft->raft();
    absl::StrAppend(&out, " last=", r.log().LastIndex(), " first=", r.log().FirstIndex(), " ",
                    n->raft->GetStatus().ToString(), "\n");
  }
  absl::StrAppend(&out, "in flight messages: ", network_.size(), "\n");
  return out;
}

}  // namespace keel::raft::testing
