// Tests named after the sections of the Raft paper ("In Search of an Understandable
// Consensus Algorithm", extended version) whose sentences they check. Adapted from
// etcd-io/raft's raft_paper_test.go. Nodes are driven directly (no RawNode); Persist()
// stands in for the caller persisting a Ready and acknowledging it.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "raft/entry_util.h"
#include "raft/errors.h"
#include "raft/raft.h"
#include "raft/testing/test_util.h"

namespace keel::raft {
namespace {

using testing::MakeEntry;
using testing::MakeMsg;
using testing::Network;
using testing::NewTestRaft;
using testing::Persist;
using testing::ReadMessages;
using testing::TestNode;

std::unique_ptr<MemoryStorage> StorageWith(const std::vector<raftpb::Entry>& entries,
                                           uint64_t term = 0, uint64_t vote = 0,
                                           uint64_t commit = 0,
                                           std::vector<uint64_t> voters = {1, 2, 3}) {
  auto s = std::make_unique<MemoryStorage>();
  raftpb::ConfState cs;
  for (uint64_t v : voters) cs.add_voters(v);
  s->SetInitialConfState(cs);
  EXPECT_TRUE(s->Append(entries).ok());
  raftpb::HardState hs;
  hs.set_term(term);
  hs.set_vote(vote);
  hs.set_commit(commit);
  s->SetHardState(hs);
  return s;
}

std::vector<std::pair<uint64_t, uint64_t>> IndexTerms(const std::vector<raftpb::Entry>& es) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (const auto& e : es) out.emplace_back(e.index(), e.term());
  return out;
}

void BecomeLeader(TestNode& n) {
  n->BecomeCandidate();
  n->BecomeLeader();
  ReadMessages(n);  // Drop the initial appends; persist the empty entry.
}

// Makes a leader commit its empty entry by acknowledging it from every peer.
void CommitNoopEntry(TestNode& n) {
  ASSERT_EQ(n->state(), StateType::kLeader);
  for (const auto& [id, pr] : n->tracker().progress) {
    if (id == n->id()) continue;
    raftpb::Message ack = MakeMsg(id, n->id(), raftpb::MsgAppResp, n->term());
    ack.set_index(n->log().LastIndex());
    ASSERT_TRUE(n->Step(ack).ok());
  }
  ReadMessages(n);
  n->AppliedTo(n->log().committed());
}

// ---------------------------------------------------------------------------------------
// §5.1 Raft basics
// ---------------------------------------------------------------------------------------

// "If one server's current term is smaller than the other's, then it updates its current
// term to the larger value. If a candidate or leader discovers that its term is out of
// date, it immediately reverts to follower state."
void CheckUpdateTermFromMessage(StateType state) {
  TestNode r = NewTestRaft(1, 10, 1, {1, 2, 3});
  if (state == StateType::kFollower) {
    r->BecomeFollower(1, 2);
  } else {
    r->BecomeCandidate();
    if (state == StateType::kLeader) r->BecomeLeader();
  }
  ASSERT_TRUE(r->Step(MakeMsg(2, 1, raftpb::MsgApp, 2)).ok());
  EXPECT_EQ(r->term(), 2u);
  EXPECT_EQ(r->state(), StateType::kFollower);
}

TEST(Paper_5_1_Basics, FollowerUpdatesTermFromMessage) {
  CheckUpdateTermFromMessage(StateType::kFollower);
}
TEST(Paper_5_1_Basics, CandidateUpdatesTermFromMessage) {
  CheckUpdateTermFromMessage(StateType::kCandidate);
}
TEST(Paper_5_1_Basics, LeaderUpdatesTermFromMessage) {
  CheckUpdateTermFromMessage(StateType::kLeader);
}

// "If a server receives a request with a stale term number, it rejects the request."
TEST(Paper_5_1_Basics, RejectsStaleTermMessage) {
  TestNode r = NewTestRaft(1, 10, 1, {1, 2, 3}, nullptr, StorageWith({}, 2));
  raftpb::Message m = MakeMsg(2, 1, raftpb::MsgApp, 1);
  *m.add_entries() = MakeEntry(1, 1, "stale");
  ASSERT_TRUE(r->Step(m).ok());
  EXPECT_EQ(r->term(), 2u);
  EXPECT_EQ(r->log().LastIndex(), 0u);
  EXPECT_TRUE(ReadMessages(r).empty());
}

// "When servers start up, they begin as followers."
TEST(Paper_5_1_Basics, StartsAsFollower) {
  TestNode r = NewTestRaft(1, 10, 1, {1, 2, 3});
  EXPECT_EQ(r->state(), StateType::kFollower);
  EXPECT_EQ(r->term(), 0u);
}

// "Leaders send periodic heartbeats (AppendEntries RPCs that carry no log entries) to all
// followers in order to maintain their authority."
TEST(Paper_5_1_Basics, LeaderBroadcastsHeartbeats) {
  const int hi = 1;
  TestNode r = NewTestRaft(1, 10, hi, {1, 2, 3});
  BecomeLeader(r);
  for (int i = 0; i < hi; ++i) r->Tick();
  std::vector<raftpb::Message> msgs = ReadMessages(r);
  ASSERT_EQ(msgs.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(msgs[i].type(), raftpb::MsgHeartbeat);
    EXPECT_EQ(msgs[i].to(), 2 + i);
    EXPECT_EQ(msgs[i].term(), 1u);
    EXPECT_EQ(msgs[i].entries_size(), 0);
    EXPECT_EQ(msgs[i].commit(), 0u);  // Followers are not known to hold anything yet.
  }
}

// ---------------------------------------------------------------------------------------
// §5.2 Leader election
// ---------------------------------------------------------------------------------------

// "If a follower receives no communication over a period of time called the election
// timeout, then it assumes there is no viable leader and begins an election. To begin an
// election, a follower increments its current term and transitions to candidate state.
// It then votes for itself and issues RequestVote RPCs in parallel to each of the other
// servers." Same for a candidate whose election timed out.
void CheckNonLeaderStartsElection(StateType state) {
  TestNode r = NewTestRaft(1, 10, 1, {1, 2, 3});
  if (state == StateType::kFollower) {
    r->BecomeFollower(1, 2);
  } else {
    r->BecomeFollower(0, 0);
    r->BecomeCandidate();
  }
  for (int i = 1; i < 2 * 10; ++i) r->Tick();
  std::vector<raftpb::Message> msgs = ReadMessages(r);
  EXPECT_EQ(r->term(), 2u);
  EXPECT_EQ(r->state(), StateType::kCandidate);
  EXPECT_EQ(r->vote(), 1u);
  ASSERT_EQ(msgs.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(msgs[i].type(), raftpb::MsgVote);
    EXPECT_EQ(msgs[i].to(), 2 + i);
    EXPECT_EQ(msgs[i].term(), 2u);
  }
}

TEST(Paper_5_2_Election, FollowerStartsElectionAfterTimeout) {
  CheckNonLeaderStartsElection(StateType::kFollower);
}
TEST(Paper_5_2_Election, CandidateStartsNewElectionAfterTimeout) {
  CheckNonLeaderStartsElection(StateType::kCandidate);
}

// "A candidate wins an election if it receives votes from a majority of the servers in
// the full cluster for the same term." / "If the candidate receives no response for a
// while ... it stays a candidate" / a majority of rejections sends it back to follower.
TEST(Paper_5_2_Election, LeaderElectionInOneRoundRPC) {
  struct Case {
    int size;
    std::map<uint64_t, bool> votes;
    StateType want;
  };
  const std::vector<Case> cases = {
      {1, {}, StateType::kLeader},
      {3, {{2, true}, {3, true}}, StateType::kLeader},
      {3, {{2, true}}, StateType::kLeader},
      {5, {{2, true}, {3, true}, {4, true}, {5, true}}, StateType::kLeader},
      {5, {{2, true}, {3, true}, {4, true}}, StateType::kLeader},
      {5, {{2, true}, {3, true}}, StateType::kLeader},
      {3, {{2, false}, {3, false}}, StateType::kFollower},
      {5, {{2, false}, {3, false}, {4, false}, {5, false}}, StateType::kFollower},
      {5, {{2, true}, {3, false}, {4, false}, {5, false}}, StateType::kFollower},
      {3, {}, StateType::kCandidate},
      {5, {{2, true}}, StateType::kCandidate},
      {5, {{2, false}, {3, false}}, StateType::kCandidate},
      {5, {}, StateType::kCandidate},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    std::vector<uint64_t> ids;
    for (int k = 1; k <= cases[i].size; ++k) ids.push_back(static_cast<uint64_t>(k));
    TestNode r = NewTestRaft(1, 10, 1, ids);
    ASSERT_TRUE(r->Step(MakeMsg(1, 1, raftpb::MsgHup)).ok());
    Persist(r);  // Our own vote counts once persisted.
    for (const auto& [id, granted] : cases[i].votes) {
      raftpb::Message m = MakeMsg(id, 1, raftpb::MsgVoteResp, r->term());
      m.set_reject(!granted);
      ASSERT_TRUE(r->Step(m).ok());
    }
    EXPECT_EQ(r->state(), cases[i].want) << "case " << i;
    EXPECT_EQ(r->term(), 1u) << "case " << i;
  }
}

// "Each server will vote for at most one candidate in a given term, on a first-come-first-
// served basis."
TEST(Paper_5_2_Election, FollowerVotesOncePerTerm) {
  struct Case {
    uint64_t vote, nvote;
    bool want_reject;
  };
  const std::vector<Case> cases = {{0, 2, false}, {0, 3, false}, {2, 2, false},
                                   {3, 3, false}, {2, 3, true},  {3, 2, true}};
  for (size_t i = 0; i < cases.size(); ++i) {
    TestNode r = NewTestRaft(1, 10, 1, {1, 2, 3}, nullptr, StorageWith({}, 1, cases[i].vote));
    ASSERT_TRUE(r->Step(MakeMsg(cases[i].nvote, 1, raftpb::MsgVote, 1)).ok());
    std::vector<raftpb::Message> msgs = ReadMessages(r);
    ASSERT_EQ(msgs.size(), 1u) << "case " << i;
    EXPECT_EQ(msgs[0].type(), raftpb::MsgVoteResp);
    EXPECT_EQ(msgs[0].to(), cases[i].nvote);
    EXPECT_EQ(msgs[0].term(), 1u);
    EXPECT_EQ(msgs[0].reject(), cases[i].want_reject) << "case " << i;
  }
}

// "While waiting for votes, a candidate may receive an AppendEntries RPC from another
// server claiming to be leader. If the leader's term is at least as large as the
// candidate's current term, then the candidate recognizes the leader as legitimate and
// returns to follower state."
TEST(Paper_5_2_Election, CandidateFallsBackToLegitimateLeader) {
  for (uint64_t term : {1u, 2u}) {
    TestNode r = NewTestRaft(1, 10, 1, {1, 2, 3});
    ASSERT_TRUE(r->Step(MakeMsg(1, 1, raftpb::MsgHup)).ok());
    ASSERT_EQ(r->state(), StateType::kCandidate);
    ASSERT_TRUE(r->Step(MakeMsg(2, 1, raftpb::MsgApp, term)).ok());
    EXPECT_EQ(r->state(), StateType::kFollower);
    EXPECT_EQ(r->term(), term);
    EXPECT_EQ(r->lead(), 2u);
  }
}

// "Raft uses randomized election timeouts to ensure that split votes are rare ... election
// timeouts are chosen randomly from a fixed interval."
void CheckTimeoutRandomized(StateType state) {
  const int et = 10;
  TestNode r = NewTestRaft(1, et, 1, {1, 2, 3});
  std::set<int> timeouts;
  for (int round = 0; round < 50 * et; ++round) {
    if (state == StateType::kFollower) {
      r->BecomeFollower(r->term() + 1, 2);
    } else {
      r->BecomeCandidate();
    }
    ReadMessages(r);
    int time = 0;
    while (ReadMessages(r).empty()) {
      r->Tick();
      ++time;
      ASSERT_LT(time, 2 * et + 1) << "election timeout beyond 2x election tick";
    }
    timeouts.insert(time);
  }
  for (int d = et; d < 2 * et; ++d) EXPECT_EQ(timeouts.count(d), 1u) << "never saw timeout " << d;
  EXPECT_EQ(*timeouts.begin(), et);
  EXPECT_EQ(*timeouts.rbegin(), 2 * et - 1);
}

TEST(Paper_5_2_Election, FollowerElectionTimeoutIsRandomized) {
  CheckTimeoutRandomized(StateType::kFollower);
}
TEST(Paper_5_2_Election, CandidateElectionTimeoutIsRandomized) {
  CheckTimeoutRandomized(StateType::kCandidate);
}

// "In most cases only a single server (follower or candidate) will time out."
TEST(Paper_5_2_Election, ElectionTimeoutsRarelyConflict) {
  const int et = 10, size = 5;
  std::vector<TestNode> nodes;
  for (uint64_t id = 1; id <= size; ++id) nodes.push_back(NewTestRaft(id, et, 1, {1, 2, 3, 4, 5}));
  int conflicts = 0;
  const int rounds = 1000;
  for (int round = 0; round < rounds; ++round) {
    for (auto& n : nodes) n->BecomeFollower(n->term() + 1, 0);
    int timed_out = 0;
    while (timed_out == 0) {
      for (auto& n : nodes) {
        n->Tick();
        if (!ReadMessages(n).empty()) ++timed_out;
      }
    }
    if (timed_out > 1) ++conflicts;
  }
  EXPECT_LE(static_cast<double>(conflicts) / rounds, 0.3);
}

// ---------------------------------------------------------------------------------------
// §5.3 Log replication
// ---------------------------------------------------------------------------------------

// "The leader appends the command to its log as a new entry, then issues AppendEntries
// RPCs in parallel to each of the other servers to replicate the entry."
TEST(Paper_5_3_Replication, LeaderStartsReplication) {
  TestNode r = NewTestRaft(1, 10, 1, {1, 2, 3});
  BecomeLeader(r);
  CommitNoopEntry(r);
  const uint64_t li = r->log().LastIndex();
  raftpb::Message prop = MakeMsg(1, 1, raftpb::MsgProp);
  prop.add_entries()->set_data("some data");
  ASSERT_TRUE(r->Step(prop).ok());
  EXPECT_EQ(r->log().LastIndex(), li + 1);
  ASSERT_EQ(r->log().UnstableEntries().size(), 1u);
  std::vector<raftpb::Message> msgs = ReadMessages(r);
  ASSERT_EQ(msgs.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(msgs[i].type(), raftpb::MsgApp);
    EXPECT_EQ(msgs[i].to(), 2 + i);
    EXPECT_EQ(msgs[i].index(), li);
    EXPECT_EQ(msgs[i].logterm(), 1u);
    EXPECT_EQ(msgs[i].commit(), li);
    ASSERT_EQ(msgs[i].entries_size(), 1);
    EXPECT_EQ(msgs[i].entries(0).data(), "some data");
    EXPECT_EQ(msgs[i].entries(0).index(), li + 1);
  }
}

// "A log entry is committed once the leader that created the entry has replicated it on
// a majority of the servers." and the leader then tells followers the commit index.
TEST(Paper_5_3_Replication, LeaderCommitsEntryOnMajority) {
  TestNode r = NewTestRaft(1, 10, 1, {1, 2, 3});
  BecomeLeader(r);
  CommitNoopEntry(r);
  const uint64_t li = r->log().LastIndex();
  raftpb::Message prop = MakeMsg(1, 1, raftpb::MsgProp);
  prop.add_entries()->set_data("some data");
  ASSERT_TRUE(r->Step(prop).ok());
  for (const auto& m : ReadMessages(r)) {
    raftpb::Message ack = MakeMsg(m.to(), 1, raftpb::MsgAppResp, m.term());
    ack.set_index(m.index() + m.entries_size());
    ASSERT_TRUE(r->Step(ack).ok());
  }
  EXPECT_EQ(r->log().committed(), li + 1);
  std::vector<raftpb::Entry> next = r->log().NextCommittedEntries();
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].data(), "some data");
  std::vector<raftpb::Message> msgs = ReadMessages(r);
  ASSERT_EQ(msgs.size(), 2u);
  for (const auto& m : msgs) {
    EXPECT_EQ(m.type(), raftpb::MsgApp);
    EXPECT_EQ(m.commit(), li + 1);
  }
}

