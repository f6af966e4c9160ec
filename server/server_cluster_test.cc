// The server core on a simulated 3-member cluster (no faults): etcd behaviours that cross
// members — publishing client URLs, answering through followers, leases forwarded to the
// leader, response headers — checked against etcd 3.4's answers.
#include <algorithm>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/serverpb/internal.pb.h"
#include "sim/cluster/cluster.h"
#include "sim/cluster/scenario.h"
#include "sim/world.h"

namespace keel::server {
namespace {

constexpr int64_t kMs = 1'000'000;

class ServerClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    scenario_.seed = 1;
    scenario_.nodes = 3;
    scenario_.heartbeat_ms = 10;
    scenario_.election_ms = 100;
    scenario_.snapshot_count = 1000;
    scenario_.network.drop_probability = 0;
    scenario_.network.duplicate_probability = 0;
    // As keeld: a restarted member's Loop clock starts over (it counts from process start).
    scenario_.restart_starts_loop_clock_over = true;
    auto cluster = sim::SimCluster::Create(&world_, scenario_);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
    for (int i = 0; i < 200 && Leader() < 0; ++i) world_.RunUntil(world_.now_ns() + 10 * kMs);
    ASSERT_GE(Leader(), 0) << "no leader elected";
    world_.RunUntil(world_.now_ns() + 500 * kMs);  // members publish their client URLs
  }
  void TearDown() override { cluster_.reset(); }

  int Leader() { return cluster_->Leader(); }
  int Follower() { return (Leader() + 1) % cluster_->size(); }

  // Runs `call` on member i's loop and the world until its callback delivered a result.
  template <typename Response, typename Call>
  absl::StatusOr<Response> On(int i, Call call) {
    std::optional<absl::StatusOr<Response>> result;
    ServerImpl* s = cluster_->server(i);
    cluster_->env(i).loop()->Post([&, s]() {
      call(s, [&](absl::StatusOr<Response> r) { result = std::move(r); });
    });
    for (int step = 0; step < 100000 && !result.has_value(); ++step) {
      if (!world_.Step()) break;
    }
    EXPECT_TRUE(result.has_value()) << "no answer";
    if (!result.has_value()) return absl::InternalError("no answer");
    return *std::move(result);
  }

  sim::World world_{1};
  sim::Scenario scenario_;
  std::unique_ptr<sim::SimCluster> cluster_;
};

TEST_F(ServerClusterTest, PutOnFollowerThenLinearizableReadOnAnotherMember) {
  etcdserverpb::PutRequest put;
  put.set_key("a");
  put.set_value("1");
  auto p = On<etcdserverpb::PutResponse>(Follower(), [&](ServerImpl* s, auto done) { s->Put(put, done); });
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->header().revision(), 2);  // etcd: an empty store is at revision 1
  EXPECT_EQ(p->header().member_id(), cluster_->member_id(Follower()));
  EXPECT_NE(p->header().cluster_id(), 0u);

  etcdserverpb::RangeRequest get;
  get.set_key("a");
  auto r = On<etcdserverpb::RangeResponse>(Leader(), [&](ServerImpl* s, auto done) { s->Range(get, done); });
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->kvs_size(), 1);
  EXPECT_EQ(r->kvs(0).value(), "1");
  EXPECT_EQ(r->kvs(0).mod_revision(), 2);
}

