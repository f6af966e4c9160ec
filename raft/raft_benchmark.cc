// Throughput of the pure Raft state machine: a 3-node group in one thread, with in-memory
// storage and an in-memory "network", committing batched proposals. This measures the
// library's own cost (log bookkeeping, message construction, entry copies); real nodes
// add fsync and network time on top.
//
//   bazel run -c opt //raft:raft_benchmark
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "raft/random_source.h"
#include "raft/rawnode.h"
#include "raft/storage.h"

namespace keel::raft {
namespace {

class Group {
 public:
  explicit Group(int n) {
    raftpb::ConfState cs;
    for (int i = 1; i <= n; ++i) cs.add_voters(static_cast<uint64_t>(i));
    for (int i = 1; i <= n; ++i) {
      auto node = std::make_unique<Node>();
      node->storage.SetInitialConfState(cs);
      node->random = std::make_unique<SplitMix64Source>(static_cast<uint64_t>(i));
      Config c;
      c.id = static_cast<uint64_t>(i);
      c.storage = &node->storage;
      c.random = node->random.get();
      c.max_size_per_msg = 4 << 20;
      c.max_committed_size_per_ready = 64 << 20;
      c.max_inflight_msgs = 1024;
      node->raft = *RawNode::Create(c);
      nodes_.push_back(std::move(node));
    }
    (void)nodes_[0]->raft->Campaign();
    Pump();
  }

  RawNode& leader() { return *nodes_[0]->raft; }

  // Runs Ready loops and deliveries until the group is quiet. Returns applied entries.
  uint64_t Pump() {
    uint64_t applied = 0;
    for (int round = 0; round < 1000; ++round) {
      bool busy = false;
      for (auto& n : nodes_) {
        while (n->raft->HasReady()) {
          busy = true;
          Ready rd = n->raft->GetReady();
          for (auto& m : rd.messages) queue_.push_back(std::move(m));
          if (!rd.entries.empty()) (void)n->storage.Append(std::move(rd.entries));
          if (rd.hard_state) n->storage.SetHardState(*rd.hard_state);
          for (auto& m : rd.messages_after_persist) queue_.push_back(std::move(m));
          applied += rd.committed_entries.size();
          if (!rd.committed_entries.empty()) n->applied = rd.committed_entries.back().index();
          n->raft->Advance();
          MaybeCompact(*n);
        }
      }
      while (!queue_.empty()) {
        busy = true;
        raftpb::Message m = std::move(queue_.front());
        queue_.pop_front();
        (void)nodes_[m.to() - 1]->raft->Step(std::move(m));
      }
      if (!busy) break;
    }
    return applied;
  }

 private:
  struct Node {
    MemoryStorage storage;
    std::unique_ptr<SplitMix64Source> random;
    std::unique_ptr<RawNode> raft;
    uint64_t applied = 0;
    uint64_t compacted = 0;
  };

  // Keeps memory bounded, as a real node's snapshotting would.
  static void MaybeCompact(Node& n) {
    if (n.applied < n.compacted + (1 << 16)) return;
    (void)n.storage.CreateSnapshot(n.applied, nullptr, "");
    (void)n.storage.Compact(n.applied);
    n.compacted = n.applied;
  }

  std::vector<std::unique_ptr<Node>> nodes_;
  std::deque<raftpb::Message> queue_;
};

// Arguments: proposals per batch, payload bytes.
void BM_ThreeNodeCommit(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  const std::string payload(static_cast<size_t>(state.range(1)), 'x');
  Group g(3);
  uint64_t committed = 0;
  for (auto _ : state) {
    for (int i = 0; i < batch; ++i) (void)g.leader().Propose(payload);
    committed += g.Pump();
  }
  // Every node applies each entry; count each entry once.
  state.SetItemsProcessed(static_cast<int64_t>(committed / 3));
  state.counters["entries_per_s"] = benchmark::Counter(
      static_cast<double>(committed / 3), benchmark::Counter::kIsRate);
}
// Same, but each batch is one ProposeBatch call (group commit at the proposal level).
void BM_ThreeNodeCommitProposeBatch(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  const std::vector<std::string> payloads(static_cast<size_t>(batch),
                                          std::string(static_cast<size_t>(state.range(1)), 'x'));
  Group g(3);
  uint64_t committed = 0;
  for (auto _ : state) {
    (void)g.leader().ProposeBatch(payloads);
    committed += g.Pump();
  }
  state.SetItemsProcessed(static_cast<int64_t>(committed / 3));
  state.counters["entries_per_s"] = benchmark::Counter(
      static_cast<double>(committed / 3), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ThreeNodeCommitProposeBatch)
    ->Args({64, 64})
    ->Args({256, 64})
    ->Args({1024, 64})
    ->Args({1024, 1024});

BENCHMARK(BM_ThreeNodeCommit)
    ->Args({1, 64})
    ->Args({64, 64})
    ->Args({256, 64})
    ->Args({1024, 64})
    ->Args({1024, 1024});

}  // namespace
}  // namespace keel::raft