// "A log entry is committed once the leader that created the entry has replicated it on a
// majority of the servers."
TEST(Paper_5_3_Replication, LeaderAcknowledgesCommitOnlyWithMajority) {
  struct Case {
    int size;
    std::set<uint64_t> acceptors;
    bool want_commit;
  };
  const std::vector<Case> cases = {
      {1, {}, true},        {3, {}, false},          {3, {2}, true},
      {3, {2, 3}, true},    {5, {}, false},          {5, {2}, false},
      {5, {2, 3}, true},    {5, {2, 3, 4}, true},    {5, {2, 3, 4, 5}, true},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    std::vector<uint64_t> ids;
    for (int k = 1; k <= cases[i].size; ++k) ids.push_back(static_cast<uint64_t>(k));
    TestNode r = NewTestRaft(1, 10, 1, ids);
    BecomeLeader(r);
    CommitNoopEntry(r);
    const uint64_t li = r->log().LastIndex();
    raftpb::Message prop = MakeMsg(1, 1, raftpb::MsgProp);
    prop.add_entries()->set_data("some data");
    ASSERT_TRUE(r->Step(prop).ok());
    for (const auto& m : ReadMessages(r)) {
      if (cases[i].acceptors.count(m.to()) == 0) continue;
      raftpb::Message ack = MakeMsg(m.to(), 1, raftpb::MsgAppResp, m.term());
      ack.set_index(m.index() + m.entries_size());
      ASSERT_TRUE(r->Step(ack).ok());
    }
    EXPECT_EQ(r->log().committed() > li, cases[i].want_commit) << "case " << i;
  }
}