// Every member's first ReadIndex batch has sequence number 1. The leader keeps one pending
// read per distinct context and answers a repeated one once, so unless contexts name their
// member, two of these three reads were merged into another member's and waited for the
// ReadIndex retry timer (50 ms here) instead of one heartbeat round (a few ms).
TEST_F(ServerClusterTest, SimultaneousLinearizableReadsOnEveryMemberEachTakeOneRound) {
  etcdserverpb::RangeRequest get;
  get.set_key("a");
  const int n = static_cast<int>(cluster_->size());
  std::vector<std::optional<absl::StatusOr<etcdserverpb::RangeResponse>>> results(n);
  std::vector<int64_t> answered_at(n, 0);
  const int64_t start = world_.now_ns();
  for (int i = 0; i < n; ++i) {
    ServerImpl* s = cluster_->server(i);
    cluster_->env(i).loop()->Post([&, s, i]() {
      s->Range(get, [&, i](absl::StatusOr<etcdserverpb::RangeResponse> r) {
        results[i] = std::move(r);
        answered_at[i] = world_.now_ns();
      });
    });
  }
  auto all_answered = [&] {
    for (const auto& r : results) {
      if (!r.has_value()) return false;
    }
    return true;
  };
  for (int step = 0; step < 100000 && !all_answered(); ++step) {
    if (!world_.Step()) break;
  }
  ASSERT_TRUE(all_answered());
  // The retry interval is max(2 heartbeats, election / 2) = 50 ms in this scenario.
  const int64_t retry_ns = std::max(2 * scenario_.heartbeat_ms, scenario_.election_ms / 2) * kMs;
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(results[i]->ok()) << "member " << i << ": " << results[i]->status();
    EXPECT_LT(answered_at[i] - start, retry_ns) << "member " << i << " waited for a ReadIndex retry";
  }
}

TEST_F(ServerClusterTest, MemberListShowsEveryMembersPublishedClientUrls) {
  auto list = On<etcdserverpb::MemberListResponse>(
      Follower(), [&](ServerImpl* s, auto done) { s->MemberList({}, done); });
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->members_size(), 3);
  for (const etcdserverpb::Member& m : list->members()) {
    EXPECT_EQ(m.clienturls_size(), 1) << m.name();
    EXPECT_FALSE(m.name().empty());
  }
}

TEST_F(ServerClusterTest, StatusReportsLeaderAndANonEmptyDatabase) {
  auto status = On<etcdserverpb::StatusResponse>(
      Follower(), [&](ServerImpl* s, auto done) { s->Status({}, done); });
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->leader(), cluster_->member_id(Leader()));
  EXPECT_GT(status->dbsize(), 0);
  EXPECT_GE(status->raftappliedindex(), 3u);
}

