// §6 (cluster membership changes) and §7 (log compaction) of the Raft paper, with the
// thesis' refinements (single-server changes §4.1, joint consensus §4.3, learners).
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "raft/confchange.h"
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

raftpb::ConfChangeV2 Change(std::vector<std::pair<raftpb::ConfChangeType, uint64_t>> changes,
                            raftpb::ConfChangeTransition t = raftpb::ConfChangeTransitionAuto) {
  raftpb::ConfChangeV2 cc;
  cc.set_transition(t);
  for (const auto& [type, id] : changes) {
    auto* c = cc.add_changes();
    c->set_type(type);
    c->set_node_id(id);
  }
  return cc;
}

std::vector<uint64_t> Voters(const raftpb::ConfState& cs) {
  return std::vector<uint64_t>(cs.voters().begin(), cs.voters().end());
}

// ---------------------------------------------------------------------------------------
// §6 Cluster membership changes
// ---------------------------------------------------------------------------------------

TEST(Paper_6_Membership, AddVoterTakesEffectOnApply) {
  TestNode r = NewTestRaft(1, 10, 1, {1});
  auto cs = r->ApplyConfChange(Change({{raftpb::ConfChangeAddNode, 2}}));
  ASSERT_TRUE(cs.ok()) << cs.status();
  EXPECT_EQ(Voters(*cs), (std::vector<uint64_t>{1, 2}));
  EXPECT_NE(r->tracker().Find(2), nullptr);
}

TEST(Paper_6_Membership, RemoveVoterDropsItsProgress) {
  TestNode r = NewTestRaft(1, 10, 1, {1, 2, 3});
  auto cs = r->ApplyConfChange(Change({{raftpb::ConfChangeRemoveNode, 2}}));
  ASSERT_TRUE(cs.ok());
  EXPECT_EQ(Voters(*cs), (std::vector<uint64_t>{1, 3}));
  EXPECT_EQ(r->tracker().Find(2), nullptr);
}

TEST(Paper_6_Membership, RemovingAllVotersIsRefused) {
  TestNode r = NewTestRaft(1, 10, 1, {1});
  auto cs = r->ApplyConfChange(Change({{raftpb::ConfChangeRemoveNode, 1}}));
  ASSERT_FALSE(cs.ok());
  EXPECT_NE(cs.status().message().find("removed all voters"), std::string::npos);
  EXPECT_TRUE(r->tracker().config.voters.Contains(1));  // Unchanged.
}

// Thesis §4.1: changing two voters at once without joint consensus can create two
// disjoint majorities.
TEST(Paper_6_Membership, SimpleChangeOfTwoVotersIsRefused) {
  TestNode r = NewTestRaft(1, 10, 1, {1, 2, 3});
  raftpb::ConfChangeV2 cc = Change({{raftpb::ConfChangeAddNode, 4}, {raftpb::ConfChangeRemoveNode, 3}});
  Changer changer(r->tracker(), r->log().LastIndex());
  auto out = changer.Simple({cc.changes().begin(), cc.changes().end()});
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("more than one voter changed"), std::string::npos);
}