// "When the leader commits an entry, it also commits all preceding entries in its log,
// including entries created by previous leaders."
TEST(Paper_5_3_Replication, LeaderCommitsPrecedingEntries) {
  const std::vector<std::vector<raftpb::Entry>> cases = {
      {}, {MakeEntry(1, 2)}, {MakeEntry(1, 1), MakeEntry(2, 2)}, {MakeEntry(1, 1)}};
  for (size_t i = 0; i < cases.size(); ++i) {
    TestNode r = NewTestRaft(1, 10, 1, {1, 2, 3}, nullptr, StorageWith(cases[i], 2));
    r->BecomeCandidate();
    r->BecomeLeader();
    raftpb::Message prop = MakeMsg(1, 1, raftpb::MsgProp);
    prop.add_entries()->set_data("some data");
    ASSERT_TRUE(r->Step(prop).ok());
    for (const auto& m : ReadMessages(r)) {
      raftpb::Message ack = MakeMsg(m.to(), 1, raftpb::MsgAppResp, m.term());
      ack.set_index(cases[i].size() + 2);
      ASSERT_TRUE(r->Step(ack).ok());
    }
    const uint64_t li = cases[i].size();
    std::vector<raftpb::Entry> committed = r->log().NextCommittedEntries();
    ASSERT_EQ(committed.size(), li + 2) << "case " << i;
    EXPECT_EQ(committed[li].term(), 3u);
    EXPECT_EQ(committed[li + 1].data(), "some data");
  }
}