TEST_F(ServerClusterTest, MoveLeaderToANonMemberFailsAsInEtcd) {
  etcdserverpb::MoveLeaderRequest move;
  move.set_targetid(12345);
  auto r = On<etcdserverpb::MoveLeaderResponse>(Leader(), [&](ServerImpl* s, auto done) {
    s->MoveLeader(move, done);
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(r.status().message(), "etcdserver: bad leader transferee");
}

// A transfer to a voter that never takes over times out with etcd 3.4's own text
// (ErrGRPCTimeoutLeaderTransfer), not the generic "request timed out" (found by keelsim's
// move-leader check).
TEST_F(ServerClusterTest, MoveLeaderToADownVoterTimesOutAsInEtcd) {
  const int follower = Follower();
  etcdserverpb::MoveLeaderRequest move;
  move.set_targetid(cluster_->member_id(follower));
  cluster_->Crash(follower);
  auto r = On<etcdserverpb::MoveLeaderResponse>(Leader(), [&](ServerImpl* s, auto done) {
    s->MoveLeader(move, done);
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(r.status().message(), "etcdserver: request timed out, leader transfer took too long");
}

TEST_F(ServerClusterTest, NestedTxnResponsesCarryOnlyTheRevision) {
  etcdserverpb::TxnRequest txn;
  txn.add_success()->mutable_request_put()->set_key("t");
  txn.mutable_success(0)->mutable_request_put()->set_value("v");
  txn.add_success()->mutable_request_range()->set_key("t");
  auto r = On<etcdserverpb::TxnResponse>(Leader(), [&](ServerImpl* s, auto done) { s->Txn(txn, done); });
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->responses_size(), 2);
  const etcdserverpb::ResponseHeader& nested = r->responses(1).response_range().header();
  EXPECT_EQ(nested.revision(), r->header().revision());
  EXPECT_EQ(nested.cluster_id(), 0u);  // etcd fills only the revision in nested headers
  EXPECT_EQ(nested.member_id(), 0u);
}

TEST_F(ServerClusterTest, KeepAliveAndTimeToLiveThroughAFollowerAnswerAsTheFollower) {
  etcdserverpb::LeaseGrantRequest grant;
  grant.set_ttl(60);
  auto g = On<etcdserverpb::LeaseGrantResponse>(Follower(), [&](ServerImpl* s, auto done) {
    s->LeaseGrant(grant, done);
  });
  ASSERT_TRUE(g.ok()) << g.status();
  etcdserverpb::LeaseKeepAliveRequest ka;
  ka.set_id(g->id());
  auto k = On<etcdserverpb::LeaseKeepAliveResponse>(Follower(), [&](ServerImpl* s, auto done) {
    s->LeaseKeepAlive(ka, done);
  });
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_EQ(k->ttl(), 60) << "lease " << g->id() << " leader has it: "
                          << cluster_->server(Leader())->Stats().leader_id;
  EXPECT_EQ(k->header().member_id(), cluster_->member_id(Follower()));
  etcdserverpb::LeaseTimeToLiveRequest ttl;
  ttl.set_id(g->id());
  auto t = On<etcdserverpb::LeaseTimeToLiveResponse>(Follower(), [&](ServerImpl* s, auto done) {
    s->LeaseTimeToLive(ttl, done);
  });
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->grantedttl(), 60);
  EXPECT_GT(t->ttl(), 0);
  EXPECT_EQ(t->header().member_id(), cluster_->member_id(Follower()));
}

TEST_F(ServerClusterTest, LeaseRevokeDeletesAttachedKeysInOneRevision) {
  etcdserverpb::LeaseGrantRequest grant;
  grant.set_ttl(60);
  auto g = On<etcdserverpb::LeaseGrantResponse>(Leader(), [&](ServerImpl* s, auto done) {
    s->LeaseGrant(grant, done);
  });
  ASSERT_TRUE(g.ok());
  for (const char* key : {"l1", "l2", "l3"}) {
    etcdserverpb::PutRequest put;
    put.set_key(key);
    put.set_value("x");
    put.set_lease(g->id());
    ASSERT_TRUE((On<etcdserverpb::PutResponse>(Leader(), [&](ServerImpl* s, auto done) { s->Put(put, done); })).ok());
  }
  etcdserverpb::LeaseRevokeRequest revoke;
  revoke.set_id(g->id());
  auto rv = On<etcdserverpb::LeaseRevokeResponse>(Follower(), [&](ServerImpl* s, auto done) {
    s->LeaseRevoke(revoke, done);
  });
  ASSERT_TRUE(rv.ok()) << rv.status();
  etcdserverpb::RangeRequest all;
  all.set_key("l");
  all.set_range_end("m");
  auto r = On<etcdserverpb::RangeResponse>(Leader(), [&](ServerImpl* s, auto done) { s->Range(all, done); });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kvs_size(), 0);
  EXPECT_EQ(r->header().revision(), rv->header().revision());
  // Three puts then one revoke revision.
  EXPECT_EQ(rv->header().revision(), g->header().revision() + 4);
}

// A forwarded proposal (MsgProp) is executed at most once, however often and however late
// the network delivers it: only the leader of the term its sender stamped on it appends it,
// once. Seed 3555: a follower's forwarded put, duplicated by the network, was appended by
// the leader from the first copy and acknowledged; the other copy, 3.2 s late, reached
// that old leader after a crash (its memory of seen request IDs gone) as a follower, which
// forwarded it to the new leader, which executed the put a second time.
TEST_F(ServerClusterTest, ForwardedProposalIsExecutedAtMostOnce) {
  const int leader = Leader();
  const int follower = Follower();
  const int other = (Leader() + 2) % cluster_->size();
  const uint64_t term = cluster_->server(leader)->raft_node().raft().term();
  serverpb::InternalRaftRequest request;
  request.mutable_header()->set_id(0x5eed3555);
  request.mutable_put()->set_key("once");
  request.mutable_put()->set_value("v");
  // A copy of `follower`'s forwarded proposal, stamped with `stamp`, delivered to member i.
  auto deliver = [&](int i, uint64_t stamp) {
    serverpb::PeerMessage message;
    message.set_proposal_term(stamp);
    raftpb::Message* m = message.mutable_raft();
    m->set_type(raftpb::MsgProp);
    m->set_from(cluster_->member_id(follower));
    m->set_to(cluster_->member_id(i));
    m->add_entries()->set_data(request.SerializeAsString());
    ServerImpl* s = cluster_->server(i);
    const uint64_t from = cluster_->member_id(follower);
    const std::string payload = message.SerializeAsString();
    cluster_->env(i).loop()->Post([s, from, payload]() { s->OnMessage(from, payload); });
    world_.RunUntil(world_.now_ns() + 200 * kMs);
  };
  auto revision = [&]() { return cluster_->server(leader)->store().current_revision(); };
  const int64_t before = revision();

  // A late copy reaching a follower is not forwarded to the leader (which never saw it).
  deliver(other, term);
  EXPECT_EQ(revision(), before);
  // A copy stamped with another term than the leader's is not appended.
  deliver(leader, term - 1);
  deliver(leader, 0);
  EXPECT_EQ(revision(), before);
  // The copy for the leader's own term is executed, once, however often it arrives.
  deliver(leader, term);
  EXPECT_EQ(revision(), before + 1);
  deliver(leader, term);
  deliver(other, term);
  EXPECT_EQ(revision(), before + 1);
  EXPECT_EQ(cluster_->server(leader)->raft_node().raft().term(), term);  // no election meanwhile
}

// keeld's Loop clock starts over with every process, so a restarted member's Loop clock
// reads at start-up what its previous life's read. Request IDs seeded from it repeated the
// previous life's: the leader, which had accepted those IDs from it in the same term,
// dropped every proposal the restarted member forwarded as a repeat, and each of its puts
// timed out (tests/join_test.py under load: "put restarted through m3: etcdserver: request
// timed out", five times in a row). IDs come from the wall clock, as etcd's.
TEST_F(ServerClusterTest, ARestartedFollowerHasItsForwardedProposalsAccepted) {
  const int leader = Leader();
  const int follower = Follower();
  const uint64_t term = cluster_->server(leader)->raft_node().raft().term();
  auto put = [&](const std::string& key) {
    etcdserverpb::PutRequest request;
    request.set_key(key);
    request.set_value("v");
    return On<etcdserverpb::PutResponse>(follower,
                                         [&](ServerImpl* s, auto done) { s->Put(request, done); });
  };
  for (int k = 0; k < 5; ++k) {
    auto p = put(absl::StrCat("before", k));
    ASSERT_TRUE(p.ok()) << p.status();
  }
  ASSERT_TRUE(cluster_->server(follower)->store().Sync().ok());
  cluster_->Crash(follower);
  ASSERT_TRUE(cluster_->Restart(follower).ok());
  for (int i = 0; i < 200 && !cluster_->server(follower)->HasLeader(); ++i) {
    world_.RunUntil(world_.now_ns() + 10 * kMs);
  }
  ASSERT_TRUE(cluster_->server(follower)->HasLeader());
  for (int k = 0; k < 5; ++k) {
    auto p = put(absl::StrCat("after", k));
    ASSERT_TRUE(p.ok()) << "put " << k << " through the restarted follower: " << p.status();
    EXPECT_EQ(p->header().member_id(), cluster_->member_id(follower));
  }
  // The same leader throughout: its memory of the IDs it accepted was never reset.
  EXPECT_EQ(Leader(), leader);
  EXPECT_EQ(cluster_->server(leader)->raft_node().raft().term(), term);
}

TEST_F(ServerClusterTest, AConfChangeRefusedAtApplyStaysRefusedWhenReplayedAfterARestart) {
  // A follower validates a MemberAdd against its own, possibly stale, membership and
  // forwards it; membership may then refuse it when it applies (here: a second learner
  // with a peer URL another member already has). Raft must skip a refused change on every
  // member, and again when a restarted member replays it: its backend already holds that
  // index, so the first decision must be remembered, not assumed to have been "applied".
  const int leader = Leader();
  const int follower = Follower();
  const std::string url = "http://127.0.0.1:2999";
  etcdserverpb::MemberAddRequest add;
  add.add_peerurls(url);
  add.set_islearner(true);  // learners: the cluster keeps its quorum without them
  auto added = On<etcdserverpb::MemberAddResponse>(leader, [&](ServerImpl* s, auto done) {
    s->MemberAdd(add, std::move(done));
  });
  ASSERT_TRUE(added.ok()) << added.status();

  // The follower's forwarded copy of a second add of the same URL (another ID).
  serverpb::ConfChangeContext context;
  context.mutable_member()->set_id(0xd0b1e);
  context.mutable_member()->add_peer_urls(url);
  context.mutable_member()->set_is_learner(true);
  context.set_request_id(0x5eed0001);
  raftpb::ConfChange cc;
  cc.set_type(raftpb::ConfChangeAddLearnerNode);
  cc.set_node_id(0xd0b1e);
  cc.set_id(0x5eed0001);
  cc.set_context(context.SerializeAsString());
  serverpb::PeerMessage message;
  message.set_proposal_term(cluster_->server(leader)->raft_node().raft().term());
  raftpb::Message* m = message.mutable_raft();
  m->set_type(raftpb::MsgProp);
  m->set_from(cluster_->member_id(follower));
  m->set_to(cluster_->member_id(leader));
  raftpb::Entry* entry = m->add_entries();
  entry->set_type(raftpb::EntryConfChange);
  entry->set_data(cc.SerializeAsString());
  ServerImpl* s = cluster_->server(leader);
  const uint64_t from = cluster_->member_id(follower);
  const std::string payload = message.SerializeAsString();
  const uint64_t commit_before = s->raft_node().raft().log().committed();
  cluster_->env(leader).loop()->Post([s, from, payload]() { s->OnMessage(from, payload); });
  world_.RunUntil(world_.now_ns() + 500 * kMs);
  ASSERT_GT(s->raft_node().raft().log().committed(), commit_before) << "the change never committed";

  auto config = [&](int i) {
    return cluster_->server(i)->raft_node().raft().tracker().ConfState().ShortDebugString();
  };
  const std::string expected = config(leader);
  EXPECT_EQ(expected.find(absl::StrCat(0xd0b1e)), std::string::npos) << expected;
  for (int i = 0; i < cluster_->size(); ++i) EXPECT_EQ(config(i), expected) << "member " << i;

  // As after a kill -9 of keeld, whose backend writes outlive the process: the backend
  // holds the refused change's index, so the restart replays it as "already applied".
  ASSERT_TRUE(cluster_->server(follower)->store().Sync().ok());
  cluster_->Crash(follower);
  ASSERT_TRUE(cluster_->Restart(follower).ok());
  world_.RunUntil(world_.now_ns() + 500 * kMs);
  EXPECT_EQ(config(follower), expected) << "the replay applied a refused change to Raft";
}

// A member that was down while a new member joined and took over leadership restarts with
// an applied membership that predates its leader. etcd answers such a sender through the
// peer URLs its requests carry (rafthttp's addRemoteFromRequest); without them, every
// answer of the restarted member had no address ("unknown_peer"), the leader never got a
// heartbeat response to resume replicating, and the member never caught up (keelsim seed
// 31 with membership changes: liveness).
TEST_F(ServerClusterTest, AMemberDownWhileItsNewLeaderJoinedCatchesUpAfterRestart) {
  const int down = Follower();
  cluster_->Crash(down);
  etcdserverpb::MemberAddRequest add;
  add.add_peerurls(sim::SimCluster::PeerUrlOf(cluster_->size()));
  add.set_islearner(true);
  auto added = On<etcdserverpb::MemberAddResponse>(Leader(), [&](ServerImpl* s, auto done) { s->MemberAdd(add, done); });
  ASSERT_TRUE(added.ok()) << added.status();
  const uint64_t joiner_id = added->member().id();
  const int joiner = cluster_->AddJoiner(joiner_id, added->member().peerurls(0));
  ASSERT_EQ(cluster_->TryStartJoiners(), 1);
  // Promoted once in sync (etcd's "not in sync" answer meanwhile is legal).
  absl::Status promoted = absl::UnknownError("not tried");
  for (int attempt = 0; attempt < 50 && !promoted.ok(); ++attempt) {
    world_.RunUntil(world_.now_ns() + 100 * kMs);
    etcdserverpb::MemberPromoteRequest promote;
    promote.set_id(joiner_id);
    promoted = On<etcdserverpb::MemberPromoteResponse>(Leader(), [&](ServerImpl* s, auto done) {
                 s->MemberPromote(promote, done);
               }).status();
  }
  ASSERT_TRUE(promoted.ok()) << promoted;
  // The joiner applies its promotion too (a learner ignores MsgTimeoutNow).
  world_.RunUntil(world_.now_ns() + 500 * kMs);
  etcdserverpb::MoveLeaderRequest move;
  move.set_targetid(joiner_id);
  auto moved = On<etcdserverpb::MoveLeaderResponse>(Leader(), [&](ServerImpl* s, auto done) { s->MoveLeader(move, done); });
  ASSERT_TRUE(moved.ok()) << moved.status();
  world_.RunUntil(world_.now_ns() + 200 * kMs);
  ASSERT_EQ(Leader(), joiner);

  ASSERT_TRUE(cluster_->Restart(down).ok());
  ASSERT_EQ(cluster_->server(down)->membership().Find(joiner_id), nullptr)
      << "the restarted member must not know its leader yet for this test to mean anything";
  etcdserverpb::PutRequest put;
  put.set_key("after-restart");
  put.set_value("1");
  ASSERT_TRUE(On<etcdserverpb::PutResponse>(joiner, [&](ServerImpl* s, auto done) { s->Put(put, done); }).ok());
  world_.RunUntil(world_.now_ns() + 2000 * kMs);
  EXPECT_EQ(cluster_->server(down)->applied_index(), cluster_->server(joiner)->applied_index());
  EXPECT_NE(cluster_->server(down)->membership().Find(joiner_id), nullptr);
}

// /metrics' histograms (server_metrics.h) are fed where the work happens: one WAL
// observation per Save, one backend commit observation per applied group, heartbeat round
// trips on the leader for each follower, bytes both ways. Timed on the simulated clock.
TEST_F(ServerClusterTest, MetricsObserveEveryWalSaveCommitAndHeartbeatRoundTrip) {
  for (int i = 0; i < 20; ++i) {
    etcdserverpb::PutRequest put;
    put.set_key(absl::StrCat("m", i));
    put.set_value("v");
    auto p = On<etcdserverpb::PutResponse>(Leader(), [&](ServerImpl* s, auto done) { s->Put(put, done); });
    ASSERT_TRUE(p.ok()) << p.status();
  }
  world_.RunUntil(world_.now_ns() + 200 * kMs);  // every Save completes; heartbeats flow
  for (int m = 0; m < cluster_->size(); ++m) {
    const ServerStats st = cluster_->server(m)->Stats();
    // Each Save is observed once, when it completes (nothing is in flight after 200 ms
    // of idle, so submitted == observed).
    EXPECT_EQ(st.metrics.wal_fsync_seconds.count(), st.wal_fsyncs) << "member " << m;
    EXPECT_GE(st.metrics.wal_fsync_seconds.count(), 20u) << "member " << m;
    EXPECT_GE(st.metrics.backend_commit_seconds.count(), 20u) << "member " << m;
    EXPECT_EQ(st.metrics.wal_fsync_seconds.CumulativeCount(st.metrics.wal_fsync_seconds.bounds().size()),
              st.metrics.wal_fsync_seconds.count());
    // The leader talks to both followers; a follower only to the leader.
    EXPECT_EQ(st.metrics.peers.size(), m == Leader() ? 2u : 1u) << "member " << m;
    EXPECT_EQ(st.metrics.peers.count(cluster_->member_id(Leader())), m == Leader() ? 0u : 1u);
    for (const auto& [id, peer] : st.metrics.peers) {
      EXPECT_NE(id, cluster_->member_id(m));
      EXPECT_GT(peer.sent_bytes, 0u);
      EXPECT_GT(peer.received_bytes, 0u);
      if (m == Leader()) {
        EXPECT_GT(peer.round_trip_seconds.count(), 0u) << "leader to " << id;
        EXPECT_GT(peer.round_trip_seconds.sum(), 0) << "simulated network delay";
      } else {
        EXPECT_EQ(peer.round_trip_seconds.count(), 0u) << "followers send no heartbeats";
      }
    }
  }
  EXPECT_EQ(cluster_->server(Leader())->Stats().metrics.heartbeat_send_failures, 0u);
}

}  // namespace
}  // namespace keel::server
