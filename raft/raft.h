// Raft: the consensus state machine itself (the paper's Figure 2 plus the thesis'
// extensions). Pure: Step() and Tick() mutate state and queue outgoing messages; nothing
// here performs I/O, reads a clock or draws randomness except through Config::random.
//
// Most callers want RawNode (rawnode.h), which wraps this in the Ready/Advance protocol.
// Tests use Raft directly to inspect internal state.
//
// Structure (as in etcd-io/raft): all term handling happens at the top of Step(); then the
// message goes to the handler of the current role (StepLeader / StepCandidate /
// StepFollower). Role changes go through Become*(), which also swap the tick function.
#ifndef KEEL_RAFT_RAFT_H_
#define KEEL_RAFT_RAFT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "raft/config.h"
#include "raft/confchange.h"
#include "raft/raft_log.h"
#include "raft/raftpb/raft.pb.h"
#include "raft/read_only.h"
#include "raft/tracker.h"

namespace keel::raft {

enum class StateType { kFollower, kCandidate, kLeader, kPreCandidate };
const char* StateTypeName(StateType s);

// Volatile state that callers may want to observe (not persisted).
struct SoftState {
  uint64_t lead = 0;
  StateType state = StateType::kFollower;
  bool operator==(const SoftState& o) const { return lead == o.lead && state == o.state; }
  bool operator!=(const SoftState& o) const { return !(*this == o); }
};

// Whether a message type is generated locally (never sent over the network).
bool IsLocalMsg(raftpb::MessageType t);
// Whether a message type is a response (only accepted from known peers).
bool IsResponseMsg(raftpb::MessageType t);

class Raft {
 public:
  // `c` must have passed ValidateConfig. Fails if storage cannot be read or describes an
  // invalid configuration.
  static absl::StatusOr<std::unique_ptr<Raft>> Create(const Config& c);

  // Feeds one message (from the network or a local one such as MsgHup/MsgProp).
  absl::Status Step(raftpb::Message m);
  // Advances logical time by one tick (election or heartbeat timer).
  void Tick();
  // Applies a committed configuration change; the caller calls this while applying the
  // entry that carries it. Returns the new ConfState, or an error (config unchanged) if
  // the change is invalid in the current configuration.
  absl::StatusOr<raftpb::ConfState> ApplyConfChange(const raftpb::ConfChangeV2& cc);

  // ---- The Ready protocol, used by RawNode. ----
  // Messages that may be sent immediately (they do not vouch for local durable state).
  std::vector<raftpb::Message>& msgs() { return msgs_; }
  // Messages that vouch for local state (votes, append acks): sendable only once the
  // state they follow is persisted. Includes self-addressed acks.
  std::vector<raftpb::Message>& msgs_after_append() { return msgs_after_append_; }
  std::vector<ReadState>& read_states() { return read_states_; }
  bool HasPendingMessagesOrReads() const {
    return !msgs_.empty() || !msgs_after_append_.empty() || !read_states_.empty();
  }
  // Called once committed entries with this much payload were handed out for applying.
  void ReduceUncommittedSize(uint64_t payload_bytes);
  // Called once the caller has applied up to `applied` (entries and/or snapshot).
  void AppliedTo(uint64_t applied);
  RaftLog& mutable_log() { return log_; }

  // ---- Observers. ----
  uint64_t id() const { return id_; }
  uint64_t term() const { return term_; }
  uint64_t vote() const { return vote_; }
  uint64_t lead() const { return lead_; }
  StateType state() const { return state_; }
  bool is_learner() const { return is_learner_; }
  uint64_t lead_transferee() const { return lead_transferee_; }
  uint64_t pending_conf_index() const { return pending_conf_index_; }
  uint64_t uncommitted_size() const { return uncommitted_size_; }
  int election_elapsed() const { return election_elapsed_; }
  int randomized_election_timeout() const { return randomized_election_timeout_; }
  const RaftLog& log() const { return log_; }
  const ProgressTracker& tracker() const { return tracker_; }
  const ReadOnly& read_only() const { return read_only_; }
  SoftState soft_state() const { return {lead_, state_}; }
  raftpb::HardState hard_state() const;

  // ---- Test hooks: force a role, as etcd's tests do. ----
  void BecomeFollower(uint64_t term, uint64_t lead);
  void BecomeCandidate();
  void BecomePreCandidate();
  void BecomeLeader();
  // Overrides the randomized timeout (tests that need a specific election order).
  void SetRandomizedElectionTimeout(int ticks) { randomized_election_timeout_ = ticks; }

 private:
  enum class CampaignType { kPreElection, kElection, kTransfer };

