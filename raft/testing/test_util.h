// Helpers for unit tests that drive Raft directly (as etcd-io/raft's tests do): a node
// with its own MemoryStorage, a "persist and acknowledge" step that mimics a caller's
// Ready handling, and a synchronous in-memory network with cuts and drops.
#ifndef KEEL_RAFT_TESTING_TEST_UTIL_H_
#define KEEL_RAFT_TESTING_TEST_UTIL_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "raft/raft.h"
#include "raft/random_source.h"
#include "raft/storage.h"

namespace keel::raft::testing {

struct TestNode {
  std::unique_ptr<MemoryStorage> storage;
  std::unique_ptr<SplitMix64Source> random;
  std::unique_ptr<Raft> raft;
  Raft* operator->() { return raft.get(); }
};

// A node with the given voters (and learners) in its initial configuration. `tweak` may
// adjust the config (pre_vote, check_quorum, ...) before creation. `storage` may be
// pre-filled by the caller; if null a fresh one is made.
TestNode NewTestRaft(uint64_t id, int election_tick, int heartbeat_tick,
                     const std::vector<uint64_t>& voters,
                     const std::function<void(Config&)>& tweak = nullptr,
                     std::unique_ptr<MemoryStorage> storage = nullptr,
                     const std::vector<uint64_t>& learners = {});

// Emulates a caller's Ready loop for `n`: persists unstable entries/snapshot and hard
// state to storage, marks them stable, delivers the node's self-addressed acks, and
// repeats until nothing is left to persist.
void Persist(TestNode& n);
// Persist(), then returns (and clears) every message for other nodes.
std::vector<raftpb::Message> ReadMessages(TestNode& n);
// Entries in [lo, hi] terms/data helpers.
raftpb::Entry MakeEntry(uint64_t index, uint64_t term, const std::string& data = "");
raftpb::Message MakeMsg(uint64_t from, uint64_t to, raftpb::MessageType type,
                        uint64_t term = 0);

// A synchronous network of TestNodes, delivering messages breadth-first until quiet.
class Network {
 public:
  // Nodes 1..n with the given voters; `tweak` applies to every config.
  Network(int n, const std::function<void(Config&)>& tweak = nullptr);
  // Takes ownership of prepared nodes (ids must be 1..n in order).
  explicit Network(std::vector<TestNode> nodes);

  // Delivers `msgs` and everything they cause. Bounded: aborts after 100000 deliveries.
  void Send(std::vector<raftpb::Message> msgs);
  void Send(raftpb::Message m) { Send(std::vector<raftpb::Message>{std::move(m)}); }
  // Convenience: MsgHup to `id`.
  void Campaign(uint64_t id) { Send(MakeMsg(id, id, raftpb::MsgHup)); }
  // Convenience: MsgProp with one entry to `id`.
  void Propose(uint64_t id, const std::string& data);

  void Cut(uint64_t a, uint64_t b);
  void Isolate(uint64_t id);
  void Ignore(raftpb::MessageType t) { ignored_.insert(t); }
  void Recover();

  TestNode& node(uint64_t id) { return nodes_.at(id - 1); }
  Raft& raft(uint64_t id) { return *nodes_.at(id - 1).raft; }
  int size() const { return static_cast<int>(nodes_.size()); }
  // Messages dropped by cuts so far (for tests that look at them).
  uint64_t dropped() const { return dropped_; }

 private:
  bool Dropped(const raftpb::Message& m) const;

  std::vector<TestNode> nodes_;
  std::set<std::pair<uint64_t, uint64_t>> cuts_;
  std::set<raftpb::MessageType> ignored_;
  uint64_t dropped_ = 0;
};

}  // namespace keel::raft::testing

#endif  // KEEL_RAFT_TESTING_TEST_UTIL_H_