// Thesis §4.3: with joint consensus both majorities must agree.
TEST(Paper_6_Membership, JointConsensusNeedsBothMajorities) {
  TestNode r = NewTestRaft(1, 10, 1, {1, 2, 3});
  auto cs = r->ApplyConfChange(Change({{raftpb::ConfChangeAddNode, 4},
                                       {raftpb::ConfChangeAddNode, 5},
                                       {raftpb::ConfChangeRemoveNode, 2},
                                       {raftpb::ConfChangeRemoveNode, 3}},
                                      raftpb::ConfChangeTransitionJointExplicit));
  ASSERT_TRUE(cs.ok()) << cs.status();
  EXPECT_EQ(Voters(*cs), (std::vector<uint64_t>{1, 4, 5}));
  EXPECT_EQ(std::vector<uint64_t>(cs->voters_outgoing().begin(), cs->voters_outgoing().end()),
            (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_FALSE(cs->auto_leave());
  ASSERT_TRUE(r->Step(MakeMsg(1, 1, raftpb::MsgHup)).ok());
  Persist(r);  // Counts our own vote.
  // Votes from the new config alone are not enough...
  for (uint64_t id : {4u, 5u}) ASSERT_TRUE(r->Step(MakeMsg(id, 1, raftpb::MsgVoteResp, r->term())).ok());
  EXPECT_EQ(r->state(), StateType::kCandidate);
  // ...until the old config also has a majority.
  ASSERT_TRUE(r->Step(MakeMsg(2, 1, raftpb::MsgVoteResp, r->term())).ok());
  EXPECT_EQ(r->state(), StateType::kLeader);
}

TEST(Paper_6_Membership, CannotEnterJointTwiceOrLeaveWhenNotJoint) {
  TestNode r = NewTestRaft(1, 10, 1, {1, 2, 3});
  auto leave = r->ApplyConfChange(raftpb::ConfChangeV2());
  ASSERT_FALSE(leave.ok());
  EXPECT_NE(leave.status().message().find("can't leave a non-joint config"), std::string::npos);
  ASSERT_TRUE(r->ApplyConfChange(Change({{raftpb::ConfChangeAddNode, 4}},
                                        raftpb::ConfChangeTransitionJointExplicit))
                  .ok());
  auto again = r->ApplyConfChange(Change({{raftpb::ConfChangeAddNode, 5}},
                                         raftpb::ConfChangeTransitionJointExplicit));
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("already joint"), std::string::npos);
  auto simple = r->ApplyConfChange(Change({{raftpb::ConfChangeAddNode, 5}}));
  ASSERT_FALSE(simple.ok());
  ASSERT_TRUE(r->ApplyConfChange(raftpb::ConfChangeV2()).ok());
  EXPECT_FALSE(r->tracker().config.voters.IsJoint());
}

// A leader allows only one unapplied configuration change; later ones become empty
// normal entries (so the other entries of the batch keep their indexes).
TEST(Paper_6_Membership, SecondPendingConfChangeIsRefused) {
  TestNode r = NewTestRaft(1, 10, 1, {1, 2});
  r->BecomeCandidate();
  r->BecomeLeader();
  Persist(r);
  raftpb::ConfChange cc;
  cc.set_type(raftpb::ConfChangeAddNode);
  cc.set_node_id(3);
  for (int i = 0; i < 2; ++i) {
    raftpb::Message m = MakeMsg(1, 1, raftpb::MsgProp);
    raftpb::Entry* e = m.add_entries();
    e->set_type(raftpb::EntryConfChange);
    e->set_data(cc.SerializeAsString());
    ASSERT_TRUE(r->Step(m).ok());
  }
  std::vector<raftpb::Entry> log = r->log().AllEntries();
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[1].type(), raftpb::EntryConfChange);
  EXPECT_EQ(log[2].type(), raftpb::EntryNormal);
  EXPECT_TRUE(log[2].data().empty());
  EXPECT_EQ(r->pending_conf_index(), 2u);
}

TEST(Paper_6_Membership, LearnerNeverCampaigns) {
  TestNode r = NewTestRaft(2, 10, 1, {1}, nullptr, nullptr, {2});
  EXPECT_TRUE(r->is_learner());
  for (int i = 0; i < 100; ++i) r->Tick();
  EXPECT_EQ(r->state(), StateType::kFollower);
  EXPECT_TRUE(ReadMessages(r).empty());
}

TEST(Paper_6_Membership, LearnerReceivesLogButDoesNotCountForCommit) {
  std::vector<TestNode> nodes;
  nodes.push_back(NewTestRaft(1, 10, 1, {1, 2}, nullptr, nullptr, {3}));
  nodes.push_back(NewTestRaft(2, 10, 1, {1, 2}, nullptr, nullptr, {3}));
  nodes.push_back(NewTestRaft(3, 10, 1, {1, 2}, nullptr, nullptr, {3}));
  Network net(std::move(nodes));
  net.Campaign(1);
  ASSERT_EQ(net.raft(1).state(), StateType::kLeader);
  net.Propose(1, "x");
  EXPECT_EQ(net.raft(3).log().LastIndex(), net.raft(1).log().LastIndex());
  EXPECT_EQ(net.raft(3).log().committed(), net.raft(1).log().committed());
  // With voter 2 unreachable, the learner's ack cannot commit anything.
  net.Isolate(2);
  const uint64_t committed = net.raft(1).log().committed();
  net.Propose(1, "y");
  EXPECT_EQ(net.raft(1).log().committed(), committed);
  EXPECT_EQ(net.raft(3).log().LastIndex(), net.raft(1).log().LastIndex());
}

