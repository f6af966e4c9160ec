// RaftTracer: the raft.* events of papers/viz/TRACE_SCHEMA.md for a keelsim cluster, so
// the teaching tools (keelsim viz, keelsim explain) see what the real Raft code did.
//
//  * raft.send / raft.recv / raft.drop: from the network's message fates (MessageObserver,
//    sim/network.h). The payload of a send (a serverpb::PeerMessage) is decoded by a small
//    wire-format scan (no protobuf parse, no allocation); frames that are not Raft
//    messages (forwarded requests, snapshot chunks) are ignored. `id` is the network's message id,
//    so raft.* and net.* records of one message share it, and it is unique per trace.
//  * raft.state / raft.append / raft.snapshot: after every world event, each live member's
//    Raft state is compared with what was last traced: first a fingerprint of inline
//    getters (role, term, lead, vote, commit, last stable index); only when it changed are
//    the last index and term read and the stable log (the server's raft::MemoryStorage)
//    scanned. So last_index may be reported when the entry becomes durable rather than
//    when the leader appended it, unless another field changed first.
//
// Only with a JSON sink (--trace, keelsim viz/explain), and written with
// Trace::Annotate: never hashed, so a seed's trace_hash does not depend on whether a file
// is written, and sweeps (no sink) pay nothing. The records are derived from state the
// hashed events already determine. Deterministic: written in event order, members in index
// order.
#ifndef KEEL_SIM_CLUSTER_RAFT_TRACE_H_
#define KEEL_SIM_CLUSTER_RAFT_TRACE_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/cluster/cluster.h"
#include "sim/network.h"

namespace keel::sim {

// The header fields of a serialized raftpb::Message, read without parsing the entries.
struct PeekedRaftMessage {
  uint64_t type = 0, to = 0, from = 0, term = 0, log_term = 0, index = 0, commit = 0;
  bool reject = false;
  uint64_t entries = 0;     // count
  uint64_t last_entry = 0;  // index of the last entry carried, 0 if none
  // The context bytes (a ReadIndex request's id on heartbeats), a view into the peeked
  // bytes: valid only while they are.
  std::string_view context;
};

// Nullopt unless `bytes` is a well-formed raftpb::Message of a peer-to-peer type.
std::optional<PeekedRaftMessage> PeekRaftMessage(std::string_view bytes);
// The same for a frame on the peer transport: a serverpb::PeerMessage carrying a Raft
// message (nullopt for forwarded requests, snapshot chunks and anything else).
std::optional<PeekedRaftMessage> PeekPeerFrame(std::string_view frame);
// Only the Raft message type of such a frame, read from its first bytes (the type is
// field 1, serialized first), without walking the entries; nullopt when the frame is no
// Raft message or does not start with its type.
std::optional<uint64_t> PeekPeerFrameType(std::string_view frame);

class RaftTracer final : public MessageObserver {
 public:
  // Bound on messages remembered between send and fate (a delivery discarded by a crash
  // has no fate); beyond it the oldest are forgotten.
  static constexpr size_t kMaxInFlight = size_t{1} << 16;
  // Bound on the (index, term) pairs remembered per member to find where a conflicting
  // append replaced its log.
  static constexpr size_t kMaxLogTail = 4096;

  // Active iff the world's trace has a JSON sink now (set it first); then registers
  // itself as `cluster`'s network observer. `cluster` must outlive the tracer.
  explicit RaftTracer(SimCluster* cluster);
  ~RaftTracer() override;
  RaftTracer(const RaftTracer&) = delete;
  RaftTracer& operator=(const RaftTracer&) = delete;

  // Call after every world event.
  void AfterStep();

  // MessageObserver.
  void OnSend(uint64_t from, uint64_t to, uint64_t id, std::string_view payload) override;
  void OnDeliver(uint64_t from, uint64_t to, uint64_t id) override;
  void OnDrop(uint64_t from, uint64_t to, uint64_t id, std::string_view reason,
              bool at_send) override;

 private:
  struct Observed {
    int role = -1;  // raft::StateType; -1 before the first record
    uint64_t term = 0, lead = 0, vote = 0, commit = 0, last_index = 0, last_term = 0;
    bool operator==(const Observed& o) const;
  };
  // What is read on every event: inline getters only. The rest (last index and term,
  // the stable log) is read only when this changed.
  struct Fingerprint {
    int role = -1;
    uint64_t term = 0, lead = 0, vote = 0, commit = 0, stable_last = 0;
    bool operator==(const Fingerprint& o) const {
      return role == o.role && term == o.term && lead == o.lead && vote == o.vote &&
             commit == o.commit && stable_last == o.stable_last;
    }
  };
  struct Member {
    Fingerprint seen;
    bool ever_up = false;
    bool up = false;
    bool woke_by_message = false;  // a message was stepped into it during this event
    Observed traced;
    // Stable log as traced: the last entries (index, term), and the index below which
    // everything is taken as still matching (compacted or evicted from `tail`).
    std::deque<std::pair<uint64_t, uint64_t>> tail;
    uint64_t floor = 0;
  };

  void ObserveMember(int i);
  void TraceAppends(int i, Member& m);

  SimCluster* const cluster_;
  World* const world_;
  const bool enabled_;
  std::vector<Member> members_;
  // Network ids of traced Raft messages without a fate yet.
  std::set<uint64_t> in_flight_;
};

}  // namespace keel::sim

#endif  // KEEL_SIM_CLUSTER_RAFT_TRACE_H_
