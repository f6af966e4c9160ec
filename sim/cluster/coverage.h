// RaftCoverage: which Raft paths a run exercised, counted from outside the code under test
// (raft/ stays a pure state machine with no counters of ours): the network's message
// fates and each member's Raft state after every event, read through the same getters the
// safety observer uses. Names (the `raft.` keys of RunResult::coverage):
//
//   raft.elections_started    a member's term rose while it campaigned (candidate, or a
//                             single voter that won at once)
//   raft.elections_won        a member became leader
//   raft.prevote_campaigns    pre-vote rounds: MsgPreVotes a member sent in one event
//   raft.snapshots_sent       a leader's Raft put a follower into StateSnapshot (it asks
//                             the server to send a snapshot; the server intercepts that
//                             MsgSnap and streams chunks, so it never crosses the network)
//   raft.snapshots_installed  a member's Raft log restored from a received snapshot
//   raft.joint_entered        a member's configuration became joint (per member)
//   raft.leader_transfers     MsgTimeoutNow sent (a transfer's final step)
//   raft.read_index_batches   ReadIndex rounds a leader ran (heartbeats carrying a new
//                             read context; a one-member cluster answers without a round)
//   raft.read_index_forwarded MsgReadIndex sent by followers to the leader
//   raft.append_rejected      MsgAppResp rejections: the log-matching check failed
//   raft.log_truncations      a member's log lost or replaced entries at its tail (a
//                             conflicting append), not by a snapshot
//
// Deterministic (a function of the events) and not hashed: it records nothing in the
// trace. Cost: a wire-format peek per message sent, a few getters per event.
#ifndef KEEL_SIM_CLUSTER_COVERAGE_H_
#define KEEL_SIM_CLUSTER_COVERAGE_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "sim/cluster/cluster.h"
#include "sim/network.h"

namespace keel::sim {

class RaftCoverage final : public MessageObserver {
 public:
  // Registers itself as `cluster`'s network observer, passing every fate on to the
  // observer registered before it (the RaftTracer, when tracing). `cluster` must outlive
  // it; destroy it before that earlier observer.
  explicit RaftCoverage(SimCluster* cluster);
  ~RaftCoverage() override;
  RaftCoverage(const RaftCoverage&) = delete;
  RaftCoverage& operator=(const RaftCoverage&) = delete;

  // Call after every world event with World::event_node() (kAnyNode: every member).
  void AfterStep(uint64_t event_node);
  // Adds the non-zero counts, named as above.
  void AddTo(std::map<std::string, uint64_t>* out) const;

  // MessageObserver.
  void OnSend(uint64_t from, uint64_t to, uint64_t id, std::string_view payload) override;
  void OnDeliver(uint64_t from, uint64_t to, uint64_t id) override;
  void OnDrop(uint64_t from, uint64_t to, uint64_t id, std::string_view reason,
              bool at_send) override;

 private:
  enum Counter {
    kElectionsStarted, kElectionsWon, kPrevoteCampaigns, kSnapshotsSent, kSnapshotsInstalled,
    kJointEntered, kLeaderTransfers, kReadIndexBatches, kReadIndexForwarded, kAppendRejected,
    kLogTruncations, kCounterCount
  };
  struct Member {
    const void* server = nullptr;  // the incarnation observed; a restart starts over
    int role = -1;
    uint64_t term = 0;
    bool joint = false;
    bool snapshot_pending = false;
    uint64_t last_index = 0, last_term = 0;
    // The last pre-vote round (its term and the time its messages went out) and read
    // context seen from this member, to count rounds, not messages (a round sends one
    // message per peer, all in one event; a failed pre-vote retries at the same term).
    uint64_t prevote_term = 0;
    int64_t prevote_at_ns = -1;
    std::string read_context;
    // As leader: the followers in StateSnapshot and the snapshot index sent to each.
    std::map<uint64_t, uint64_t> snapshot_to;
  };

  void Observe(int i);

  SimCluster* const cluster_;
  MessageObserver* const next_;
  std::vector<Member> members_;
  uint64_t counts_[kCounterCount] = {};
};

}  // namespace keel::sim

#endif  // KEEL_SIM_CLUSTER_COVERAGE_H_
