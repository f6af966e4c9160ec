// RawNode: the public face of raft/. A Raft node as a pure state machine driven by the
// caller, with the Ready/Advance protocol for everything that must touch the world.
//
// Caller loop (single-threaded; see README.md for the full contract):
//
//   on tick:      node->Tick();
//   on message:   node->Step(msg);
//   on request:   node->Propose(data) / ReadIndex(ctx) / ProposeConfChange(cc) / ...
//   whenever node->HasReady():
//     Ready rd = node->GetReady();
//     1. send rd.messages                      (may go out at once, before persisting)
//     2. persist rd.snapshot, rd.entries, rd.hard_state (fsync if rd.must_sync)
//     3. send rd.messages_after_persist        (only now: they vouch for step 2)
//     4. apply rd.snapshot, then rd.committed_entries (calling ApplyConfChange for conf
//        change entries); serve rd.read_states once applied >= their index
//     5. node->Advance();
//
// Steps 1 and 2 may overlap (the leader sends MsgApp while its own fsync runs, thesis
// §10.2.1): the leader only counts its own log towards commitment once Advance() tells it
// the entries are durable. Between GetReady() and Advance() the caller may keep calling
// Tick/Step/Propose (e.g. while an asynchronous fsync is in flight); HasReady() stays
// false until Advance().
#ifndef KEEL_RAFT_RAWNODE_H_
#define KEEL_RAFT_RAWNODE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "raft/config.h"
#include "raft/progress.h"
#include "raft/raft.h"
#include "raft/raftpb/raft.pb.h"
#include "raft/read_only.h"

namespace keel::raft {

struct Ready {
  // Set when the leader or role changed. Volatile: never persisted.
  std::optional<SoftState> soft_state;
  // Set when term, vote or commit changed. Persist before messages_after_persist.
  std::optional<raftpb::HardState> hard_state;
  // ReadIndex results; serve each once the applied index reaches its `index`.
  std::vector<ReadState> read_states;
  // Entries to append to stable storage (replacing any suffix from entries[0].index on).
  std::vector<raftpb::Entry> entries;
  // A snapshot to persist and apply (the follower's log is replaced by it).
  std::optional<raftpb::Snapshot> snapshot;
  // Committed entries to apply to the state machine, in order. They may include entries
  // from `entries` above: persist first, then apply.
  std::vector<raftpb::Entry> committed_entries;
  // Messages that may be sent immediately, even before persisting (appends, heartbeats,
  // vote requests, forwarded proposals). A MsgSnap among them must be followed by
  // ReportSnapshot().
  std::vector<raftpb::Message> messages;
  // Messages to send only after hard_state/entries/snapshot are durable: vote grants and
  // rejections, append acknowledgements.
  std::vector<raftpb::Message> messages_after_persist;
  // Whether hard_state/entries/snapshot must be fsynced (term, vote or log changed) before
  // messages_after_persist go out. Commit-only changes need not be synced.
  bool must_sync = false;
};

// Leader's view of a peer, for Status().
struct PeerStatus {
  uint64_t match = 0;
  uint64_t next = 0;
  ProgressState state = ProgressState::kProbe;
  bool is_learner = false;
  bool recent_active = false;
  bool paused = false;
  size_t inflight_count = 0;
};

struct NodeStatus {
  uint64_t id = 0;
  uint64_t term = 0;
  uint64_t vote = 0;
  uint64_t commit = 0;
  uint64_t applied = 0;
  uint64_t lead = 0;
  StateType role = StateType::kFollower;
  uint64_t lead_transferee = 0;
  raftpb::ConfState conf_state;
  // Only filled on the leader, ordered by id.
  std::map<uint64_t, PeerStatus> progress;
  std::string ToString() const;
};

class RawNode {
 public:
  // Validates `c`, reads the initial state from c.storage and starts as a follower.
  static absl::StatusOr<std::unique_ptr<RawNode>> Create(Config c);

  // One unit of logical time (heartbeat / election timers).
  void Tick();
  // Starts an election now (PreVote first if configured).
  absl::Status Campaign();
  // Proposes `data` for the log. ErrProposalDropped if it could not be appended or
  // forwarded. Success does not mean it will commit: watch committed entries.
  absl::Status Propose(std::string_view data);
  // Proposes several entries at once (group commit): one log append and one MsgApp per
  // follower for the whole batch instead of one per entry. All or nothing: either every
  // entry is appended (or forwarded) or the batch is dropped with an error. Taken by
  // value: the payloads are moved into the entries, not copied.
  absl::Status ProposeBatch(std::vector<std::string> data);
  // Proposes a membership change (V1: one change; V2: joint consensus when it has more
  // than one change or asks for it).
  absl::Status ProposeConfChange(const raftpb::ConfChange& cc);
  absl::Status ProposeConfChange(const raftpb::ConfChangeV2& cc);
  // Applies a committed membership change; call while applying its entry. Returns the
  // new configuration, or an error (configuration unchanged) if it is invalid.
  absl::StatusOr<raftpb::ConfState> ApplyConfChange(const raftpb::ConfChange& cc);
  absl::StatusOr<raftpb::ConfState> ApplyConfChange(const raftpb::ConfChangeV2& cc);
  // Feeds a message received from a peer. Local-only message types are refused, as are
  // responses from peers outside the configuration.
  absl::Status Step(raftpb::Message m);
  // Requests a linearizable read; the answer arrives as a ReadState carrying `ctx`
  // (which must be unique per outstanding request).
  absl::Status ReadIndex(std::string_view ctx);
  // Asks the leader to hand leadership to `transferee`.
  void TransferLeader(uint64_t transferee);
  // The transport could not reach `id` (makes the leader probe it again).
  void ReportUnreachable(uint64_t id);
  // Outcome of sending a snapshot to `id`.
  void ReportSnapshot(uint64_t id, bool ok);

  // Whether GetReady() would return something to do. False while a Ready is outstanding.
  bool HasReady() const;
  // Takes the next Ready. Requires HasReady() (or at least no outstanding Ready).
  Ready GetReady();
  // Acknowledges the outstanding Ready: persisted, sent and applied.
  void Advance();

  NodeStatus GetStatus() const;
  // Direct access for tests and tools; do not mutate through it.
  const Raft& raft() const { return *raft_; }
  Raft& mutable_raft_for_testing() { return *raft_; }

 private:
  explicit RawNode(std::unique_ptr<Raft> raft);

  std::unique_ptr<Raft> raft_;
  SoftState prev_soft_state_;
  raftpb::HardState prev_hard_state_;
  // What the outstanding Ready (if any) covered, for Advance().
  struct InFlight {
    uint64_t last_entry_index = 0;
    uint64_t last_entry_term = 0;
    uint64_t snapshot_index = 0;
    uint64_t applied_to = 0;
    std::vector<raftpb::Message> self_messages;  // Delivered on Advance.
    uint64_t committed_payload_bytes = 0;
  };
  std::optional<InFlight> in_flight_;
};

}  // namespace keel::raft

#endif  // KEEL_RAFT_RAWNODE_H_