// "Once a follower learns that a log entry is committed, it applies the entry to its
// local state machine (in log order)."
TEST(Paper_5_3_Replication, FollowerCommitsEntry) {
  struct Case {
    std::vector<raftpb::Entry> entries;
    uint64_t commit;
  };
  const std::vector<Case> cases = {
      {{MakeEntry(1, 1, "some data")}, 1},
      {{MakeEntry(1, 1, "some data"), MakeEntry(2, 1, "some data2")}, 2},
      {{MakeEntry(1, 1, "some data2"), MakeEntry(2, 1, "some data")}, 2},
      {{MakeEntry(1, 1, "some data"), MakeEntry(2, 1, "some data2")}, 1},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    TestNode r = NewTestRaft(1, 10, 1, {1, 2, 3});
    r->BecomeFollower(1, 2);
    raftpb::Message m = MakeMsg(2, 1, raftpb::MsgApp, 1);
    m.set_commit(cases[i].commit);
    for (const auto& e : cases[i].entries) *m.add_entries() = e;
    ASSERT_TRUE(r->Step(m).ok());
    EXPECT_EQ(r->log().committed(), cases[i].commit) << "case " << i;
    std::vector<raftpb::Entry> next = r->log().NextCommittedEntries();
    ASSERT_EQ(next.size(), cases[i].commit);
    for (size_t k = 0; k < next.size(); ++k) {
      EXPECT_EQ(next[k].data(), cases[i].entries[k].data());
    }
  }
}