  explicit Raft(const Config& c);

  // Term handling common to every role (§5.1): may step down to follower. Returns false
  // if the message is stale or must be ignored.
  bool HandleTerm(const raftpb::Message& m);
  absl::Status StepLeader(raftpb::Message& m);
  absl::Status StepCandidate(raftpb::Message& m);
  absl::Status StepFollower(raftpb::Message& m);
  absl::Status StepLeaderProposal(raftpb::Message& m);
  void StepLeaderAppendResponse(const raftpb::Message& m, Progress& pr);
  void StepLeaderHeartbeatResponse(const raftpb::Message& m, Progress& pr);
  void StepLeaderTransfer(const raftpb::Message& m, Progress& pr);
  void HandleVoteRequest(const raftpb::Message& m);
  void HandleAppendEntries(raftpb::Message& m);
  void HandleHeartbeat(const raftpb::Message& m);
  void HandleSnapshot(raftpb::Message& m);
  bool Restore(raftpb::Snapshot s);

  void TickElection();
  void TickHeartbeat();
  void Hup(CampaignType t);
  void Campaign(CampaignType t);
  VoteResult Poll(uint64_t id, raftpb::MessageType t, bool granted);
  void Reset(uint64_t term);
  void ResetRandomizedElectionTimeout();
  bool PastElectionTimeout() const { return election_elapsed_ >= randomized_election_timeout_; }
  bool Promotable() const;
  void LoadState(const raftpb::HardState& hs);

  void Send(raftpb::Message m);
  void SendAppend(uint64_t to) { MaybeSendAppend(to, /*send_if_empty=*/true); }
  bool MaybeSendAppend(uint64_t to, bool send_if_empty);
  bool MaybeSendSnapshot(uint64_t to, Progress& pr);
  void SendHeartbeat(uint64_t to, const std::string& ctx);
  void SendTimeoutNow(uint64_t to);
  void BcastAppend();
  void BcastHeartbeat();
  void BcastHeartbeatWithCtx(const std::string& ctx);
  bool AppendEntries(std::vector<raftpb::Entry> entries);
  bool MaybeCommit();
  bool CommittedEntryInCurrentTerm() const;
  void ReleasePendingReadIndexMessages();
  void SendReadIndexResponse(const raftpb::Message& m);
  void RespondToReadIndexReq(const raftpb::Message& req, uint64_t read_index);
  bool IncreaseUncommittedSize(const std::vector<raftpb::Entry>& entries);
  raftpb::ConfState SwitchToConfig(ConfigAndProgress cp);
  void AbortLeaderTransfer() { lead_transferee_ = kNoneId; }

  bool logging() const { return static_cast<bool>(logger_); }
  void Log(std::string_view line) const { logger_(line); }

  static constexpr uint64_t kNoneId = 0;

  // Constant after construction.
  const uint64_t id_;
  const uint64_t max_msg_size_bytes_;
  const uint64_t max_uncommitted_size_bytes_;
  const bool check_quorum_;
  const bool pre_vote_;
  const bool disable_proposal_forwarding_;
  const int heartbeat_timeout_;
  const int election_timeout_;
  // Exclusive upper end of randomized_election_timeout_; >= election_timeout_.
  const int election_timeout_max_;
  RandomSource* const random_;
  const env::BugSwitches bugs_;  // all off outside keelsim's bug zoo
  const std::function<void(std::string_view)> logger_;

  // Persistent state (HardState): term_, vote_ and log_.committed().
  uint64_t term_ = 0;
  uint64_t vote_ = kNoneId;
  RaftLog log_;

  // Volatile state.
  StateType state_ = StateType::kFollower;
  bool is_learner_ = false;
  uint64_t lead_ = kNoneId;
  // Target of an in-progress leadership transfer (thesis §3.10); proposals are refused
  // while it is set.
  uint64_t lead_transferee_ = kNoneId;
  // Index of the latest conf change appended by this leader; only one may be pending
  // (unapplied) at a time.
  uint64_t pending_conf_index_ = 0;
  // Payload bytes appended but not yet committed, for max_uncommitted_entries_size.
  uint64_t uncommitted_size_ = 0;
  ProgressTracker tracker_;
  ReadOnly read_only_;
  std::vector<ReadState> read_states_;
  // ReadIndex requests that arrived before this leader committed an entry of its term.
  std::vector<raftpb::Message> pending_read_index_messages_;
  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  int randomized_election_timeout_ = 0;

  std::vector<raftpb::Message> msgs_;
  std::vector<raftpb::Message> msgs_after_append_;
};

}  // namespace keel::raft

#endif  // KEEL_RAFT_RAFT_H_
