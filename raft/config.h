// Config: everything a Raft node is parameterised by. Validated by RawNode::Create.
#ifndef KEEL_RAFT_CONFIG_H_
#define KEEL_RAFT_CONFIG_H_

#include <cstdint>
#include <functional>
#include <string_view>

#include "absl/status/status.h"
#include "env/bug_switches.h"
#include "raft/random_source.h"
#include "raft/read_only.h"
#include "raft/storage.h"

namespace keel::raft {

// Bound on election_tick_max / election_tick: far beyond any useful spread, and keeps
// election_tick_max well inside an int.
inline constexpr int kMaxElectionTickSpread = 100;

struct Config {
  // This node's id; non-zero.
  uint64_t id = 0;
  // Ticks without hearing from a leader before a follower campaigns. The actual timeout is
  // drawn uniformly from the half-open range [election_tick, election_tick_max) after every
  // reset (§5.2); election_tick_max == election_tick means a fixed timeout, no draw.
  int election_tick = 10;
  // Exclusive upper end of the randomized election timeout, in ticks. 0 means
  // 2*election_tick (etcd's and the paper's [T, 2T), and exactly the draws of before this
  // field existed). Otherwise election_tick <= election_tick_max <=
  // kMaxElectionTickSpread * election_tick. The Raft paper's Figure 16 ranges ("150-155 ms")
  // need it: their width is not their minimum.
  int election_tick_max = 0;
  // Ticks between leader heartbeats. Must be < election_tick.
  int heartbeat_tick = 1;
  // The stable log. Not owned; must outlive the node. Required.
  Storage* storage = nullptr;
  // The last applied index, when restarting (entries <= applied are not handed out again).
  uint64_t applied = 0;
  // Upper bound on the entries of one MsgApp (bytes, see EntrySizeBytes). 0 means at most
  // one entry per message; kNoLimit means no limit.
  uint64_t max_size_per_msg = 1 << 20;
  // Upper bound on committed entries in one Ready. 0 means max_size_per_msg.
  uint64_t max_committed_size_per_ready = 0;
  // Upper bound on the payload of appended-but-uncommitted entries on the leader; beyond it
  // proposals fail with ErrProposalDropped. 0 means no limit.
  uint64_t max_uncommitted_entries_size = 0;
  // Max MsgApp in flight to one follower in StateReplicate. > 0.
  int max_inflight_msgs = 256;
  // Max bytes of entries in flight to one follower. 0 means no limit; else >= max_size_per_msg.
  uint64_t max_inflight_bytes = 0;
  // Leader steps down when it has not heard from a quorum within an election timeout, and
  // followers ignore votes while they hear from a leader (thesis §6.2).
  bool check_quorum = false;
  // Run a pre-election before incrementing the term (thesis §9.6).
  bool pre_vote = false;
  // How ReadIndex is served. kLeaseBased requires check_quorum.
  ReadOnlyOption read_only_option = ReadOnlyOption::kSafe;
  // Followers refuse proposals instead of forwarding them to the leader.
  bool disable_proposal_forwarding = false;
  // Source of election-timeout randomness. Not owned; required.
  RandomSource* random = nullptr;
  // Optional debug log sink (one line per call, no trailing newline). Off when empty.
  std::function<void(std::string_view)> logger;

  // keelsim's bug zoo (env/bug_switches.h): deliberate, classic Raft bugs the simulator
  // must catch. All off unless sim/ turned one on; keeld never can. Raft reads
  // kRaftCommitOldTerm (commit earlier terms' entries by counting, Figure 8),
  // kRaftSkipAppendCheck (accept appends whose previous entry does not match) and
  // kRaftVoteAnyLog (grant votes without the up-to-date check, §5.4.1) and
  // kRaftLearnerAcksCount (a learner's ack stands in for a voter's in the commit quorum).
  env::BugSwitches bugs;
};

// Checks `c` and replaces the "0 means default" values with their effective values.
absl::Status ValidateConfig(Config* c);

}  // namespace keel::raft

#endif  // KEEL_RAFT_CONFIG_H_
