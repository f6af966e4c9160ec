#include "raft/testing/test_util.h"

#include <deque>

#include "base/check.h"
#include "raft/entry_util.h"

namespace keel::raft::testing {

TestNode NewTestRaft(uint64_t id, int election_tick, int heartbeat_tick,
                     const std::vector<uint64_t>& voters,
                     const std::function<void(Config&)>& tweak,
                     std::unique_ptr<MemoryStorage> storage,
                     const std::vector<uint64_t>& learners) {
  TestNode n;
  n.storage = storage ? std::move(storage) : std::make_unique<MemoryStorage>();
  if (*n.storage->LastIndex() == 0 && n.storage->Snapshot()->metadata().index() == 0) {
    raftpb::ConfState cs;
    for (uint64_t v : voters) cs.add_voters(v);
    for (uint64_t l : learners) cs.add_learners(l);
    if (cs.voters_size() > 0 || cs.learners_size() > 0) n.storage->SetInitialConfState(cs);
  }
  n.random = std::make_unique<SplitMix64Source>(id * 7919);
  Config c;
  c.id = id;
  c.election_tick = election_tick;
  c.heartbeat_tick = heartbeat_tick;
  c.storage = n.storage.get();
  c.random = n.random.get();
  c.max_size_per_msg = kNoLimit;
  c.max_inflight_msgs = 256;
  if (tweak) tweak(c);
  KEEL_CHECK_MSG(ValidateConfig(&c).ok(), "invalid test config");
  auto r = Raft::Create(c);
  KEEL_CHECK_MSG(r.ok(), "Raft::Create failed in test");
  n.raft = *std::move(r);
  return n;
}

void Persist(TestNode& n) {
  Raft& r = *n.raft;
  // Each round persists everything currently unstable; self acks may append (auto
  // leave) at most a few times, so 10 rounds is plenty.
  for (int round = 0; round < 10; ++round) {
    bool did = false;
    if (r.log().UnstableSnapshot()) {
      raftpb::Snapshot s = *r.log().UnstableSnapshot();
      KEEL_CHECK_MSG(n.storage->ApplySnapshot(s).ok(), "persist snapshot");
      r.mutable_log().StableSnapTo(s.metadata().index());
      did = true;
    }
    if (!r.log().UnstableEntries().empty()) {
      std::vector<raftpb::Entry> es = r.log().UnstableEntries();
      const raftpb::Entry last = es.back();
      KEEL_CHECK_MSG(n.storage->Append(std::move(es)).ok(), "persist entries");
      r.mutable_log().StableTo(last.index(), last.term());
      did = true;
    }
    n.storage->SetHardState(r.hard_state());
    std::vector<raftpb::Message> self;
    std::vector<raftpb::Message> others;
    for (auto& m : r.msgs_after_append()) {
      if (m.to() == r.id()) {
        self.push_back(std::move(m));
      } else {
        others.push_back(std::move(m));
      }
    }
    r.msgs_after_append() = std::move(others);
    for (auto& m : self) {
      (void)r.Step(std::move(m));
      did = true;
    }
    if (!did) return;
  }
}

std::vector<raftpb::Message> ReadMessages(TestNode& n) {
  Persist(n);
  Raft& r = *n.raft;
  std::vector<raftpb::Message> out = std::move(r.msgs());
  r.msgs().clear();
  for (auto& m : r.msgs_after_append()) out.push_back(std::move(m));
  r.msgs_after_append().clear();
  return out;
}

raftpb::Entry MakeEntry(uint64_t index, uint64_t term, const std::string& data) {
  raftpb::Entry e;
  e.set_index(index);
  e.set_term(term);
  if (!data.empty()) e.set_data(data);
  return e;
}

raftpb::Message MakeMsg(uint64_t from, uint64_t to, raftpb::MessageType type, uint64_t term) {
  raftpb::Message m;
  m.set_from(from);
  m.set_to(to);
  m.set_type(type);
  m.set_term(term);
  return m;
}

Network::Network(int n, const std::function<void(Config&)>& tweak) {
  std::vector<uint64_t> voters;
  for (int i = 1; i <= n; ++i) voters.push_back(static_cast<uint64_t>(i));
  for (uint64_t id : voters) nodes_.push_back(NewTestRaft(id, 10, 1, voters, tweak));
}

Network::Network(std::vector<TestNode> nodes) : nodes_(std::move(nodes)) {}

bool Network::Dropped(const raftpb::Message& m) const {
  return ignored_.count(m.type()) > 0 || cuts_.count({m.from(), m.to()}) > 0;
}

void Network::Send(std::vector<raftpb::Message> msgs) {
  std::deque<raftpb::Message> queue(msgs.begin(), msgs.end());
  for (int delivered = 0; !queue.empty(); ++delivered) {
    KEEL_CHECK_MSG(delivered < 100000, "network did not quiesce");
    raftpb::Message m = std::move(queue.front());
    queue.pop_front();
    if (m.to() == 0 || m.to() > nodes_.size()) continue;
    if (Dropped(m)) {
      ++dropped_;
      continue;
    }
    TestNode& n = node(m.to());
    (void)n.raft->Step(std::move(m));
    for (auto& out : ReadMessages(n)) queue.push_back(std::move(out));
  }
}

void Network::Propose(uint64_t id, const std::string& data) {
  raftpb::Message m = MakeMsg(id, id, raftpb::MsgProp);
  m.add_entries()->set_data(data);
  Send(std::move(m));
}

void Network::Cut(uint64_t a, uint64_t b) {
  cuts_.insert({a, b});
  cuts_.insert({b, a});
}

void Network::Isolate(uint64_t id) {
  for (uint64_t other = 1; other <= nodes_.size(); ++other) {
    if (other != id) Cut(id, other);
  }
}

void Network::Recover() {
  cuts_.clear();
  ignored_.clear();
}

}  // namespace keel::raft::testing
