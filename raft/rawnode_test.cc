// The RawNode contract: Create validation, the Ready/Advance protocol (what must be
// persisted before what may be sent), Status, and the error codes callers branch on.
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "raft/errors.h"
#include "raft/rawnode.h"
#include "raft/testing/test_util.h"

namespace keel::raft {
namespace {

struct Fixture {
  MemoryStorage storage;
  SplitMix64Source random{42};
  std::unique_ptr<RawNode> node;

  explicit Fixture(uint64_t id, std::vector<uint64_t> voters,
                   std::function<void(Config&)> tweak = nullptr) {
    raftpb::ConfState cs;
    for (uint64_t v : voters) cs.add_voters(v);
    storage.SetInitialConfState(cs);
    Start(id, tweak);
  }
  void Start(uint64_t id, std::function<void(Config&)> tweak = nullptr) {
    Config c;
    c.id = id;
    c.storage = &storage;
    c.random = &random;
    if (tweak) tweak(c);
    auto n = RawNode::Create(c);
    EXPECT_TRUE(n.ok()) << n.status();
    node = *std::move(n);
  }
  // Persists a Ready the way the contract says and advances.
  Ready Handle() {
    Ready rd = node->GetReady();
    if (rd.snapshot) {
      EXPECT_TRUE(storage.ApplySnapshot(*rd.snapshot).ok());
    }
    EXPECT_TRUE(storage.Append(rd.entries).ok());
    if (rd.hard_state) storage.SetHardState(*rd.hard_state);
    node->Advance();
    return rd;
  }
};

TEST(RawNode, CreateRejectsInvalidConfig) {
  MemoryStorage storage;
  SplitMix64Source random(1);
  auto make = [&](std::function<void(Config&)> tweak) {
    Config c;
    c.id = 1;
    c.storage = &storage;
    c.random = &random;
    tweak(c);
    return RawNode::Create(c).status();
  };
  EXPECT_EQ(make([](Config& c) { c.id = 0; }).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(make([](Config& c) { c.heartbeat_tick = 0; }).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(make([](Config& c) { c.election_tick = 1; }).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(make([](Config& c) { c.storage = nullptr; }).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(make([](Config& c) { c.random = nullptr; }).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(make([](Config& c) { c.max_inflight_msgs = 0; }).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(make([](Config& c) { c.read_only_option = ReadOnlyOption::kLeaseBased; }).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(make([](Config& c) { c.max_inflight_bytes = 10; }).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(make([](Config&) {}).ok());
}

TEST(RawNode, CreateRejectsCommitBeyondLog) {
  MemoryStorage storage;
  raftpb::HardState hs;
  hs.set_term(1);
  hs.set_commit(5);  // The log is empty: storage lost entries.
  storage.SetHardState(hs);
  SplitMix64Source random(1);
  Config c;
  c.id = 1;
  c.storage = &storage;
  c.random = &random;
  EXPECT_EQ(RawNode::Create(c).status().code(), absl::StatusCode::kDataLoss);
}

TEST(RawNode, SingleNodeCampaignsProposesAndCommits) {
  Fixture f(1, {1});
  ASSERT_TRUE(f.node->Campaign().ok());
  ASSERT_TRUE(f.node->HasReady());
  Ready rd = f.Handle();
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_EQ(rd.hard_state->term(), 1u);
  EXPECT_EQ(rd.hard_state->vote(), 1u);
  EXPECT_TRUE(rd.must_sync);
  // Our own vote was counted on Advance: we lead now.
  EXPECT_EQ(f.node->raft().state(), StateType::kLeader);
  for (int i = 0; i < 5 && f.node->HasReady(); ++i) f.Handle();
  ASSERT_TRUE(f.node->Propose("hello").ok());
  std::vector<std::string> applied;
  for (int i = 0; i < 5 && f.node->HasReady(); ++i) {
    for (const auto& e : f.Handle().committed_entries) {
      if (!e.data().empty()) applied.push_back(e.data());
    }
  }
  EXPECT_EQ(applied, std::vector<std::string>{"hello"});
}

TEST(RawNode, HasReadyIsFalseWhileReadyOutstanding) {
  Fixture f(1, {1, 2, 3});
  ASSERT_TRUE(f.node->Campaign().ok());
  ASSERT_TRUE(f.node->HasReady());
  Ready rd = f.node->GetReady();
  EXPECT_FALSE(f.node->HasReady());
  // Inputs are still accepted while the Ready is being persisted.
  f.node->Tick();
  f.node->Advance();
  EXPECT_FALSE(f.node->HasReady() && f.node->raft().state() == StateType::kLeader);
}

// Votes and append acks vouch for durable state: they are in messages_after_persist.
TEST(RawNode, FollowerAcksAreOnlySendableAfterPersist) {
  Fixture f(2, {1, 2, 3});
  raftpb::Message vote = testing::MakeMsg(1, 2, raftpb::MsgVote, 1);
  ASSERT_TRUE(f.node->Step(vote).ok());
  Ready rd = f.Handle();
  EXPECT_TRUE(rd.messages.empty());
  ASSERT_EQ(rd.messages_after_persist.size(), 1u);
  EXPECT_EQ(rd.messages_after_persist[0].type(), raftpb::MsgVoteResp);
  EXPECT_TRUE(rd.must_sync);

  raftpb::Message app = testing::MakeMsg(1, 2, raftpb::MsgApp, 1);
  *app.add_entries() = testing::MakeEntry(1, 1, "x");
  ASSERT_TRUE(f.node->Step(app).ok());
  rd = f.Handle();
  EXPECT_EQ(rd.entries.size(), 1u);
  ASSERT_EQ(rd.messages_after_persist.size(), 1u);
  EXPECT_EQ(rd.messages_after_persist[0].type(), raftpb::MsgAppResp);
}

// Thesis §10.2.1: the leader's appends go out before its own fsync, but its own log only
// counts towards a quorum once Advance() confirms it is durable.
TEST(RawNode, LeaderSendsAppendsBeforePersistingButCountsItselfAfter) {
  Fixture f(1, {1, 2, 3});
  ASSERT_TRUE(f.node->Campaign().ok());
  f.Handle();
  for (uint64_t id : {2u, 3u}) {
    ASSERT_TRUE(f.node->Step(testing::MakeMsg(id, 1, raftpb::MsgVoteResp, 1)).ok());
  }
  ASSERT_EQ(f.node->raft().state(), StateType::kLeader);
  Ready rd = f.node->GetReady();  // Holds the leader's empty entry.
  ASSERT_EQ(rd.entries.size(), 1u);
  bool sent_app = false;
  for (const auto& m : rd.messages) sent_app |= m.type() == raftpb::MsgApp;
  EXPECT_TRUE(sent_app) << "MsgApp must be sendable before the leader persists";
  // Node 2 acks before the leader's own write finished: 1 of 3 durable, no commit.
  raftpb::Message ack = testing::MakeMsg(2, 1, raftpb::MsgAppResp, 1);
  ack.set_index(1);
  ASSERT_TRUE(f.node->Step(ack).ok());
  EXPECT_EQ(f.node->raft().log().committed(), 0u);
  // Now the leader's write completes: 2 of 3 durable, committed.
  ASSERT_TRUE(f.storage.Append(rd.entries).ok());
  if (rd.hard_state) f.storage.SetHardState(*rd.hard_state);
  f.node->Advance();
  EXPECT_EQ(f.node->raft().log().committed(), 1u);
}

TEST(RawNode, CommitOnlyHardStateChangeNeedsNoSync) {
  Fixture f(2, {1, 2, 3});
  raftpb::Message app = testing::MakeMsg(1, 2, raftpb::MsgApp, 1);
  *app.add_entries() = testing::MakeEntry(1, 1, "x");
  ASSERT_TRUE(f.node->Step(app).ok());
  f.Handle();
  raftpb::Message hb = testing::MakeMsg(1, 2, raftpb::MsgHeartbeat, 1);
  hb.set_commit(1);
  ASSERT_TRUE(f.node->Step(hb).ok());
  Ready rd = f.Handle();
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_EQ(rd.hard_state->commit(), 1u);
  EXPECT_FALSE(rd.must_sync);
  ASSERT_EQ(rd.committed_entries.size(), 1u);
}

TEST(RawNode, RestartKeepsPersistedState) {
  Fixture f(1, {1});
  ASSERT_TRUE(f.node->Campaign().ok());
  for (int i = 0; i < 5 && f.node->HasReady(); ++i) f.Handle();
  ASSERT_TRUE(f.node->Propose("kept").ok());
  for (int i = 0; i < 5 && f.node->HasReady(); ++i) f.Handle();
  const uint64_t term = f.node->raft().term();
  const uint64_t last = f.node->raft().log().LastIndex();
  f.Start(1, [&](Config& c) { c.applied = last; });
  EXPECT_EQ(f.node->raft().term(), term);
  EXPECT_EQ(f.node->raft().vote(), 1u);
  EXPECT_EQ(f.node->raft().log().LastIndex(), last);
  EXPECT_EQ(f.node->raft().state(), StateType::kFollower);
  EXPECT_FALSE(f.node->raft().log().HasNextCommittedEntries());
}

TEST(RawNode, StepRefusesLocalMessagesAndUnknownResponders) {
  Fixture f(1, {1, 2});
  EXPECT_EQ(f.node->Step(testing::MakeMsg(2, 1, raftpb::MsgHup)).code(),
            ErrStepLocalMsg().code());
  EXPECT_EQ(f.node->Step(testing::MakeMsg(9, 1, raftpb::MsgAppResp, 1)).code(),
            ErrStepPeerNotFound().code());
}

TEST(RawNode, StatusReportsProgressOnLeader) {
  Fixture f(1, {1});
  NodeStatus before = f.node->GetStatus();
  EXPECT_EQ(before.role, StateType::kFollower);
  EXPECT_TRUE(before.progress.empty());
  ASSERT_TRUE(f.node->Campaign().ok());
  for (int i = 0; i < 5 && f.node->HasReady(); ++i) f.Handle();
  NodeStatus s = f.node->GetStatus();
  EXPECT_EQ(s.id, 1u);
  EXPECT_EQ(s.role, StateType::kLeader);
  EXPECT_EQ(s.lead, 1u);
  EXPECT_EQ(s.term, 1u);
  EXPECT_EQ(s.commit, 1u);
  EXPECT_EQ(s.applied, 1u);
  ASSERT_EQ(s.progress.size(), 1u);
  EXPECT_EQ(s.progress.at(1).match, 1u);
  EXPECT_NE(s.ToString().find("StateLeader"), std::string::npos);
}

TEST(RawNode, ApplyConfChangeReportsInvalidChange) {
  Fixture f(1, {1});
  raftpb::ConfChange cc;
  cc.set_type(raftpb::ConfChangeRemoveNode);
  cc.set_node_id(1);
  auto cs = f.node->ApplyConfChange(cc);
  EXPECT_EQ(cs.status().code(), absl::StatusCode::kInvalidArgument);
  cc.set_type(raftpb::ConfChangeAddNode);
  cc.set_node_id(2);
  cs = f.node->ApplyConfChange(cc);
  ASSERT_TRUE(cs.ok());
  EXPECT_EQ(cs->voters_size(), 2);
}

TEST(RawNode, ProposalDroppedWhenUncommittedCapReached) {
  Fixture f(1, {1, 2, 3}, [](Config& c) { c.max_uncommitted_entries_size = 8; });
  ASSERT_TRUE(f.node->Campaign().ok());
  f.Handle();
  for (uint64_t id : {2u, 3u}) {
    ASSERT_TRUE(f.node->Step(testing::MakeMsg(id, 1, raftpb::MsgVoteResp, 1)).ok());
  }
  ASSERT_TRUE(f.node->Propose("12345").ok());
  absl::Status s = f.node->Propose("12345");
  EXPECT_TRUE(IsErrProposalDropped(s)) << s;
  EXPECT_NE(s.message().find("uncommitted"), std::string::npos);
}

TEST(RawNode, LoggerHookReceivesLinesOnlyWhenSet) {
  std::vector<std::string> lines;
  Fixture f(1, {1}, [&](Config& c) {
    c.logger = [&](std::string_view l) { lines.emplace_back(l); };
  });
  ASSERT_TRUE(f.node->Campaign().ok());
  ASSERT_FALSE(lines.empty());
  bool saw_candidate = false;
  for (const auto& l : lines) saw_candidate |= l.find("became candidate") != std::string::npos;
  EXPECT_TRUE(saw_candidate);
}

TEST(RawNode, ReportUnreachableMovesReplicatingPeerToProbe) {
  Fixture f(1, {1, 2});
  ASSERT_TRUE(f.node->Campaign().ok());
  f.Handle();
  ASSERT_TRUE(f.node->Step(testing::MakeMsg(2, 1, raftpb::MsgVoteResp, 1)).ok());
  f.Handle();
  raftpb::Message ack = testing::MakeMsg(2, 1, raftpb::MsgAppResp, 1);
  ack.set_index(1);
  ASSERT_TRUE(f.node->Step(ack).ok());
  ASSERT_EQ(f.node->GetStatus().progress.at(2).state, ProgressState::kReplicate);
  f.node->ReportUnreachable(2);
  EXPECT_EQ(f.node->GetStatus().progress.at(2).state, ProgressState::kProbe);
}

}  // namespace
}  // namespace keel::raft
