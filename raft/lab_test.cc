// Deterministic versions of the MIT 6.5840 Raft lab tests (3A-3D), run on the seeded
// in-memory cluster of raft/testing. Every scenario also runs the Figure 3 safety checker
// after every step; a test fails on the first violation.
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "raft/testing/cluster.h"

namespace keel::raft {
namespace {

using testing::Cluster;
using testing::ClusterOptions;

ClusterOptions Opts(int n, uint64_t seed = 1) {
  ClusterOptions o;
  o.num_nodes = n;
  o.seed = seed;
  return o;
}

std::string Cmd(int i) { return absl::StrCat("cmd-", i); }

#define EXPECT_SAFE(c) EXPECT_EQ((c).violation(), "")

// ---- 3A: leader election ----

TEST(Lab3A, InitialElection) {
  Cluster c(Opts(3));
  ASSERT_TRUE(c.CheckOneLeader().has_value());
  // Without failures the term must stay put.
  c.RunTicks(5);
  auto term1 = c.CheckTerms();
  ASSERT_TRUE(term1.has_value());
  EXPECT_GE(*term1, 1u);
  c.RunTicks(40);
  EXPECT_EQ(c.CheckTerms(), term1) << "term changed even though there were no failures";
  EXPECT_TRUE(c.CheckOneLeader().has_value());
  EXPECT_SAFE(c);
}

TEST(Lab3A, ReElection) {
  Cluster c(Opts(3, 2));
  auto leader1 = c.CheckOneLeader();
  ASSERT_TRUE(leader1);
  // A new leader is elected when the old one disconnects.
  c.Disconnect(*leader1);
  auto leader2 = c.CheckOneLeader();
  ASSERT_TRUE(leader2);
  EXPECT_NE(*leader2, *leader1);
  // The old leader rejoining must not disturb the new leader.
  c.Connect(*leader1);
  auto leader3 = c.CheckOneLeader();
  ASSERT_TRUE(leader3);
  // Without a quorum there is no leader.
  c.Disconnect(*leader3);
  c.Disconnect(*leader3 % 3 + 1);
  c.RunTicks(40);
  int leaders = 0;
  for (uint64_t id = 1; id <= 3; ++id) {
    if (c.connected(id) && c.is_leader(id)) ++leaders;
  }
  EXPECT_EQ(leaders, 0);
  // A quorum again elects a leader.
  c.Connect(*leader3 % 3 + 1);
  EXPECT_TRUE(c.CheckOneLeader());
  c.Connect(*leader3);
  EXPECT_TRUE(c.CheckOneLeader());
  EXPECT_SAFE(c);
}

TEST(Lab3A, ManyElections) {
  Cluster c(Opts(7, 3));
  ASSERT_TRUE(c.CheckOneLeader());
  for (int iter = 0; iter < 10; ++iter) {
    std::set<uint64_t> out;
    while (out.size() < 3) out.insert(1 + c.rng().Uniform(7));
    for (uint64_t id : out) c.Disconnect(id);
    // Either the old leader is still alive or the remaining four elect a new one.
    EXPECT_TRUE(c.CheckOneLeader()) << "iteration " << iter;
    for (uint64_t id : out) c.Connect(id);
  }
  EXPECT_TRUE(c.CheckOneLeader());
  EXPECT_SAFE(c);
}

// ---- 3B: log agreement ----

TEST(Lab3B, BasicAgree) {
  Cluster c(Opts(3, 4));
  ASSERT_TRUE(c.CheckOneLeader());
  const uint64_t base = c.last_index(*c.CheckOneLeader());
  for (int i = 1; i <= 3; ++i) {
    EXPECT_EQ(c.NCommitted(base + i), 0) << "committed before Start()";
    auto index = c.One(Cmd(i * 100), 3, false);
    ASSERT_TRUE(index);
    EXPECT_EQ(*index, base + i);
  }
  EXPECT_SAFE(c);
}

TEST(Lab3B, RPCBytes) {
  // Each command should be sent to each follower about once.
  Cluster c(Opts(3, 5));
  ASSERT_TRUE(c.One(Cmd(99), 3, false));
  const uint64_t bytes0 = c.bytes_sent();
  uint64_t sent = 0;
  for (int i = 0; i < 10; ++i) {
    const std::string cmd(5000, static_cast<char>('a' + i));
    ASSERT_TRUE(c.One(cmd, 3, false));
    sent += cmd.size();
  }
  const uint64_t got = c.bytes_sent() - bytes0;
  EXPECT_LE(got, 2 * sent + 50000) << "too many bytes sent";
  EXPECT_SAFE(c);
}

TEST(Lab3B, FollowerFailure) {
  Cluster c(Opts(3, 6));
  ASSERT_TRUE(c.One(Cmd(101), 3, false));
  auto leader1 = c.CheckOneLeader();
  ASSERT_TRUE(leader1);
  c.Disconnect(*leader1 % 3 + 1);
  // The leader and remaining follower should agree.
  ASSERT_TRUE(c.One(Cmd(102), 2, false));
  ASSERT_TRUE(c.One(Cmd(103), 2, false));
  auto leader2 = c.CheckOneLeader();
  ASSERT_TRUE(leader2);
  c.Disconnect((*leader2) % 3 + 1);
  c.Disconnect((*leader2 + 1) % 3 + 1);
  auto r = c.Start(*leader2, Cmd(104));
  ASSERT_TRUE(r.is_leader);
  c.RunTicks(50);
  EXPECT_EQ(c.NCommitted(r.index), 0) << "committed without a majority";
  EXPECT_SAFE(c);
}

TEST(Lab3B, LeaderFailure) {
  Cluster c(Opts(3, 7));
  ASSERT_TRUE(c.One(Cmd(101), 3, false));
  auto leader1 = c.CheckOneLeader();
  ASSERT_TRUE(leader1);
  c.Disconnect(*leader1);
  ASSERT_TRUE(c.One(Cmd(102), 2, false));
  ASSERT_TRUE(c.One(Cmd(103), 2, false));
  auto leader2 = c.CheckOneLeader();
  ASSERT_TRUE(leader2);
  c.Disconnect(*leader2);
  std::vector<uint64_t> indexes;
  for (uint64_t id = 1; id <= 3; ++id) {
    auto r = c.Start(id, Cmd(104));
    if (r.is_leader) indexes.push_back(r.index);
  }
  c.RunTicks(50);
  for (uint64_t index : indexes) EXPECT_EQ(c.NCommitted(index), 0);
  EXPECT_SAFE(c);
}

TEST(Lab3B, FailAgree) {
  Cluster c(Opts(3, 8));
  ASSERT_TRUE(c.One(Cmd(101), 3, false));
  auto leader = c.CheckOneLeader();
  ASSERT_TRUE(leader);
  const uint64_t follower = *leader % 3 + 1;
  c.Disconnect(follower);
  for (int i = 102; i <= 106; ++i) ASSERT_TRUE(c.One(Cmd(i), 2, false));
  c.Connect(follower);
  // The reconnected follower catches up and joins agreement again.
  ASSERT_TRUE(c.One(Cmd(107), 3, true));
  ASSERT_TRUE(c.One(Cmd(108), 3, true));
  EXPECT_SAFE(c);
}

TEST(Lab3B, FailNoAgree) {
  Cluster c(Opts(5, 9));
  ASSERT_TRUE(c.One(Cmd(10), 5, false));
  auto leader = c.CheckOneLeader();
  ASSERT_TRUE(leader);
  for (uint64_t k = 1; k <= 3; ++k) c.Disconnect((*leader + k - 1) % 5 + 1);
  auto r = c.Start(*leader, Cmd(20));
  ASSERT_TRUE(r.is_leader);
  c.RunTicks(50);
  EXPECT_EQ(c.NCommitted(r.index), 0) << "committed without a majority";
  for (uint64_t k = 1; k <= 3; ++k) c.Connect((*leader + k - 1) % 5 + 1);
  ASSERT_TRUE(c.One(Cmd(30), 5, true));
  EXPECT_SAFE(c);
}

TEST(Lab3B, ConcurrentStarts) {
  Cluster c(Opts(3, 10));
  auto leader = c.CheckOneLeader();
  ASSERT_TRUE(leader);
  std::vector<std::pair<uint64_t, std::string>> started;
  for (int i = 0; i < 5; ++i) {
    auto r = c.Start(*leader, Cmd(100 + i));
    ASSERT_TRUE(r.is_leader);
    started.emplace_back(r.index, Cmd(100 + i));
  }
  for (const auto& [index, cmd] : started) {
    ASSERT_EQ(c.Wait(index, 3, 400), 3);
    std::string got;
    c.NCommitted(index, &got);
    EXPECT_EQ(got, cmd);
  }
  EXPECT_SAFE(c);
}

TEST(Lab3B, Rejoin) {
  Cluster c(Opts(3, 11));
  ASSERT_TRUE(c.One(Cmd(101), 3, true));
  auto leader1 = c.CheckOneLeader();
  ASSERT_TRUE(leader1);
  c.Disconnect(*leader1);
  // The isolated leader accepts entries it can never commit.
  c.Start(*leader1, Cmd(102));
  c.Start(*leader1, Cmd(103));
  c.Start(*leader1, Cmd(104));
  ASSERT_TRUE(c.One(Cmd(103), 2, true));
  auto leader2 = c.CheckOneLeader();
  ASSERT_TRUE(leader2);
  c.Disconnect(*leader2);
  c.Connect(*leader1);
  // The old leader's uncommitted entries are overwritten.
  ASSERT_TRUE(c.One(Cmd(104), 2, true));
  c.Connect(*leader2);
  ASSERT_TRUE(c.One(Cmd(105), 3, true));
  EXPECT_SAFE(c);
}

TEST(Lab3B, Backup) {
  // Leader back-off over many conflicting entries (the fast nextIndex rollback).
  Cluster c(Opts(5, 12));
  ASSERT_TRUE(c.One(Cmd(0), 5, true));
  auto leader1 = c.CheckOneLeader();
  ASSERT_TRUE(leader1);
  const uint64_t l1 = *leader1;
  // Put the leader and one follower in a partition.
  for (uint64_t k = 2; k <= 4; ++k) c.Disconnect((l1 + k - 1) % 5 + 1);
  for (int i = 0; i < 50; ++i) c.Start(l1, Cmd(1000 + i));
  c.RunTicks(5);
  c.Disconnect(l1);
  c.Disconnect(l1 % 5 + 1);
  // Allow the other partition to recover and commit lots of entries.
  for (uint64_t k = 2; k <= 4; ++k) c.Connect((l1 + k - 1) % 5 + 1);
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(c.One(Cmd(2000 + i), 3, true));
  // Now another partitioned leader and one follower.
  auto leader2 = c.CheckOneLeader();
  ASSERT_TRUE(leader2);
  uint64_t other = l1 + 2;
  for (uint64_t k = 2; k <= 4; ++k) {
    const uint64_t id = (l1 + k - 1) % 5 + 1;
    if (id != *leader2) other = id;
  }
  c.Disconnect(other);
  for (int i = 0; i < 50; ++i) c.Start(*leader2, Cmd(3000 + i));
  c.RunTicks(5);
  // Bring the original leader back to life.
  for (uint64_t id = 1; id <= 5; ++id) c.Disconnect(id);
  c.Connect(l1);
  c.Connect(l1 % 5 + 1);
  c.Connect(other);
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(c.One(Cmd(4000 + i), 3, true));
  for (uint64_t id = 1; id <= 5; ++id) c.Connect(id);
  ASSERT_TRUE(c.One(Cmd(5000), 5, true));
  EXPECT_SAFE(c);
}

TEST(Lab3B, Count) {
  // Elections and agreement must not take an excessive number of messages.
  Cluster c(Opts(3, 13));
  auto leader = c.CheckOneLeader();
  ASSERT_TRUE(leader);
  EXPECT_LT(c.messages_sent(), 400u) << "too many messages to elect a leader";
  const uint64_t before = c.messages_sent();
  std::vector<uint64_t> indexes;
  for (int i = 0; i < 10; ++i) {
    auto r = c.Start(*leader, Cmd(i));
    ASSERT_TRUE(r.is_leader);
    indexes.push_back(r.index);
  }
  for (uint64_t index : indexes) ASSERT_EQ(c.Wait(index, 3, 400), 3);
  // Heartbeats run meanwhile; batching keeps agreement cheap.
  EXPECT_LT(c.messages_sent() - before, 300u) << "too many messages for 10 agreements";
  const uint64_t idle_before = c.messages_sent();
  c.RunTicks(10);
  // Idle: heartbeats and their responses only.
  EXPECT_LE(c.messages_sent() - idle_before, 3u * 2 * 10);
  EXPECT_SAFE(c);
}

// ---- 3C: persistence ----

TEST(Lab3C, Persist1) {
  Cluster c(Opts(3, 14));
  ASSERT_TRUE(c.One(Cmd(11), 3, true));
  // Crash and restart all.
  for (uint64_t id = 1; id <= 3; ++id) c.Restart(id);
  ASSERT_TRUE(c.One(Cmd(12), 3, true));
  auto leader1 = c.CheckOneLeader();
  ASSERT_TRUE(leader1);
  c.Crash(*leader1);
  c.Restart(*leader1);
  ASSERT_TRUE(c.One(Cmd(13), 3, true));
  auto leader2 = c.CheckOneLeader();
  ASSERT_TRUE(leader2);
  c.Crash(*leader2);
  auto i14 = c.One(Cmd(14), 2, true);
  ASSERT_TRUE(i14);
  c.Restart(*leader2);
  // The restarted node learns the entry committed while it was down.
  ASSERT_EQ(c.Wait(*i14, 3, 2000), 3);
  const uint64_t i3 = *c.CheckOneLeader() % 3 + 1;
  c.Crash(i3);
  ASSERT_TRUE(c.One(Cmd(15), 2, true));
  c.Restart(i3);
  ASSERT_TRUE(c.One(Cmd(16), 3, true));
  EXPECT_SAFE(c);
}

TEST(Lab3C, Persist2) {
  Cluster c(Opts(5, 15));
  int index = 1;
  for (int iters = 0; iters < 5; ++iters) {
    ASSERT_TRUE(c.One(Cmd(10 + index++), 5, true));
    auto leader1 = c.CheckOneLeader();
    ASSERT_TRUE(leader1);
    c.Crash((*leader1) % 5 + 1);
    c.Crash((*leader1 + 1) % 5 + 1);
    ASSERT_TRUE(c.One(Cmd(10 + index++), 3, true));
    c.Crash(*leader1);
    c.Crash((*leader1 + 2) % 5 + 1);
    c.Crash((*leader1 + 3) % 5 + 1);
    c.Restart((*leader1) % 5 + 1);
    c.Restart((*leader1 + 1) % 5 + 1);
    c.Restart((*leader1 + 2) % 5 + 1);
    c.RunTicks(5);
    ASSERT_TRUE(c.One(Cmd(10 + index++), 3, true));
    c.Restart(*leader1);
    c.Restart((*leader1 + 3) % 5 + 1);
  }
  ASSERT_TRUE(c.One(Cmd(1000), 5, true));
  EXPECT_SAFE(c);
}

TEST(Lab3C, Persist3) {
  // A partitioned leader and one follower crash; the follower restarts.
  Cluster c(Opts(3, 16));
  ASSERT_TRUE(c.One(Cmd(101), 3, true));
  auto leader = c.CheckOneLeader();
  ASSERT_TRUE(leader);
  const uint64_t a = *leader, b = *leader % 3 + 1, d = (*leader + 1) % 3 + 1;
  c.Disconnect(d);
  ASSERT_TRUE(c.One(Cmd(102), 2, true));
  c.Crash(a);
  c.Crash(b);
  c.Connect(d);
  c.Restart(a);
  ASSERT_TRUE(c.One(Cmd(103), 2, true));
  c.Restart(b);
  ASSERT_TRUE(c.One(Cmd(104), 3, true));
  EXPECT_SAFE(c);
}

// Figure 8 of the paper: leaders crash with uncommitted entries of old terms in their
// logs; a new leader must never commit such entries by counting replicas.
void Figure8(uint64_t seed, bool unreliable) {
  ClusterOptions o = Opts(5, seed);
  if (unreliable) {
    o.drop_rate = 0.1;
    o.long_delay_rate = 0.05;
  }
  Cluster c(o);
  ASSERT_TRUE(c.One(Cmd(0), 1, true));
  int nup = 5;
  for (int iters = 0; iters < (unreliable ? 300 : 300); ++iters) {
    if (unreliable && iters == 200) c.SetLongDelayRate(0.1);
    std::optional<uint64_t> leader;
    for (uint64_t id = 1; id <= 5; ++id) {
      if (c.alive(id) && c.connected(id) && c.Start(id, Cmd(1000 + iters)).is_leader) leader = id;
    }
    if (c.rng().Uniform(1000) < 100) {
      c.Run(static_cast<int>(c.rng().Uniform(500)));
    } else {
      c.Run(static_cast<int>(c.rng().Uniform(52)));
    }
    if (leader && (unreliable ? c.rng().Uniform(1000) < 500 : true)) {
      if (unreliable) {
        c.Disconnect(*leader);
      } else {
        c.Crash(*leader);
      }
      --nup;
    }
    if (nup < 3) {
      const uint64_t s = 1 + c.rng().Uniform(5);
      if (unreliable ? !c.connected(s) : !c.alive(s)) {
        if (unreliable) {
          c.Connect(s);
        } else {
          c.Restart(s);
        }
        ++nup;
      }
    }
    ASSERT_EQ(c.violation(), "") << "iteration " << iters;
  }
  c.SetDropRate(0);
  c.SetLongDelayRate(0);
  for (uint64_t id = 1; id <= 5; ++id) {
    if (!c.alive(id)) c.Restart(id);
    c.Connect(id);
  }
  ASSERT_TRUE(c.One(Cmd(99999), 5, true));
  EXPECT_SAFE(c);
}

TEST(Lab3C, Figure8) { Figure8(17, false); }
TEST(Lab3C, Figure8Unreliable) { Figure8(18, true); }

TEST(Lab3C, UnreliableAgree) {
  ClusterOptions o = Opts(5, 19);
  o.drop_rate = 0.1;
  o.long_delay_rate = 0.02;
  Cluster c(o);
  for (int iters = 1; iters < 30; ++iters) {
    for (int j = 0; j < 4; ++j) {
      for (uint64_t id = 1; id <= 5; ++id) c.Start(id, Cmd(100 * iters + j));
    }
    ASSERT_TRUE(c.One(Cmd(iters), 1, true));
  }
  c.SetDropRate(0);
  c.SetLongDelayRate(0);
  ASSERT_TRUE(c.One(Cmd(100), 5, true));
  EXPECT_SAFE(c);
}

// Churn: nodes crash, restart, disconnect and reconnect while clients keep proposing.
void Churn(uint64_t seed, bool unreliable) {
  ClusterOptions o = Opts(5, seed);
  if (unreliable) o.drop_rate = 0.1;
  Cluster c(o);
  std::vector<std::string> proposed;
  for (int iters = 0; iters < 60; ++iters) {
    for (int k = 0; k < 3; ++k) {
      const std::string cmd = Cmd(iters * 10 + k);
      for (uint64_t id = 1; id <= 5; ++id) {
        if (c.Start(id, cmd).is_leader) proposed.push_back(cmd);
      }
    }
    const uint64_t a = 1 + c.rng().Uniform(5);
    switch (c.rng().Uniform(5)) {
      case 0:
        c.Disconnect(a);
        break;
      case 1:
        c.Connect(a);
        break;
      case 2:
        c.Crash(a);
        break;
      case 3:
        if (!c.alive(a)) c.Restart(a);
        break;
      default:
        break;
    }
    c.Run(static_cast<int>(c.rng().Uniform(40)));
    ASSERT_EQ(c.violation(), "") << "iteration " << iters;
  }
  c.SetDropRate(0);
  for (uint64_t id = 1; id <= 5; ++id) {
    if (!c.alive(id)) c.Restart(id);
    c.Connect(id);
  }
  auto last = c.One(Cmd(-1), 5, true);
  ASSERT_TRUE(last);
  // Every node applied the same values up to `last`.
  for (uint64_t i = 1; i <= *last; ++i) c.NCommitted(i);
  EXPECT_SAFE(c);
}

TEST(Lab3C, ReliableChurn) { Churn(20, false); }
TEST(Lab3C, UnreliableChurn) { Churn(21, true); }

// ---- 3D: snapshots ----

void SnapCommon(uint64_t seed, bool disconnect, bool unreliable, bool crash) {
  ClusterOptions o = Opts(3, seed);
  o.snapshot_every = 9;
  if (unreliable) o.drop_rate = 0.1;
  Cluster c(o);
  ASSERT_TRUE(c.One(Cmd(0), 3, true));
  auto leader1 = c.CheckOneLeader();
  ASSERT_TRUE(leader1);
  for (int i = 0; i < 20; ++i) {
    const uint64_t victim = disconnect || crash ? (*leader1 % 3 + 1) : *leader1;
    if (disconnect) c.Disconnect(victim);
    if (crash) c.Crash(victim);
    // Enough entries that the victim must catch up from a snapshot.
    for (int k = 0; k < 11; ++k) c.Start(*c.CheckOneLeader(), Cmd(i * 100 + k));
    ASSERT_TRUE(c.One(Cmd(i * 100 + 50), 2, true));
    if (disconnect) {
      c.Connect(victim);
      ASSERT_TRUE(c.One(Cmd(i * 100 + 60), 3, true));
      leader1 = c.CheckOneLeader();
      ASSERT_TRUE(leader1);
    }
    if (crash) {
      c.Restart(victim);
      ASSERT_TRUE(c.One(Cmd(i * 100 + 60), 3, true));
      leader1 = c.CheckOneLeader();
      ASSERT_TRUE(leader1);
    }
    ASSERT_EQ(c.violation(), "") << "iteration " << i;
  }
  EXPECT_SAFE(c);
}

TEST(Lab3D, SnapshotBasic) { SnapCommon(22, false, false, false); }
TEST(Lab3D, SnapshotInstall) { SnapCommon(23, true, false, false); }
TEST(Lab3D, SnapshotInstallUnreliable) { SnapCommon(24, true, true, false); }
TEST(Lab3D, SnapshotInstallCrash) { SnapCommon(25, false, false, true); }
TEST(Lab3D, SnapshotInstallUnCrash) { SnapCommon(26, false, true, true); }

TEST(Lab3D, SnapshotAllCrash) {
  ClusterOptions o = Opts(3, 27);
  o.snapshot_every = 9;
  Cluster c(o);
  ASSERT_TRUE(c.One(Cmd(0), 3, true));
  for (int i = 0; i < 5; ++i) {
    for (int k = 0; k < 12; ++k) ASSERT_TRUE(c.One(Cmd(i * 100 + k), 3, true));
    auto before = c.One(Cmd(i * 100 + 99), 3, true);
    ASSERT_TRUE(before);
    for (uint64_t id = 1; id <= 3; ++id) c.Crash(id);
    for (uint64_t id = 1; id <= 3; ++id) c.Restart(id);
    auto after = c.One(Cmd(i * 100 + 98), 3, true);
    ASSERT_TRUE(after);
    EXPECT_GT(*after, *before) << "index decreased across a crash of all nodes";
  }
  EXPECT_SAFE(c);
}

TEST(Lab3D, SnapshotInit) {
  // Restarting from a snapshot alone (no entries after it) must work, twice.
  ClusterOptions o = Opts(3, 28);
  o.snapshot_every = 9;
  Cluster c(o);
  for (int k = 0; k < 12; ++k) ASSERT_TRUE(c.One(Cmd(k), 3, true));
  for (uint64_t id = 1; id <= 3; ++id) c.Restart(id);
  ASSERT_TRUE(c.One(Cmd(100), 3, true));
  for (uint64_t id = 1; id <= 3; ++id) c.Restart(id);
  ASSERT_TRUE(c.One(Cmd(101), 3, true));
  EXPECT_SAFE(c);
}

}  // namespace
}  // namespace keel::raft
