// The wire-format peek behind raft.send: it must read exactly what protobuf wrote, ignore
// frames that are not Raft messages, and refuse garbage without reading past it.
#include "sim/cluster/raft_trace.h"

#include <string>

#include "gtest/gtest.h"
#include "raft/raftpb/raft.pb.h"
#include "server/serverpb/internal.pb.h"

namespace keel::sim {
namespace {

raftpb::Message App() {
  raftpb::Message m;
  m.set_type(raftpb::MsgApp);
  m.set_to(17271105591216381163u);  // 64-bit member ids, as in keelsim
  m.set_from(1125978668410061015u);
  m.set_term(7);
  m.set_logterm(6);
  m.set_index(41);
  m.set_commit(40);
  for (uint64_t i = 42; i <= 44; ++i) {
    raftpb::Entry* e = m.add_entries();
    e->set_term(7);
    e->set_index(i);
    e->set_data(std::string(300, 'x'));  // multi-byte lengths
  }
  return m;
}

TEST(PeekPeerFrame, ReadsTheRaftMessageOfAPeerFrame) {
  serverpb::PeerMessage frame;
  *frame.mutable_raft() = App();
  const std::optional<PeekedRaftMessage> m = PeekPeerFrame(frame.SerializeAsString());
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->type, raftpb::MsgApp);
  EXPECT_EQ(m->to, 17271105591216381163u);
  EXPECT_EQ(m->from, 1125978668410061015u);
  EXPECT_EQ(m->term, 7u);
  EXPECT_EQ(m->log_term, 6u);
  EXPECT_EQ(m->index, 41u);
  EXPECT_EQ(m->commit, 40u);
  EXPECT_EQ(m->entries, 3u);
  EXPECT_EQ(m->last_entry, 44u);
  EXPECT_FALSE(m->reject);

  raftpb::Message resp;
  resp.set_type(raftpb::MsgVoteResp);
  resp.set_to(2);
  resp.set_from(3);
  resp.set_term(9);
  resp.set_reject(true);
  *frame.mutable_raft() = resp;
  const std::optional<PeekedRaftMessage> r = PeekPeerFrame(frame.SerializeAsString());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->type, raftpb::MsgVoteResp);
  EXPECT_TRUE(r->reject);
  EXPECT_EQ(r->entries, 0u);
  EXPECT_EQ(r->last_entry, 0u);
}

// The server adds its peer URLs to MsgApp, MsgHeartbeat, MsgVote and MsgPreVote frames and
// a term to forwarded proposals: the peeks must still see the message (coverage counted
// zero pre-votes and ReadIndex batches while they did not).
TEST(PeekPeerFrame, ReadsTheMessageWhenTheEnvelopeCarriesMoreFields) {
  serverpb::PeerMessage frame;
  raftpb::Message prevote;
  prevote.set_type(raftpb::MsgPreVote);
  prevote.set_to(2);
  prevote.set_from(1);
  prevote.set_term(5);
  *frame.mutable_raft() = prevote;
  frame.add_sender_peer_urls("http://127.0.0.1:2380");
  frame.set_proposal_term(4);
  const std::string bytes = frame.SerializeAsString();
  EXPECT_EQ(PeekPeerFrameType(bytes), std::optional<uint64_t>(raftpb::MsgPreVote));
  const std::optional<PeekedRaftMessage> m = PeekPeerFrame(bytes);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->type, raftpb::MsgPreVote);
  EXPECT_EQ(m->term, 5u);
  EXPECT_EQ(m->from, 1u);
}

TEST(PeekPeerFrame, IgnoresOtherFramesAndGarbage) {
  serverpb::PeerMessage chunk;
  chunk.mutable_snapshot_chunk()->set_transfer_id(5);
  chunk.mutable_snapshot_chunk()->set_data("abc");
  EXPECT_FALSE(PeekPeerFrame(chunk.SerializeAsString()).has_value());
  EXPECT_FALSE(PeekPeerFrame("").has_value());
  EXPECT_FALSE(PeekPeerFrame("\xff\xff\xff").has_value());
  serverpb::PeerMessage frame;
  *frame.mutable_raft() = App();
  const std::string bytes = frame.SerializeAsString();
  // Every truncation is refused (lengths are checked before anything is read).
  for (size_t n = 1; n < bytes.size(); n += 7) {
    EXPECT_FALSE(PeekPeerFrame(bytes.substr(0, n)).has_value()) << n;
  }
  // A local message type (MsgHup) is not a peer message.
  raftpb::Message hup;
  hup.set_type(raftpb::MsgHup);
  *frame.mutable_raft() = hup;
  EXPECT_FALSE(PeekPeerFrame(frame.SerializeAsString()).has_value());
}

TEST(PeekPeerFrameType, ReadsTheTypeAloneAndAgreesWithTheFullPeek) {
  serverpb::PeerMessage frame;
  *frame.mutable_raft() = App();
  EXPECT_EQ(PeekPeerFrameType(frame.SerializeAsString()), std::optional<uint64_t>(raftpb::MsgApp));
  raftpb::Message heartbeat;
  heartbeat.set_type(raftpb::MsgHeartbeat);
  heartbeat.set_context("read-7");
  *frame.mutable_raft() = heartbeat;
  EXPECT_EQ(PeekPeerFrameType(frame.SerializeAsString()), std::optional<uint64_t>(raftpb::MsgHeartbeat));
  EXPECT_EQ(PeekPeerFrame(frame.SerializeAsString())->context, "read-7");
  serverpb::PeerMessage chunk;
  chunk.mutable_snapshot_chunk()->set_transfer_id(5);
  EXPECT_FALSE(PeekPeerFrameType(chunk.SerializeAsString()).has_value());
  EXPECT_FALSE(PeekPeerFrameType("").has_value());
}

}  // namespace
}  // namespace keel::sim
