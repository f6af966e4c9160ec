// Extensions from Ongaro's thesis ("Consensus: Bridging Theory and Practice"): PreVote
// (§9.6), CheckQuorum and leader leases (§6.2, §4.2.3), leadership transfer (§3.10) and
// ReadIndex (§6.4).
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "raft/entry_util.h"
#include "raft/errors.h"
#include "raft/raft.h"
#include "raft/testing/test_util.h"

namespace keel::raft {
namespace {

using testing::MakeMsg;
using testing::Network;
using testing::NewTestRaft;
using testing::ReadMessages;

void PreVote(Config& c) { c.pre_vote = true; }
void CheckQuorum(Config& c) { c.check_quorum = true; }

void TickElection(Raft& r) {
  const int n = r.state() == StateType::kLeader
                    ? 10
                    : std::max(1, r.randomized_election_timeout() - r.election_elapsed());
  for (int i = 0; i < n; ++i) r.Tick();
}

// ---------------------------------------------------------------------------------------
// PreVote
// ---------------------------------------------------------------------------------------

TEST(Thesis_PreVote, ElectionSucceedsThroughPreVote) {
  Network net(3, PreVote);
  net.Campaign(1);
  EXPECT_EQ(net.raft(1).state(), StateType::kLeader);
  EXPECT_EQ(net.raft(1).term(), 1u);
}

TEST(Thesis_PreVote, IsolatedPreCandidateDoesNotBumpTerm) {
  Network net(3, PreVote);
  net.Campaign(1);
  net.Isolate(3);
  for (int i = 0; i < 5; ++i) {
    net.Campaign(3);
    EXPECT_EQ(net.raft(3).state(), StateType::kPreCandidate);
    EXPECT_EQ(net.raft(3).term(), 1u);
  }
  net.Recover();
  // The leader's heartbeat brings node 3 back without any election.
  net.Send(MakeMsg(1, 1, raftpb::MsgBeat));
  EXPECT_EQ(net.raft(3).state(), StateType::kFollower);
  EXPECT_EQ(net.raft(1).state(), StateType::kLeader);
  EXPECT_EQ(net.raft(1).term(), 1u);
}

TEST(Thesis_PreVote, PreVoteRefusedToStaleLog) {
  Network net(3, PreVote);
  net.Campaign(1);
  net.Isolate(3);
  net.Propose(1, "x");  // Node 3 misses it.
  net.Recover();
  net.Cut(3, 1);  // Node 3 only reaches node 2, which has a newer log.
  net.Campaign(3);
  // Node 2 refuses; without node 1 the pre-election cannot be won. Nobody's term moved.
  EXPECT_EQ(net.raft(3).state(), StateType::kPreCandidate);
  EXPECT_EQ(net.raft(3).term(), 1u);
  EXPECT_EQ(net.raft(2).term(), 1u);
}

TEST(Thesis_PreVote, GrantedPreVoteDoesNotChangeVoterState) {
  auto r = NewTestRaft(1, 10, 1, {1, 2, 3}, PreVote);
  raftpb::Message m = MakeMsg(2, 1, raftpb::MsgPreVote, 5);
  ASSERT_TRUE(r->Step(m).ok());
  std::vector<raftpb::Message> msgs = ReadMessages(r);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].type(), raftpb::MsgPreVoteResp);
  EXPECT_FALSE(msgs[0].reject());
  EXPECT_EQ(msgs[0].term(), 5u);  // The future term it was asked about...
  EXPECT_EQ(r->term(), 0u);       // ...but our own term and vote are untouched.
  EXPECT_EQ(r->vote(), 0u);
}

// ---------------------------------------------------------------------------------------
// CheckQuorum and leases
// ---------------------------------------------------------------------------------------

TEST(Thesis_CheckQuorum, LeaderStepsDownWithoutActiveQuorum) {
  Network net(3, CheckQuorum);
  net.Campaign(1);
  net.Isolate(1);
  TickElection(net.raft(1));  // Everyone was active in the first window.
  EXPECT_EQ(net.raft(1).state(), StateType::kLeader);
  TickElection(net.raft(1));
  EXPECT_EQ(net.raft(1).state(), StateType::kFollower);
}

