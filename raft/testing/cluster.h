// Cluster: a deterministic in-memory Raft cluster for tests.
//
// Time advances in slots; every node ticks once every `slots_per_tick` slots (with its
// own phase). A seeded network delivers messages after a random delay, and can drop,
// reorder (long delays) and partition them. Nodes can crash (losing everything but their
// MemoryStorage: the persisted log, snapshot and HardState) and restart. After every slot
// a SafetyChecker verifies the five properties of the paper's Figure 3.
//
// The helpers mirror the MIT 6.5840 Raft lab tester (checkOneLeader, one, nCommitted,
// connect/disconnect, crash/start) so those scenarios can be replayed deterministically.
#ifndef KEEL_RAFT_TESTING_CLUSTER_H_
#define KEEL_RAFT_TESTING_CLUSTER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <vector>

#include "raft/random_source.h"
#include "raft/rawnode.h"
#include "raft/storage.h"
#include "raft/testing/safety_checker.h"

namespace keel::raft::testing {

struct ClusterOptions {
  int num_nodes = 3;
  uint64_t seed = 1;
  bool pre_vote = false;
  bool check_quorum = false;
  int election_tick = 10;
  int heartbeat_tick = 2;
  int slots_per_tick = 4;
  // Message delay in slots, uniform in [min, max].
  int min_delay_slots = 1;
  int max_delay_slots = 3;
  // Unreliable network: this fraction of messages is dropped.
  double drop_rate = 0;
  // Long reordering: this fraction of messages is delayed by up to long_delay_slots.
  double long_delay_rate = 0;
  int long_delay_slots = 200;
  // Take a snapshot and compact once this many entries were applied since the last one
  // (0 = never).
  uint64_t snapshot_every = 0;
  // Probability that a node crashes in the middle of handling a Ready: after sending the
  // messages allowed before persistence, before persisting (tests thesis §10.2.1).
  double crash_mid_ready_rate = 0;
  uint64_t max_size_per_msg = 1 << 20;
  int max_inflight_msgs = 256;
};

class Cluster {
 public:
  explicit Cluster(const ClusterOptions& options);
  ~Cluster();

  int size() const { return static_cast<int>(nodes_.size()); }
  uint64_t now_slots() const { return now_; }

  // Advances one slot: deliver due messages, tick nodes, handle Readies, check safety.
  void Step();
  void Run(int slots);
  // Runs roughly `ticks` election ticks' worth of slots.
  void RunTicks(int ticks) { Run(ticks * options_.slots_per_tick); }

  // ---- Faults (node ids are 1..n). ----
  void Disconnect(uint64_t id);
  void Connect(uint64_t id);
  bool connected(uint64_t id) const;
  void Crash(uint64_t id);
  void Restart(uint64_t id);
  bool alive(uint64_t id) const;
  void SetDropRate(double rate) { options_.drop_rate = rate; }
  void SetLongDelayRate(double rate) { options_.long_delay_rate = rate; }
  void SetCrashMidReadyRate(double rate) { options_.crash_mid_ready_rate = rate; }

  // ---- Lab-style helpers. ----
  // Runs until exactly one connected live node is leader in the highest term (up to ~10
  // election timeouts); returns it, or nullopt.
  std::optional<uint64_t> CheckOneLeader();
  // No connected live node believes it is leader.
  bool CheckNoLeader() const;
  // The term all connected nodes agree on, or nullopt.
  std::optional<uint64_t> CheckTerms() const;
  // Proposes `cmd` on node `id` if it is leader; returns the index it would occupy.
  struct StartResult {
    uint64_t index = 0;
    uint64_t term = 0;
    bool is_leader = false;
  };
  StartResult Start(uint64_t id, const std::string& cmd);
  // Asks node `id` (if alive) to hand leadership to `transferee`.
  void TransferLeader(uint64_t id, uint64_t transferee);
  // Proposes a membership change on node `id` if it is leader.
  bool ProposeConfChange(uint64_t id, const raftpb::ConfChangeV2& cc);
  // Submits `cmd` to whichever node is leader until `expected` nodes applied it at one
  // index (retrying on another leader if `retry`). Returns that index or nullopt.
  std::optional<uint64_t> One(const std::string& cmd, int expected, bool retry);
  // How many nodes applied `index`; the value they applied goes to *cmd (if non-null).
  // Records a safety violation if they disagree.
  int NCommitted(uint64_t index, std::string* cmd = nullptr);
  // Runs until at least n nodes applied `index` or `max_slots` elapse.
  int Wait(uint64_t index, int n, int max_slots);

  uint64_t term(uint64_t id) const;
  bool is_leader(uint64_t id) const;
  uint64_t last_index(uint64_t id) const;
  uint64_t messages_sent() const { return messages_sent_; }
  uint64_t bytes_sent() const { return bytes_sent_; }
  const SafetyChecker& checker() const { return checker_; }
  // First safety violation, or "" if none.
  const std::string& violation() const { return checker_.violation(); }
  SplitMix64Source& rng() { return rng_; }
  // One line per node (role, term, log and progress), for failure messages.
  std::string DebugString() const;

 private:
  struct Node;
  struct InFlightMessage {
    uint64_t deliver_at;
    uint64_t seq;
    raftpb::Message msg;
    bool operator>(const InFlightMessage& o) const {
      return deliver_at != o.deliver_at ? deliver_at > o.deliver_at : seq > o.seq;
    }
  };

  void StartNode(Node& n);
  void HandleReadies(Node& n);
  // Returns false if the node crashed mid-Ready.
  bool HandleReady(Node& n);
  void Apply(Node& n, const raftpb::Entry& e);
  void MaybeSnapshot(Node& n);
  void Send(raftpb::Message m);
  void Deliver(const raftpb::Message& m);
  void CheckSafety();
  Node& node(uint64_t id);
  const Node& node(uint64_t id) const;

  ClusterOptions options_;
  SplitMix64Source rng_;
  SplitMix64Source net_rng_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::priority_queue<InFlightMessage, std::vector<InFlightMessage>,
                      std::greater<InFlightMessage>>
      network_;
  uint64_t now_ = 0;
  uint64_t seq_ = 0;
  uint64_t messages_sent_ = 0;
  uint64_t bytes_sent_ = 0;
  SafetyChecker checker_;
};

}  // namespace keel::raft::testing

#endif  // KEEL_RAFT_TESTING_CLUSTER_H_