// "When sending an AppendEntries RPC, the leader includes the index and term of the entry
// in its log that immediately precedes the new entries. If the follower does not find an
// entry in its log with the same index and term, then it refuses the new entries."
TEST(Paper_5_3_Replication, FollowerChecksConsistencyOfAppend) {
  const std::vector<raftpb::Entry> ents = {MakeEntry(1, 1), MakeEntry(2, 2)};
  struct Case {
    uint64_t term, index, want_index;
    bool want_reject;
    uint64_t want_hint, want_logterm;
  };
  const std::vector<Case> cases = {
      {0, 0, 1, false, 0, 0},  // Matches the dummy entry before the log.
      {1, 1, 1, false, 0, 0},
      {2, 2, 2, false, 0, 0},
      {1, 2, 2, true, 1, 1},  // Term mismatch at an existing index.
      {2, 3, 3, true, 2, 2},  // Index beyond our log.
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    TestNode r = NewTestRaft(1, 10, 1, {1, 2, 3}, nullptr, StorageWith(ents, 0, 0, 1));
    r->BecomeFollower(2, 2);
    raftpb::Message m = MakeMsg(2, 1, raftpb::MsgApp, 2);
    m.set_logterm(cases[i].term);
    m.set_index(cases[i].index);
    ASSERT_TRUE(r->Step(m).ok());
    std::vector<raftpb::Message> msgs = ReadMessages(r);
    ASSERT_EQ(msgs.size(), 1u) << "case " << i;
    EXPECT_EQ(msgs[0].type(), raftpb::MsgAppResp);
    EXPECT_EQ(msgs[0].index(), cases[i].want_index) << "case " << i;
    EXPECT_EQ(msgs[0].reject(), cases[i].want_reject) << "case " << i;
    EXPECT_EQ(msgs[0].rejecthint(), cases[i].want_hint) << "case " << i;
    EXPECT_EQ(msgs[0].logterm(), cases[i].want_logterm) << "case " << i;
  }
}