TEST(Thesis_CheckQuorum, LeaderStaysWhileQuorumIsActive) {
  Network net(3, CheckQuorum);
  net.Campaign(1);
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 10; ++i) {
      net.raft(1).Tick();
      net.Send(ReadMessages(net.node(1)));
    }
  }
  EXPECT_EQ(net.raft(1).state(), StateType::kLeader);
}

TEST(Thesis_CheckQuorum, FollowerInLeaseIgnoresVoteRequest) {
  Network net(3, CheckQuorum);
  net.Campaign(1);
  raftpb::Message vote = MakeMsg(3, 2, raftpb::MsgVote, 5);
  vote.set_index(10);
  vote.set_logterm(5);
  ASSERT_TRUE(net.raft(2).Step(vote).ok());
  EXPECT_EQ(net.raft(2).term(), 1u);  // Neither term adopted nor vote cast.
  EXPECT_EQ(net.raft(2).vote(), 1u);
  EXPECT_TRUE(ReadMessages(net.node(2)).empty());
}

TEST(Thesis_CheckQuorum, FollowerWithExpiredLeaseGrantsVote) {
  Network net(3, CheckQuorum);
  net.Campaign(1);
  for (int i = 0; i < 10; ++i) net.raft(2).Tick();  // No heartbeats delivered.
  raftpb::Message vote = MakeMsg(3, 2, raftpb::MsgVote, 5);
  vote.set_index(10);
  vote.set_logterm(5);
  ASSERT_TRUE(net.raft(2).Step(vote).ok());
  EXPECT_EQ(net.raft(2).term(), 5u);
  EXPECT_EQ(net.raft(2).vote(), 3u);
}

// A leader with a stale term learns the new term from the response to its append, and
// steps down (otherwise, with CheckQuorum/PreVote, nobody might ever tell it).
TEST(Thesis_CheckQuorum, StaleLeaderLearnsNewTermFromResponse) {
  auto r = NewTestRaft(2, 10, 1, {1, 2, 3}, CheckQuorum);
  r->BecomeFollower(5, 3);
  ASSERT_TRUE(r->Step(MakeMsg(1, 2, raftpb::MsgHeartbeat, 3)).ok());
  std::vector<raftpb::Message> msgs = ReadMessages(r);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].type(), raftpb::MsgAppResp);
  EXPECT_EQ(msgs[0].term(), 5u);
}

// ---------------------------------------------------------------------------------------
// Leadership transfer
// ---------------------------------------------------------------------------------------

raftpb::Message Transfer(uint64_t to_leader, uint64_t transferee) {
  return MakeMsg(transferee, to_leader, raftpb::MsgTransferLeader);
}

TEST(Thesis_LeaderTransfer, ToUpToDateFollower) {
  Network net(3);
  net.Campaign(1);
  net.Send(Transfer(1, 2));
  EXPECT_EQ(net.raft(1).state(), StateType::kFollower);
  EXPECT_EQ(net.raft(2).state(), StateType::kLeader);
  EXPECT_EQ(net.raft(1).lead(), 2u);
}

TEST(Thesis_LeaderTransfer, WorksWithPreVoteAndCheckQuorum) {
  Network net(3, [](Config& c) {
    c.pre_vote = true;
    c.check_quorum = true;
  });
  net.Campaign(1);
  net.Send(Transfer(1, 3));
  EXPECT_EQ(net.raft(3).state(), StateType::kLeader);
}

TEST(Thesis_LeaderTransfer, CatchesUpSlowFollowerFirst) {
  Network net(3);
  net.Campaign(1);
  net.Isolate(3);
  net.Propose(1, "x");
  net.Recover();
  EXPECT_LT(net.raft(3).log().LastIndex(), net.raft(1).log().LastIndex());
  net.Send(Transfer(1, 3));
  EXPECT_EQ(net.raft(3).state(), StateType::kLeader);
  EXPECT_EQ(net.raft(1).lead(), 3u);
}