TEST(Paper_6_Membership, LearnerCanBePromoted) {
  TestNode r = NewTestRaft(2, 10, 1, {1}, nullptr, nullptr, {2});
  ASSERT_TRUE(r->is_learner());
  auto cs = r->ApplyConfChange(Change({{raftpb::ConfChangeAddNode, 2}}));
  ASSERT_TRUE(cs.ok());
  EXPECT_FALSE(r->is_learner());
  EXPECT_EQ(Voters(*cs), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(cs->learners_size(), 0);
  for (int i = 0; i < 20; ++i) r->Tick();
  EXPECT_EQ(r->state(), StateType::kCandidate);
}

// Demoting a voter of the outgoing config stages it in learners_next until we leave.
TEST(Paper_6_Membership, DemotionInJointConfigIsStagedUntilLeave) {
  TestNode r = NewTestRaft(1, 10, 1, {1, 2, 3});
  auto cs = r->ApplyConfChange(Change({{raftpb::ConfChangeAddLearnerNode, 3}},
                                      raftpb::ConfChangeTransitionJointImplicit));
  ASSERT_TRUE(cs.ok()) << cs.status();
  EXPECT_EQ(std::vector<uint64_t>(cs->learners_next().begin(), cs->learners_next().end()),
            (std::vector<uint64_t>{3}));
  EXPECT_TRUE(cs->auto_leave());
  auto left = r->ApplyConfChange(raftpb::ConfChangeV2());
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(std::vector<uint64_t>(left->learners().begin(), left->learners().end()),
            (std::vector<uint64_t>{3}));
  EXPECT_EQ(Voters(*left), (std::vector<uint64_t>{1, 2}));
}

// A node with an empty configuration (joining) never campaigns: it waits for a leader.
TEST(Paper_6_Membership, NodeWithEmptyConfigDoesNotCampaign) {
  TestNode r = NewTestRaft(4, 10, 1, {});
  for (int i = 0; i < 100; ++i) r->Tick();
  EXPECT_EQ(r->state(), StateType::kFollower);
  EXPECT_TRUE(ReadMessages(r).empty());
}

// A node must not campaign while a committed conf change is unapplied: it might not even
// be a voter in the configuration it is about to apply.
TEST(Paper_6_Membership, NoCampaignWithUnappliedConfChange) {
  TestNode r = NewTestRaft(1, 10, 1, {1, 2});
  raftpb::ConfChange cc;
  cc.set_type(raftpb::ConfChangeRemoveNode);
  cc.set_node_id(1);
  raftpb::Message app = MakeMsg(2, 1, raftpb::MsgApp, 1);
  raftpb::Entry* e = app.add_entries();
  *e = MakeEntry(1, 1);
  e->set_type(raftpb::EntryConfChange);
  e->set_data(cc.SerializeAsString());
  app.set_commit(1);
  ASSERT_TRUE(r->Step(app).ok());
  ReadMessages(r);
  ASSERT_EQ(r->log().committed(), 1u);
  ASSERT_EQ(r->log().applied(), 0u);
  ASSERT_TRUE(r->Step(MakeMsg(1, 1, raftpb::MsgHup)).ok());
  EXPECT_EQ(r->state(), StateType::kFollower);
}

TEST(Paper_6_Membership, RemovedNodeResponsesAreIgnoredByLeader) {
  Network net(3);
  net.Campaign(1);
  ASSERT_TRUE(net.raft(1).ApplyConfChange(Change({{raftpb::ConfChangeRemoveNode, 3}})).ok());
  raftpb::Message resp = MakeMsg(3, 1, raftpb::MsgAppResp, net.raft(1).term());
  resp.set_index(100);
  ASSERT_TRUE(net.raft(1).Step(resp).ok());
  EXPECT_EQ(net.raft(1).tracker().Find(3), nullptr);
  EXPECT_LT(net.raft(1).log().committed(), 100u);
}

// After removing a slow voter, the leader can commit with the remaining majority.
TEST(Paper_6_Membership, RemovingANodeCanCommitPendingEntries) {
  Network net(3);
  net.Campaign(1);
  net.Isolate(3);
  net.Isolate(2);
  net.Propose(1, "x");
  const uint64_t x = net.raft(1).log().LastIndex();
  EXPECT_LT(net.raft(1).log().committed(), x);
  net.Recover();
  // Remove node 2 and 3, one at a time; with only voter 1 left, "x" commits alone.
  ASSERT_TRUE(net.raft(1).ApplyConfChange(Change({{raftpb::ConfChangeRemoveNode, 3}})).ok());
  ASSERT_TRUE(net.raft(1).ApplyConfChange(Change({{raftpb::ConfChangeRemoveNode, 2}})).ok());
  EXPECT_GE(net.raft(1).log().committed(), x);
}

// ---------------------------------------------------------------------------------------
// §7 Log compaction
// ---------------------------------------------------------------------------------------

raftpb::Snapshot MakeSnapshot(uint64_t index, uint64_t term, std::vector<uint64_t> voters) {
  raftpb::Snapshot s;
  s.mutable_metadata()->set_index(index);
  s.mutable_metadata()->set_term(term);
  for (uint64_t v : voters) s.mutable_metadata()->mutable_conf_state()->add_voters(v);
  s.set_data("state");
  return s;
}

// "The leader uses a new RPC called InstallSnapshot to send snapshots to followers that
// are too far behind."
TEST(Paper_7_Compaction, FollowerInstallsSnapshot) {
  TestNode r = NewTestRaft(2, 10, 1, {1, 2});
  raftpb::Message m = MakeMsg(1, 2, raftpb::MsgSnap, 2);
  *m.mutable_snapshot() = MakeSnapshot(11, 2, {1, 2, 3});
  ASSERT_TRUE(r->Step(m).ok());
  EXPECT_EQ(r->log().committed(), 11u);
  EXPECT_EQ(r->log().LastIndex(), 11u);
  EXPECT_EQ(r->log().TermOrZero(11), 2u);
  ASSERT_TRUE(r->log().UnstableSnapshot().has_value());
  EXPECT_EQ(Voters(r->tracker().ConfState()), (std::vector<uint64_t>{1, 2, 3}));
  std::vector<raftpb::Message> msgs = ReadMessages(r);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].type(), raftpb::MsgAppResp);
  EXPECT_EQ(msgs[0].index(), 11u);
  EXPECT_EQ(r.storage->Snapshot()->metadata().index(), 11u);
}

