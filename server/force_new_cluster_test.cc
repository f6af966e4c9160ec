#include "server/force_new_cluster.h"

#include "gtest/gtest.h"

namespace keel::server {
namespace {

raftpb::Entry ConfEntry(uint64_t index, uint64_t term, raftpb::ConfChangeType type, uint64_t id) {
  raftpb::ConfChange cc;
  cc.set_type(type);
  cc.set_node_id(id);
  raftpb::Entry e;
  e.set_type(raftpb::EntryConfChange);
  e.set_index(index);
  e.set_term(term);
  e.set_data(cc.SerializeAsString());
  return e;
}

raftpb::Entry Normal(uint64_t index, uint64_t term) {
  raftpb::Entry e;
  e.set_index(index);
  e.set_term(term);
  e.set_data("x");
  return e;
}

TEST(ForceNewClusterTest, RemovesEveryOtherCommittedMemberAfterTheCommitIndex) {
  // Snapshot at 10 with voters 1,2,3; the log adds 4 (committed), removes 2 (committed),
  // then holds entries past the commit index, one of them adding 5 (never committed).
  raftpb::ConfState cs;
  cs.add_voters(1);
  cs.add_voters(2);
  cs.add_voters(3);
  std::vector<raftpb::Entry> log = {
      ConfEntry(11, 4, raftpb::ConfChangeAddLearnerNode, 4), Normal(12, 4),
      ConfEntry(13, 4, raftpb::ConfChangeRemoveNode, 2),      Normal(14, 5),
      ConfEntry(15, 5, raftpb::ConfChangeAddNode, 5),         Normal(16, 5)};
  raftpb::HardState hs;
  hs.set_term(6);
  hs.set_vote(3);
  hs.set_commit(14);
  auto forced = MakeStandaloneLog(3, cs, log, hs);
  ASSERT_TRUE(forced.ok()) << forced.status();
  EXPECT_EQ(forced->removed_ids, (std::vector<uint64_t>{1, 4}));
  ASSERT_EQ(forced->appended.size(), 2u);
  // Appended right after the commit index (overwriting 15 and 16), in the current term.
  EXPECT_EQ(forced->appended[0].index(), 15u);
  EXPECT_EQ(forced->appended[1].index(), 16u);
  EXPECT_EQ(forced->appended[0].term(), 6u);
  raftpb::ConfChange cc;
  ASSERT_TRUE(cc.ParseFromString(forced->appended[1].data()));
  EXPECT_EQ(cc.type(), raftpb::ConfChangeRemoveNode);
  EXPECT_EQ(cc.node_id(), 4u);
  EXPECT_EQ(forced->hard_state.commit(), 16u);
  EXPECT_EQ(forced->hard_state.term(), 6u);
  EXPECT_EQ(forced->hard_state.vote(), 3u);
  ASSERT_EQ(forced->entries.size(), 6u);  // 11..14 kept, 15..16 the removals
  EXPECT_EQ(forced->entries[3].data(), "x");
  EXPECT_EQ(forced->entries[4].SerializeAsString(), forced->appended[0].SerializeAsString());
}

TEST(ForceNewClusterTest, AloneAlreadyAppendsNothingAndRemovedMemberIsRefused) {
  raftpb::ConfState cs;
  cs.add_voters(7);
  raftpb::HardState hs;
  hs.set_term(2);
  hs.set_commit(3);
  auto alone = MakeStandaloneLog(7, cs, {}, hs);
  ASSERT_TRUE(alone.ok());
  EXPECT_TRUE(alone->appended.empty());
  EXPECT_EQ(alone->hard_state.commit(), 3u);
  // A member whose own removal is committed cannot make itself a cluster.
  auto removed = MakeStandaloneLog(7, cs, {ConfEntry(4, 2, raftpb::ConfChangeRemoveNode, 7)},
                                   [] { raftpb::HardState h; h.set_term(2); h.set_commit(4); return h; }());
  EXPECT_EQ(removed.status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace keel::server
