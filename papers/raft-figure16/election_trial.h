// One trial of the Raft paper's leader-election experiment (§9.3, Figure 16), run on our
// RawNode inside a sim::World.
//
// Scenario (see README.md for why each choice):
//  1. Five servers start with empty logs; server 1 campaigns at t=0 (with short timeouts
//     another server may win instead: whoever leads first is "the leader" below).
//  2. The leader receives `entries` proposals, one every 5 ms. Meanwhile two randomly
//     chosen followers of it lose every MsgApp that would extend their log beyond a
//     per-follower cutoff, so at the crash the logs have different lengths and those two followers
//     cannot win an election (the paper: "some candidates were not eligible").
//  3. Once the cluster is quiet and every follower follows the leader, the trial waits for
//     the leader's next heartbeat broadcast and crashes the leader at a time uniform in
//     [0, heartbeat interval) after it. The append-dropping stops at the crash.
//  4. Downtime = from the crash until one server is leader of some term T and every
//     surviving server has term T and knows that leader (it accepted an AppendEntries or
//     heartbeat from it). `elected_ns` is the shorter "some server won the vote".
//
// Time: ticks of `tick_ns` per server with a random phase; election_tick = min timeout in
// ticks, heartbeat_tick = election_tick / 2. Network: one-way latency uniform in
// [latency_min_ns, latency_max_ns]; no loss. Persistence is instantaneous (MemoryStorage).
// Everything random is drawn from World::NewRng streams, so a trial is a pure function of
// (options, seed).
#ifndef KEEL_PAPERS_RAFT_FIGURE16_ELECTION_TRIAL_H_
#define KEEL_PAPERS_RAFT_FIGURE16_ELECTION_TRIAL_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace keel::papers {

struct TimeoutRange {
  int min_ms = 150;
  int max_ms = 300;
  // "150-155", the label used in the paper and in figure16.csv.
  std::string Label() const;
};

struct TrialOptions {
  TimeoutRange timeout;
  int num_servers = 5;
  // Tick length. 0.1 ms resolves the 1 ms of randomness in "150-151".
  int64_t tick_ns = 100'000;
  // One-way latency, uniform: mean 7.5 ms, so a round trip (the paper's broadcast time)
  // averages 15 ms.
  int64_t latency_min_ns = 5'000'000;
  int64_t latency_max_ns = 10'000'000;
  // Followers whose logs are kept short, and proposals during warm-up.
  int lagging_followers = 2;
  int entries = 20;
  int64_t proposal_interval_ns = 5'000'000;
  // Raft's PreVote (thesis §9.6), off in the paper. With it, a follower whose log is too
  // short to win cannot bump everyone's term (which resets their election timers).
  bool pre_vote = false;
  // A trial that has no established leader this long after the crash fails.
  int64_t max_downtime_ns = int64_t{600} * 1'000'000'000;
};

struct TrialResult {
  // Crash until a leader is known to every survivor (the figure's quantity).
  int64_t downtime_ns = 0;
  // Crash until some server became leader.
  int64_t elected_ns = 0;
  // Crash time minus the leader's last heartbeat broadcast; in [0, heartbeat interval).
  int64_t crash_offset_ns = 0;
  uint64_t old_leader = 0;
  uint64_t new_leader = 0;
  uint64_t old_term = 0;
  uint64_t new_term = 0;
  // Candidacies started after the crash (1 = no split vote).
  int elections = 0;
  // Last log index and term of servers 1..n at the moment of the crash.
  std::vector<uint64_t> last_index_at_crash;
  std::vector<uint64_t> last_term_at_crash;
};

// Runs one trial. `json_trace`, if non-null, receives the sim trace as JSON lines (schema:
// papers/viz/TRACE_SCHEMA.md). Fails (InvalidArgument) on options RawNode cannot express,
// or (DeadlineExceeded / Internal) if the cluster never stabilised or never re-elected.
absl::StatusOr<TrialResult> RunElectionTrial(const TrialOptions& options, uint64_t seed,
                                             std::ostream* json_trace = nullptr);

}  // namespace keel::papers

#endif  // KEEL_PAPERS_RAFT_FIGURE16_ELECTION_TRIAL_H_