// "If the follower receives a snapshot that describes a prefix of its log ... entries
// covered by the snapshot are deleted but entries following the snapshot are retained."
// We keep our log and only fast-forward the commit index.
TEST(Paper_7_Compaction, SnapshotMatchingOurLogOnlyAdvancesCommit) {
  auto storage = std::make_unique<MemoryStorage>();
  raftpb::ConfState cs;
  cs.add_voters(1);
  cs.add_voters(2);
  storage->SetInitialConfState(cs);
  ASSERT_TRUE(storage->Append({MakeEntry(1, 1), MakeEntry(2, 1), MakeEntry(3, 1)}).ok());
  TestNode r = NewTestRaft(2, 10, 1, {1, 2}, nullptr, std::move(storage));
  raftpb::Message m = MakeMsg(1, 2, raftpb::MsgSnap, 1);
  *m.mutable_snapshot() = MakeSnapshot(2, 1, {1, 2});
  ASSERT_TRUE(r->Step(m).ok());
  EXPECT_EQ(r->log().committed(), 2u);
  EXPECT_EQ(r->log().LastIndex(), 3u);
  EXPECT_FALSE(r->log().UnstableSnapshot().has_value());
}

TEST(Paper_7_Compaction, OlderSnapshotIsIgnored) {
  TestNode r = NewTestRaft(2, 10, 1, {1, 2});
  raftpb::Message m = MakeMsg(1, 2, raftpb::MsgSnap, 2);
  *m.mutable_snapshot() = MakeSnapshot(11, 2, {1, 2});
  ASSERT_TRUE(r->Step(m).ok());
  ReadMessages(r);
  *m.mutable_snapshot() = MakeSnapshot(5, 2, {1, 2});
  ASSERT_TRUE(r->Step(m).ok());
  EXPECT_EQ(r->log().committed(), 11u);
  std::vector<raftpb::Message> msgs = ReadMessages(r);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].index(), 11u);  // "I already have up to 11."
}

TEST(Paper_7_Compaction, SnapshotExcludingUsIsRejected) {
  TestNode r = NewTestRaft(2, 10, 1, {1, 2});
  raftpb::Message m = MakeMsg(1, 2, raftpb::MsgSnap, 2);
  *m.mutable_snapshot() = MakeSnapshot(11, 2, {1, 3});
  ASSERT_TRUE(r->Step(m).ok());
  EXPECT_EQ(r->log().committed(), 0u);
  EXPECT_FALSE(r->log().UnstableSnapshot().has_value());
}