// "If an existing entry conflicts with a new one (same index but different terms), delete
// the existing entry and all that follow it; append any new entries not already in the
// log."
TEST(Paper_5_3_Replication, FollowerAppendsAndTruncatesConflicts) {
  struct Case {
    uint64_t index, term;
    std::vector<raftpb::Entry> entries;
    std::vector<std::pair<uint64_t, uint64_t>> want_log;
    std::vector<std::pair<uint64_t, uint64_t>> want_unstable;
  };
  const std::vector<Case> cases = {
      {2, 2, {MakeEntry(3, 3)}, {{1, 1}, {2, 2}, {3, 3}}, {{3, 3}}},
      {1, 1, {MakeEntry(2, 3), MakeEntry(3, 4)}, {{1, 1}, {2, 3}, {3, 4}}, {{2, 3}, {3, 4}}},
      {0, 0, {MakeEntry(1, 1)}, {{1, 1}, {2, 2}}, {}},
      {0, 0, {MakeEntry(1, 3)}, {{1, 3}}, {{1, 3}}},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    TestNode r = NewTestRaft(1, 10, 1, {1, 2, 3}, nullptr,
                             StorageWith({MakeEntry(1, 1), MakeEntry(2, 2)}));
    r->BecomeFollower(2, 2);
    raftpb::Message m = MakeMsg(2, 1, raftpb::MsgApp, 2);
    m.set_logterm(cases[i].term);
    m.set_index(cases[i].index);
    for (const auto& e : cases[i].entries) *m.add_entries() = e;
    ASSERT_TRUE(r->Step(m).ok());
    EXPECT_EQ(IndexTerms(r->log().AllEntries()), cases[i].want_log) << "case " << i;
    EXPECT_EQ(IndexTerms(r->log().UnstableEntries()), cases[i].want_unstable) << "case " << i;
  }
}

// Figure 7: "the leader handles inconsistencies by forcing the followers' logs to
// duplicate its own", whatever the follower's log looks like (missing entries, extra
// uncommitted entries, or both).
TEST(Paper_5_3_Replication, LeaderBringsFollowerLogsInSync) {
  auto log_of = [](std::vector<uint64_t> terms) {
    std::vector<raftpb::Entry> es;
    for (size_t i = 0; i < terms.size(); ++i) es.push_back(MakeEntry(i + 1, terms[i]));
    return es;
  };
  const std::vector<raftpb::Entry> leader_log = log_of({1, 1, 1, 4, 4, 5, 5, 6, 6, 6});
  const uint64_t term = 8;
  const std::vector<std::vector<raftpb::Entry>> follower_logs = {
      log_of({1, 1, 1, 4, 4, 5, 5, 6, 6}),              // (a) missing one
      log_of({1, 1, 1, 4}),                             // (b) missing many
      log_of({1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6}),        // (c) one extra
      log_of({1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7}),     // (d) extra from a later term
      log_of({1, 1, 1, 4, 4, 4, 4}),                    // (e) missing and extra
      log_of({1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3}),        // (f) long divergent suffix
  };
  for (size_t i = 0; i < follower_logs.size(); ++i) {
    std::vector<TestNode> nodes;
    nodes.push_back(NewTestRaft(1, 10, 1, {1, 2, 3}, nullptr, StorageWith(leader_log, term)));
    nodes.push_back(NewTestRaft(2, 10, 1, {1, 2, 3}, nullptr,
                                StorageWith(follower_logs[i], term - 1)));
    // The follower's log may be "more up to date"; node 3 (empty log) supplies the vote.
    nodes.push_back(NewTestRaft(3, 10, 1, {1, 2, 3}));
    Network net(std::move(nodes));
    net.Campaign(1);
    ASSERT_EQ(net.raft(1).state(), StateType::kLeader) << "case " << i;
    net.Propose(1, "sync");
    EXPECT_EQ(IndexTerms(net.raft(1).log().AllEntries()),
              IndexTerms(net.raft(2).log().AllEntries()))
        << "case " << i;
  }
}