TEST(Thesis_LeaderTransfer, RefusesProposalsWhileTransferring) {
  Network net(3);
  net.Campaign(1);
  net.Isolate(3);
  // The request is local to the leader (the application asks it), so step it directly.
  ASSERT_TRUE(net.raft(1).Step(Transfer(1, 3)).ok());
  net.Send(ReadMessages(net.node(1)));
  EXPECT_EQ(net.raft(1).lead_transferee(), 3u);
  raftpb::Message prop = MakeMsg(1, 1, raftpb::MsgProp);
  prop.add_entries()->set_data("x");
  absl::Status s = net.raft(1).Step(prop);
  EXPECT_TRUE(IsErrProposalDropped(s)) << s;
}

TEST(Thesis_LeaderTransfer, AbortedAfterElectionTimeout) {
  Network net(3);
  net.Campaign(1);
  net.Isolate(3);
  // The request is local to the leader (the application asks it), so step it directly.
  ASSERT_TRUE(net.raft(1).Step(Transfer(1, 3)).ok());
  net.Send(ReadMessages(net.node(1)));
  ASSERT_EQ(net.raft(1).lead_transferee(), 3u);
  for (int i = 0; i < 10; ++i) net.raft(1).Tick();
  EXPECT_EQ(net.raft(1).lead_transferee(), 0u);
  EXPECT_EQ(net.raft(1).state(), StateType::kLeader);
}

TEST(Thesis_LeaderTransfer, ToSelfOrUnknownOrLearnerIsIgnored) {
  std::vector<testing::TestNode> nodes;
  for (uint64_t id = 1; id <= 3; ++id) {
    nodes.push_back(NewTestRaft(id, 10, 1, {1, 2}, nullptr, nullptr, {3}));
  }
  Network net(std::move(nodes));
  net.Campaign(1);
  for (uint64_t to : {1u, 3u, 9u}) {
    ASSERT_TRUE(net.raft(1).Step(Transfer(1, to)).ok());
    EXPECT_EQ(net.raft(1).lead_transferee(), 0u) << "transferee " << to;
    EXPECT_EQ(net.raft(1).state(), StateType::kLeader);
  }
}

TEST(Thesis_LeaderTransfer, SecondRequestToSameNodeDoesNotRestartTimer) {
  Network net(3);
  net.Campaign(1);
  net.Isolate(3);
  // The request is local to the leader (the application asks it), so step it directly.
  ASSERT_TRUE(net.raft(1).Step(Transfer(1, 3)).ok());
  net.Send(ReadMessages(net.node(1)));
  for (int i = 0; i < 5; ++i) net.raft(1).Tick();
  ASSERT_TRUE(net.raft(1).Step(Transfer(1, 3)).ok());
  for (int i = 0; i < 5; ++i) net.raft(1).Tick();
  EXPECT_EQ(net.raft(1).lead_transferee(), 0u);  // Aborted after 10 ticks in total.
}

TEST(Thesis_LeaderTransfer, FollowerForwardsRequestToLeader) {
  Network net(3);
  net.Campaign(1);
  net.Send(MakeMsg(2, 2, raftpb::MsgTransferLeader));
  EXPECT_EQ(net.raft(2).state(), StateType::kLeader);
}

// ---------------------------------------------------------------------------------------
// ReadIndex
// ---------------------------------------------------------------------------------------

raftpb::Message ReadReq(uint64_t to, const std::string& ctx) {
  raftpb::Message m = MakeMsg(to, to, raftpb::MsgReadIndex);
  m.add_entries()->set_data(ctx);
  return m;
}