// The leader falls back to a snapshot when the entries a follower needs are compacted,
// and pauses that follower (StateSnapshot) until the outcome is reported.
TEST(Paper_7_Compaction, LeaderSendsSnapshotWhenEntriesAreCompacted) {
  auto storage = std::make_unique<MemoryStorage>();
  ASSERT_TRUE(storage->ApplySnapshot(MakeSnapshot(11, 11, {1, 2})).ok());
  TestNode r = NewTestRaft(1, 10, 1, {1, 2}, nullptr, std::move(storage));
  r->BecomeCandidate();
  r->BecomeLeader();
  ReadMessages(r);
  // The follower rejects the probe and reveals it has nothing.
  raftpb::Message reject = MakeMsg(2, 1, raftpb::MsgAppResp, r->term());
  reject.set_index(11);
  reject.set_reject(true);
  reject.set_rejecthint(0);
  ASSERT_TRUE(r->Step(reject).ok());
  std::vector<raftpb::Message> msgs = ReadMessages(r);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].type(), raftpb::MsgSnap);
  EXPECT_EQ(msgs[0].snapshot().metadata().index(), 11u);
  const Progress* pr = r->tracker().Find(2);
  EXPECT_EQ(pr->state, ProgressState::kSnapshot);
  EXPECT_EQ(pr->pending_snapshot, 11u);
  // Nothing more is sent while the snapshot is in flight.
  raftpb::Message prop = MakeMsg(1, 1, raftpb::MsgProp);
  prop.add_entries()->set_data("x");
  ASSERT_TRUE(r->Step(prop).ok());
  EXPECT_TRUE(ReadMessages(r).empty());
  // Reported success: probe again right after the snapshot.
  raftpb::Message status = MakeMsg(2, 1, raftpb::MsgSnapStatus);
  ASSERT_TRUE(r->Step(status).ok());
  EXPECT_EQ(pr->state, ProgressState::kProbe);
  EXPECT_EQ(pr->next, 12u);
}

TEST(Paper_7_Compaction, FailedSnapshotResetsToProbe) {
  auto storage = std::make_unique<MemoryStorage>();
  ASSERT_TRUE(storage->ApplySnapshot(MakeSnapshot(11, 11, {1, 2})).ok());
  TestNode r = NewTestRaft(1, 10, 1, {1, 2}, nullptr, std::move(storage));
  r->BecomeCandidate();
  r->BecomeLeader();
  ReadMessages(r);
  raftpb::Message reject = MakeMsg(2, 1, raftpb::MsgAppResp, r->term());
  reject.set_index(11);
  reject.set_reject(true);
  ASSERT_TRUE(r->Step(reject).ok());
  ReadMessages(r);
  raftpb::Message status = MakeMsg(2, 1, raftpb::MsgSnapStatus);
  status.set_reject(true);
  ASSERT_TRUE(r->Step(status).ok());
  const Progress* pr = r->tracker().Find(2);
  EXPECT_EQ(pr->state, ProgressState::kProbe);
  EXPECT_EQ(pr->pending_snapshot, 0u);
  EXPECT_TRUE(pr->probe_sent);  // Wait for a heartbeat before retrying.
}

TEST(Paper_7_Compaction, RejectionRevivesInactiveFollowerForSnapshot) {
  auto storage = std::make_unique<MemoryStorage>();
  ASSERT_TRUE(storage->ApplySnapshot(MakeSnapshot(11, 11, {1, 2})).ok());
  TestNode r = NewTestRaft(1, 10, 1, {1, 2}, nullptr, std::move(storage));
  r->BecomeCandidate();
  r->BecomeLeader();
  ReadMessages(r);
  // Mark the follower inactive (as CheckQuorum would), then make it need a snapshot.
  const_cast<Progress*>(r->tracker().Find(2))->recent_active = false;
  raftpb::Message reject = MakeMsg(2, 1, raftpb::MsgAppResp, r->term());
  reject.set_index(11);
  reject.set_reject(true);
  ASSERT_TRUE(r->Step(reject).ok());
  // The response itself proves activity, so the snapshot goes out.
  EXPECT_EQ(r->tracker().Find(2)->state, ProgressState::kSnapshot);
}

TEST(Paper_7_Compaction, RestartFromSnapshotRestoresConfigAndCommit) {
  auto storage = std::make_unique<MemoryStorage>();
  ASSERT_TRUE(storage->ApplySnapshot(MakeSnapshot(11, 11, {1, 2, 3})).ok());
  raftpb::HardState hs;
  hs.set_term(11);
  hs.set_commit(11);
  storage->SetHardState(hs);
  TestNode r = NewTestRaft(1, 10, 1, {}, nullptr, std::move(storage));
  EXPECT_EQ(r->log().committed(), 11u);
  EXPECT_EQ(r->log().applied(), 10u + 1);
  EXPECT_EQ(r->term(), 11u);
  EXPECT_EQ(Voters(r->tracker().ConfState()), (std::vector<uint64_t>{1, 2, 3}));
}

}  // namespace
}  // namespace keel::raft
