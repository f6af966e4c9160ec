#include "raft/testing/interaction_env.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/check.h"
#include "raft/describe.h"
#include "raft/rawnode.h"
#include "raft/storage.h"

namespace keel::raft::testing {

struct InteractionEnv::Node {
  uint64_t id = 0;
  MemoryStorage storage;
  std::unique_ptr<SplitMix64Source> random;
  Config config;
  std::unique_ptr<RawNode> raft;
  raftpb::ConfState conf_state;
};

namespace {

uint64_t ToU64(const std::string& s) {
  uint64_t v = 0;
  KEEL_CHECK_MSG(absl::SimpleAtoi(s, &v), "expected a number in test command");
  return v;
}

}  // namespace

InteractionEnv::InteractionEnv() = default;
InteractionEnv::~InteractionEnv() = default;

InteractionEnv::Node& InteractionEnv::node(uint64_t id) {
  KEEL_CHECK_MSG(id >= 1 && id <= nodes_.size(), "no such node in test command");
  return *nodes_[id - 1];
}

std::vector<uint64_t> InteractionEnv::AllIds() const {
  std::vector<uint64_t> ids;
  for (const auto& n : nodes_) ids.push_back(n->id);
  return ids;
}

std::vector<uint64_t> InteractionEnv::IdsOrAll(const TestCase& tc) const {
  std::vector<uint64_t> ids;
  for (const auto& p : tc.Positionals()) ids.push_back(ToU64(p));
  return ids.empty() ? AllIds() : ids;
}

std::string InteractionEnv::Handle(const TestCase& tc) {
  out_.clear();
  const std::vector<std::string> pos = tc.Positionals();
  auto id_arg = [&](size_t i) { return ToU64(pos.at(i)); };
  auto report = [&](const absl::Status& s) {
    if (!s.ok()) Print(absl::StrCat("ERROR: ", s.message()));
  };
  if (tc.cmd == "add-nodes") {
    AddNodes(tc);
  } else if (tc.cmd == "campaign") {
    report(node(id_arg(0)).raft->Campaign());
  } else if (tc.cmd == "propose") {
    report(node(id_arg(0)).raft->Propose(pos.at(1)));
  } else if (tc.cmd == "propose-conf-change") {
    ProposeConfChange(tc);
  } else if (tc.cmd == "read-index") {
    report(node(id_arg(0)).raft->ReadIndex(pos.at(1)));
  } else if (tc.cmd == "tick") {
    const uint64_t n = pos.size() > 1 ? id_arg(1) : 1;
    for (uint64_t i = 0; i < n; ++i) node(id_arg(0)).raft->Tick();
  } else if (tc.cmd == "tick-heartbeat") {
    Node& n = node(id_arg(0));
    for (int i = 0; i < n.config.heartbeat_tick; ++i) n.raft->Tick();
  } else if (tc.cmd == "tick-election") {
    TickElection(id_arg(0));
  } else if (tc.cmd == "process-ready") {
    for (uint64_t id : IdsOrAll(tc)) {
      if (!ProcessReady(id)) Print(absl::StrCat("> ", id, " has no Ready"));
    }
  } else if (tc.cmd == "deliver-msgs") {
    std::vector<std::string> drop = tc.GetList("drop");
    for (const auto& d : drop) DeliverMsgs(ToU64(d), /*drop=*/true);
    if (drop.empty() || !pos.empty()) {
      for (uint64_t id : IdsOrAll(tc)) DeliverMsgs(id, /*drop=*/false);
    }
  } else if (tc.cmd == "stabilize") {
    Stabilize(IdsOrAll(tc));
  } else if (tc.cmd == "compact") {
    Compact(id_arg(0), id_arg(1));
  } else if (tc.cmd == "transfer-leadership") {
    node(ToU64(*tc.Get("from"))).raft->TransferLeader(ToU64(*tc.Get("to")));
  } else if (tc.cmd == "report-unreachable") {
    node(id_arg(0)).raft->ReportUnreachable(id_arg(1));
  } else if (tc.cmd == "isolate") {
    const uint64_t id = id_arg(0);
    isolated_.insert(id);
    std::vector<raftpb::Message> kept;
    for (auto& m : messages_) {
      if (m.from() != id && m.to() != id) kept.push_back(std::move(m));
    }
    messages_ = std::move(kept);
  } else if (tc.cmd == "heal") {
    isolated_.clear();
  } else if (tc.cmd == "restart") {
    Node& n = node(id_arg(0));
    // Whatever was not persisted is lost; messages in flight to it are lost too.
    std::vector<raftpb::Message> kept;
    for (auto& m : messages_) {
      if (m.to() != n.id) kept.push_back(std::move(m));
    }
    messages_ = std::move(kept);
    StartNode(n);
  } else if (tc.cmd == "raft-log") {
    RaftLog(id_arg(0));
  } else if (tc.cmd == "raft-state") {
    RaftState();
  } else if (tc.cmd == "status") {
    Status(id_arg(0));
  } else {
    Print(absl::StrCat("ERROR: unknown command ", tc.cmd));
  }
  if (out_.empty()) return "ok";
  return absl::StrJoin(out_, "\n");
}

void InteractionEnv::AddNodes(const TestCase& tc) {
  const uint64_t n = ToU64(tc.Positionals().at(0));
  raftpb::ConfState cs;
  for (const auto& v : tc.GetList("voters")) cs.add_voters(ToU64(v));
  for (const auto& v : tc.GetList("learners")) cs.add_learners(ToU64(v));
  const uint64_t index = tc.Get("index") ? ToU64(*tc.Get("index")) : 0;
  for (uint64_t i = 0; i < n; ++i) {
    auto nd = std::make_unique<Node>();
    nd->id = nodes_.size() + 1;
    if (index > 0) {
      raftpb::Snapshot snap;
      snap.mutable_metadata()->set_index(index);
      snap.mutable_metadata()->set_term(1);
      *snap.mutable_metadata()->mutable_conf_state() = cs;
      KEEL_CHECK_MSG(nd->storage.ApplySnapshot(snap).ok(), "bootstrap snapshot");
      raftpb::HardState hs;
      hs.set_term(1);
      hs.set_commit(index);
      nd->storage.SetHardState(hs);
    } else {
      nd->storage.SetInitialConfState(cs);
    }
    nd->conf_state = cs;
    Config& c = nd->config;
    c.id = nd->id;
    c.election_tick = tc.Get("election") ? static_cast<int>(ToU64(*tc.Get("election"))) : 10;
    c.heartbeat_tick = tc.Get("heartbeat") ? static_cast<int>(ToU64(*tc.Get("heartbeat"))) : 1;
    c.pre_vote = tc.Get("prevote") == std::optional<std::string>("true");
    c.check_quorum = tc.Get("checkquorum") == std::optional<std::string>("true");
    c.disable_proposal_forwarding =
        tc.Get("disable-forwarding") == std::optional<std::string>("true");
    if (tc.Get("read-only") == std::optional<std::string>("lease")) {
      c.read_only_option = ReadOnlyOption::kLeaseBased;
    }
    if (tc.Get("max-inflight")) c.max_inflight_msgs = static_cast<int>(ToU64(*tc.Get("max-inflight")));
    if (tc.Get("max-size-per-msg")) c.max_size_per_msg = ToU64(*tc.Get("max-size-per-msg"));
    if (tc.Get("max-uncommitted-size")) {
      c.max_uncommitted_entries_size = ToU64(*tc.Get("max-uncommitted-size"));
    }
    nd->random = std::make_unique<SplitMix64Source>(nd->id);
    c.random = nd->random.get();
    c.storage = &nd->storage;
    c.logger = [this](std::string_view line) { Print(absl::StrCat("INFO ", std::string(line))); };
    nodes_.push_back(std::move(nd));
    StartNode(*nodes_.back());
  }
}

void InteractionEnv::StartNode(Node& n) {
  Config c = n.config;
  absl::StatusOr<raftpb::Snapshot> snap = n.storage.Snapshot();
  c.applied = snap.ok() ? snap->metadata().index() : 0;
  if (snap.ok() && snap->metadata().index() > 0) n.conf_state = snap->metadata().conf_state();
  auto rn = RawNode::Create(c);
  if (!rn.ok()) {
    Print(absl::StrCat("ERROR: ", rn.status().message()));
    return;
  }
  n.raft = *std::move(rn);
}

void InteractionEnv::TickElection(uint64_t id) {
  Node& n = node(id);
  const Raft& r = n.raft->raft();
  const int timeout = r.state() == StateType::kLeader ? n.config.election_tick
                                                      : r.randomized_election_timeout();
  const int ticks = std::max(1, timeout - r.election_elapsed());
  for (int i = 0; i < ticks; ++i) n.raft->Tick();
}

bool InteractionEnv::ProcessReady(uint64_t id) {
  Node& n = node(id);
  if (!n.raft->HasReady()) return false;
  Print(absl::StrCat("> ", id, " handling Ready"));
  Ready rd = n.raft->GetReady();
  Print(DescribeReady(rd, "  "));
  // Persist, then send, then apply: the order the contract requires.
  if (rd.snapshot) {
    KEEL_CHECK_MSG(n.storage.ApplySnapshot(*rd.snapshot).ok(), "apply snapshot");
    n.conf_state = rd.snapshot->metadata().conf_state();
  }
  if (!rd.entries.empty()) {
    KEEL_CHECK_MSG(n.storage.Append(rd.entries).ok(), "append entries");
  }
  if (rd.hard_state) n.storage.SetHardState(*rd.hard_state);
  // Messages from or to an isolated node are lost on the wire.
  for (auto* ms : {&rd.messages, &rd.messages_after_persist}) {
    for (auto& m : *ms) {
      if (isolated_.count(m.from()) == 0 && isolated_.count(m.to()) == 0) {
        messages_.push_back(std::move(m));
      }
    }
  }
  for (const auto& e : rd.committed_entries) {
    absl::StatusOr<raftpb::ConfState> cs;
    if (e.type() == raftpb::EntryConfChange) {
      raftpb::ConfChange cc;
      cc.ParseFromString(e.data());
      cs = n.raft->ApplyConfChange(cc);
    } else if (e.type() == raftpb::EntryConfChangeV2) {
      raftpb::ConfChangeV2 cc;
      cc.ParseFromString(e.data());
      cs = n.raft->ApplyConfChange(cc);
    } else {
      continue;
    }
    if (cs.ok()) {
      n.conf_state = *cs;
    } else {
      Print(absl::StrCat("  ERROR applying conf change: ", cs.status().message()));
    }
  }
  n.raft->Advance();
  return true;
}

bool InteractionEnv::DeliverMsgs(uint64_t id, bool drop) {
  std::vector<raftpb::Message> mine, rest;
  for (auto& m : messages_) {
    if (m.to() == id) {
      mine.push_back(std::move(m));
    } else {
      rest.push_back(std::move(m));
    }
  }
  messages_ = std::move(rest);
  if (mine.empty()) return false;
  Print(absl::StrCat("> ", id, drop ? " dropping messages" : " receiving messages"));
  for (auto& m : mine) {
    const bool lost = drop || isolated_.count(m.from()) > 0 || isolated_.count(m.to()) > 0;
    if (lost) {
      Print(absl::StrCat("  dropped: ", DescribeMessage(m)));
      continue;
    }
    Print(absl::StrCat("  ", DescribeMessage(m)));
    absl::Status s = node(id).raft->Step(std::move(m));
    if (!s.ok()) Print(absl::StrCat("  ERROR: ", s.message()));
  }
  return true;
}

void InteractionEnv::Stabilize(const std::vector<uint64_t>& ids) {
  // Each round either processes a Ready or delivers messages; a correct Raft goes quiet
  // long before 1000 rounds.
  for (int round = 0; round < 1000; ++round) {
    bool busy = false;
    for (uint64_t id : ids) busy = ProcessReady(id) || busy;
    for (uint64_t id : ids) busy = DeliverMsgs(id, false) || busy;
    if (!busy) return;
  }
  Print("ERROR: did not stabilize after 1000 rounds");
}

void InteractionEnv::ProposeConfChange(const TestCase& tc) {
  Node& n = node(ToU64(tc.Positionals().at(0)));
  raftpb::ConfChangeV2 cc;
  if (tc.Get("transition") == std::optional<std::string>("implicit")) {
    cc.set_transition(raftpb::ConfChangeTransitionJointImplicit);
  } else if (tc.Get("transition") == std::optional<std::string>("explicit")) {
    cc.set_transition(raftpb::ConfChangeTransitionJointExplicit);
  }
  for (const auto& line : tc.input) {
    for (absl::string_view tok : absl::StrSplit(line, ' ', absl::SkipEmpty())) {
      raftpb::ConfChangeSingle* c = cc.add_changes();
      switch (tok[0]) {
        case 'v':
          c->set_type(raftpb::ConfChangeAddNode);
          break;
        case 'l':
          c->set_type(raftpb::ConfChangeAddLearnerNode);
          break;
        case 'r':
          c->set_type(raftpb::ConfChangeRemoveNode);
          break;
        case 'u':
          c->set_type(raftpb::ConfChangeUpdateNode);
          break;
        default:
          Print(absl::StrCat("ERROR: unknown change ", std::string(tok)));
          return;
      }
      c->set_node_id(ToU64(std::string(tok.substr(1))));
    }
  }
  absl::Status s;
  if (tc.Get("v1") == std::optional<std::string>("true")) {
    KEEL_CHECK_MSG(cc.changes_size() == 1, "v1 conf change takes exactly one change");
    raftpb::ConfChange v1;
    v1.set_type(cc.changes(0).type());
    v1.set_node_id(cc.changes(0).node_id());
    s = n.raft->ProposeConfChange(v1);
  } else {
    s = n.raft->ProposeConfChange(cc);
  }
  if (!s.ok()) Print(absl::StrCat("ERROR: ", s.message()));
}

void InteractionEnv::RaftLog(uint64_t id) {
  Node& n = node(id);
  const uint64_t first = *n.storage.FirstIndex();
  const uint64_t last = *n.storage.LastIndex();
  if (last < first) {
    Print(absl::StrCat("log is empty: first index=", first, ", last index=", last));
    return;
  }
  auto entries = n.storage.Entries(first, last + 1, UINT64_MAX);
  KEEL_CHECK_MSG(entries.ok(), "read storage");
  for (const auto& e : *entries) Print(DescribeEntry(e));
}

void InteractionEnv::RaftState() {
  for (const auto& n : nodes_) {
    const Raft& r = n->raft->raft();
    const char* role = " (not in config)";
    if (r.tracker().config.voters.Contains(n->id)) {
      role = " (Voter)";
    } else if (r.tracker().Find(n->id) != nullptr) {
      role = " (Learner)";
    }
    Print(absl::StrCat(n->id, ": ", StateTypeName(r.state()), role, " Term:", r.term(),
                       " Lead:", r.lead()));
  }
}

void InteractionEnv::Status(uint64_t id) {
  NodeStatus s = node(id).raft->GetStatus();
  if (s.progress.empty()) {
    Print(absl::StrCat(id, " is not the leader"));
    return;
  }
  for (const auto& [pid, p] : s.progress) {
    std::string line = absl::StrCat(pid, ": ", ProgressStateName(p.state), " match=", p.match,
                                    " next=", p.next);
    if (p.is_learner) absl::StrAppend(&line, " learner");
    if (p.paused) absl::StrAppend(&line, " paused");
    if (p.inflight_count > 0) absl::StrAppend(&line, " inflight=", p.inflight_count);
    Print(line);
  }
}

void InteractionEnv::Compact(uint64_t id, uint64_t index) {
  Node& n = node(id);
  auto snap = n.storage.CreateSnapshot(index, &n.conf_state, "");
  if (!snap.ok()) {
    Print(absl::StrCat("ERROR: ", snap.status().message()));
    return;
  }
  absl::Status s = n.storage.Compact(index);
  if (!s.ok()) Print(absl::StrCat("ERROR: ", s.message()));
  RaftLog(id);
}

}  // namespace keel::raft::testing