// ---------------------------------------------------------------------------------------
// §5.4 Safety
// ---------------------------------------------------------------------------------------

// "The RequestVote RPC includes information about the candidate's log."
TEST(Paper_5_4_Safety, VoteRequestCarriesLastLogPosition) {
  struct Case {
    std::vector<raftpb::Entry> entries;
    uint64_t want_term;
  };
  const std::vector<Case> cases = {{{MakeEntry(1, 1)}, 2},
                                   {{MakeEntry(1, 1), MakeEntry(2, 2)}, 3}};
  for (size_t j = 0; j < cases.size(); ++j) {
    TestNode r = NewTestRaft(1, 10, 1, {1, 2, 3});
    raftpb::Message m = MakeMsg(2, 1, raftpb::MsgApp, cases[j].want_term - 1);
    for (const auto& e : cases[j].entries) *m.add_entries() = e;
    ASSERT_TRUE(r->Step(m).ok());
    ReadMessages(r);
    for (int i = 1; i < 2 * 10; ++i) r->Tick();
    std::vector<raftpb::Message> msgs = ReadMessages(r);
    ASSERT_EQ(msgs.size(), 2u);
    for (size_t i = 0; i < 2; ++i) {
      EXPECT_EQ(msgs[i].type(), raftpb::MsgVote);
      EXPECT_EQ(msgs[i].term(), cases[j].want_term);
      EXPECT_EQ(msgs[i].index(), cases[j].entries.back().index());
      EXPECT_EQ(msgs[i].logterm(), cases[j].entries.back().term());
    }
  }
}

// "The voter denies its vote if its own log is more up-to-date than that of the
// candidate." (§5.4.1: compare last terms, then lengths.)
TEST(Paper_5_4_Safety, VoterDeniesVoteToOutOfDateCandidate) {
  struct Case {
    std::vector<raftpb::Entry> entries;
    uint64_t logterm, index;
    bool want_reject;
  };
  const std::vector<Case> cases = {
      {{MakeEntry(1, 1)}, 1, 1, false},
      {{MakeEntry(1, 1)}, 1, 2, false},
      {{MakeEntry(1, 1), MakeEntry(2, 1)}, 1, 1, true},
      {{MakeEntry(1, 1)}, 2, 1, false},
      {{MakeEntry(1, 1)}, 2, 2, false},
      {{MakeEntry(1, 1), MakeEntry(2, 1)}, 2, 1, false},
      {{MakeEntry(1, 2)}, 1, 1, true},
      {{MakeEntry(1, 2)}, 1, 2, true},
      {{MakeEntry(1, 2), MakeEntry(2, 1)}, 1, 1, true},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    TestNode r = NewTestRaft(1, 10, 1, {1, 2}, nullptr, StorageWith(cases[i].entries, 0, 0, 0, {1, 2}));
    raftpb::Message m = MakeMsg(2, 1, raftpb::MsgVote, 3);
    m.set_logterm(cases[i].logterm);
    m.set_index(cases[i].index);
    ASSERT_TRUE(r->Step(m).ok());
    std::vector<raftpb::Message> msgs = ReadMessages(r);
    ASSERT_EQ(msgs.size(), 1u);
    EXPECT_EQ(msgs[0].type(), raftpb::MsgVoteResp);
    EXPECT_EQ(msgs[0].reject(), cases[i].want_reject) << "case " << i;
  }
}