TEST(Thesis_ReadIndex, LeaderConfirmsWithQuorumBeforeAnswering) {
  Network net(3);
  net.Campaign(1);
  net.Propose(1, "x");
  const uint64_t commit = net.raft(1).log().committed();
  net.Isolate(2);
  net.Isolate(3);
  net.Send(ReadReq(1, "ctx1"));
  EXPECT_TRUE(net.raft(1).read_states().empty()) << "answered without a quorum";
  net.Recover();
  net.Send(MakeMsg(1, 1, raftpb::MsgBeat));  // Heartbeats carry the pending context.
  ASSERT_EQ(net.raft(1).read_states().size(), 1u);
  EXPECT_EQ(net.raft(1).read_states()[0].index, commit);
  EXPECT_EQ(net.raft(1).read_states()[0].request_ctx, "ctx1");
}

TEST(Thesis_ReadIndex, FollowerReadGoesThroughLeader) {
  Network net(3);
  net.Campaign(1);
  net.Propose(1, "x");
  net.Send(ReadReq(2, "from-2"));
  ASSERT_EQ(net.raft(2).read_states().size(), 1u);
  EXPECT_EQ(net.raft(2).read_states()[0].index, net.raft(1).log().committed());
  EXPECT_TRUE(net.raft(1).read_states().empty());
}

TEST(Thesis_ReadIndex, ConfirmationIsBatched) {
  Network net(3);
  net.Campaign(1);
  net.Isolate(2);
  net.Isolate(3);
  for (const char* ctx : {"a", "b", "c"}) net.Send(ReadReq(1, ctx));
  EXPECT_EQ(net.raft(1).read_only().PendingCount(), 3u);
  net.Recover();
  net.Send(MakeMsg(1, 1, raftpb::MsgBeat));  // One round confirms all three.
  EXPECT_EQ(net.raft(1).read_states().size(), 3u);
  EXPECT_EQ(net.raft(1).read_only().PendingCount(), 0u);
}

TEST(Thesis_ReadIndex, WaitsForCommitInCurrentTerm) {
  auto r = NewTestRaft(1, 10, 1, {1, 2, 3});
  r->BecomeCandidate();
  r->BecomeLeader();
  ReadMessages(r);
  ASSERT_TRUE(r->Step(ReadReq(1, "early")).ok());
  // Not answered, not even a heartbeat round yet: the commit index is not known.
  EXPECT_TRUE(ReadMessages(r).empty());
  raftpb::Message ack = MakeMsg(2, 1, raftpb::MsgAppResp, r->term());
  ack.set_index(r->log().LastIndex());
  ASSERT_TRUE(r->Step(ack).ok());  // The empty entry commits.
  bool heartbeat_with_ctx = false;
  for (const auto& m : ReadMessages(r)) {
    heartbeat_with_ctx |= m.type() == raftpb::MsgHeartbeat && m.context() == "early";
  }
  EXPECT_TRUE(heartbeat_with_ctx);
}

TEST(Thesis_ReadIndex, LeaseBasedAnswersImmediately) {
  Network net(3, [](Config& c) {
    c.check_quorum = true;
    c.read_only_option = ReadOnlyOption::kLeaseBased;
  });
  net.Campaign(1);
  net.Isolate(2);
  net.Isolate(3);
  net.Send(ReadReq(1, "lease"));
  ASSERT_EQ(net.raft(1).read_states().size(), 1u);  // No heartbeat round needed.
}

TEST(Thesis_ReadIndex, NoLeaderMeansError) {
  auto r = NewTestRaft(1, 10, 1, {1, 2, 3});
  absl::Status s = r->Step(ReadReq(1, "x"));
  EXPECT_TRUE(IsErrProposalDropped(s)) << s;
}

TEST(Thesis_ReadIndex, SingleVoterAnswersAtOnce) {
  auto r = NewTestRaft(1, 10, 1, {1});
  ASSERT_TRUE(r->Step(MakeMsg(1, 1, raftpb::MsgHup)).ok());
  ReadMessages(r);
  ASSERT_EQ(r->state(), StateType::kLeader);
  ASSERT_TRUE(r->Step(ReadReq(1, "solo")).ok());
  ASSERT_EQ(r->read_states().size(), 1u);
  EXPECT_EQ(r->read_states()[0].index, r->log().committed());
}

}  // namespace
}  // namespace keel::raft
