// ReadIndex bookkeeping (thesis §6.4): linearizable reads without writing to the log.
//
// kSafe: the leader records its commit index for the request, then confirms it is still
// leader by a round of heartbeats carrying the request context; once a quorum acks, every
// request queued up to that context may be served at its recorded index. Requests are
// batched: one heartbeat round confirms all earlier ones too.
//
// kLeaseBased (thesis §6.4.1): the leader answers at once, trusting that no other leader
// can exist within an election timeout of its last quorum contact. This depends on
// bounded clock drift between nodes and is therefore only allowed with CheckQuorum.
#ifndef KEEL_RAFT_READ_ONLY_H_
#define KEEL_RAFT_READ_ONLY_H_

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "raft/raftpb/raft.pb.h"

namespace keel::raft {

enum class ReadOnlyOption { kSafe, kLeaseBased };

// A read that may be served once the node has applied up to `index`.
struct ReadState {
  uint64_t index = 0;
  std::string request_ctx;
};

class ReadOnly {
 public:
  struct Pending {
    raftpb::Message req;
    uint64_t index = 0;
    std::map<uint64_t, bool> acks;
  };
  // Bound on queued requests; beyond it new reads are refused (the caller retries).
  static constexpr size_t kMaxPending = 1 << 16;

  explicit ReadOnly(ReadOnlyOption option) : option_(option) {}

  ReadOnlyOption option() const { return option_; }
  bool Full() const { return queue_.size() >= kMaxPending; }
  // Queues a read request (m.entries(0).data() is its context) at commit index `index`.
  void AddRequest(uint64_t index, const raftpb::Message& m);
  // Records a heartbeat ack for `ctx`; returns the acks so far (null if unknown ctx).
  const std::map<uint64_t, bool>* RecvAck(uint64_t id, const std::string& ctx);
  // Dequeues every request up to and including `ctx` (now confirmed).
  std::vector<Pending> Advance(const std::string& ctx);
  // Context of the newest queued request ("" if none), piggybacked on heartbeats.
  std::string LastPendingRequestCtx() const;
  size_t PendingCount() const { return queue_.size(); }

 private:
  ReadOnlyOption option_;
  std::map<std::string, Pending> pending_;
  std::deque<std::string> queue_;
};

}  // namespace keel::raft

#endif  // KEEL_RAFT_READ_ONLY_H_