// Figure 8 rule: "Raft never commits log entries from previous terms by counting
// replicas. Only log entries from the leader's current term are committed by counting
// replicas."
TEST(Paper_5_4_Safety, LeaderOnlyCommitsEntriesOfCurrentTermByCounting) {
  const std::vector<raftpb::Entry> ents = {MakeEntry(1, 1), MakeEntry(2, 2)};
  struct Case {
    uint64_t index, want_commit;
  };
  const std::vector<Case> cases = {{1, 0}, {2, 0}, {3, 3}};
  for (size_t i = 0; i < cases.size(); ++i) {
    TestNode r = NewTestRaft(1, 10, 1, {1, 2}, nullptr, StorageWith(ents, 2, 0, 0, {1, 2}));
    r->BecomeCandidate();
    r->BecomeLeader();  // Term 3, appends 3/3.
    ReadMessages(r);
    raftpb::Message ack = MakeMsg(2, 1, raftpb::MsgAppResp, r->term());
    ack.set_index(cases[i].index);
    ASSERT_TRUE(r->Step(ack).ok());
    EXPECT_EQ(r->log().committed(), cases[i].want_commit) << "case " << i;
  }
}

// Figure 8 end to end: an old-term entry stored on a majority is not committed until an
// entry of the current term is, and so may be (safely) overwritten.
TEST(Paper_5_4_Safety, Figure8OldTermEntryOnMajorityIsNotCommitted) {
  Network net(5);
  net.Campaign(1);
  ASSERT_EQ(net.raft(1).state(), StateType::kLeader);
  const uint64_t base = net.raft(1).log().LastIndex();
  // Node 1 replicates "x" only to node 2.
  for (uint64_t id = 3; id <= 5; ++id) net.Cut(1, id);
  net.Propose(1, "x");
  net.Recover();
  EXPECT_EQ(net.raft(2).log().LastIndex(), base + 1);
  // Node 5 wins term 2 with 3 and 4, then its entries are lost.
  net.Isolate(1);
  net.Cut(5, 2);
  net.Campaign(5);
  ASSERT_EQ(net.raft(5).state(), StateType::kLeader);
  EXPECT_EQ(net.raft(5).term(), 2u);
  EXPECT_LT(net.raft(1).log().committed(), base + 1);
  EXPECT_EQ(net.raft(2).log().committed(), base);  // "x" never committed anywhere.
}

// ---------------------------------------------------------------------------------------
// §8 Client interaction
// ---------------------------------------------------------------------------------------

// "If a client contacts a follower, the follower redirects it to the leader" (we forward).
TEST(Paper_8_Clients, FollowerForwardsProposalToLeader) {
  Network net(3);
  net.Campaign(1);
  const uint64_t before = net.raft(1).log().LastIndex();
  net.Propose(2, "via follower");
  EXPECT_EQ(net.raft(1).log().LastIndex(), before + 1);
  EXPECT_EQ(net.raft(3).log().committed(), before + 1);
}

TEST(Paper_8_Clients, ProposalWithoutLeaderIsDroppedWithError) {
  TestNode r = NewTestRaft(1, 10, 1, {1, 2, 3});
  raftpb::Message prop = MakeMsg(1, 1, raftpb::MsgProp);
  prop.add_entries()->set_data("x");
  absl::Status s = r->Step(prop);
  EXPECT_TRUE(IsErrProposalDropped(s)) << s;
  EXPECT_EQ(r->log().LastIndex(), 0u);
}

TEST(Paper_8_Clients, ProposalForwardingCanBeDisabled) {
  Network net(3, [](Config& c) { c.disable_proposal_forwarding = true; });
  net.Campaign(1);
  raftpb::Message prop = MakeMsg(2, 2, raftpb::MsgProp);
  prop.add_entries()->set_data("x");
  absl::Status s = net.raft(2).Step(prop);
  EXPECT_TRUE(IsErrProposalDropped(s)) << s;
  EXPECT_TRUE(ReadMessages(net.node(2)).empty());
}

// "A leader must have the latest information on which entries are committed ... each
// leader commit a blank no-op entry into the log at the start of its term."
TEST(Paper_8_Clients, NewLeaderCommitsNoopEntryOfItsTerm) {
  Network net(3);
  net.Campaign(1);
  const auto& log = net.raft(1).log();
  EXPECT_EQ(log.committed(), 1u);
  EXPECT_EQ(log.TermOrZero(1), 1u);
  auto entries = log.Slice(1, 2, kNoLimit);
  ASSERT_TRUE(entries.ok());
  EXPECT_TRUE((*entries)[0].data().empty());
}

}  // namespace
}  // namespace keel::raft
