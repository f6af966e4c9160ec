// InstallSnapshot end to end on a simulated 3-member cluster: a follower cut off while the
// others write a backend of several MiB and compact their logs catches up through a
// streamed snapshot of many chunks; with chunks lost (and the follower crashing mid-
// transfer) transfers fail and are retried, and the follower never installs garbage:
// it ends with exactly the leader's data, and no transfer file is left behind.
#include <optional>
#include <string>

#include "gtest/gtest.h"
#include "sim/cluster/cluster.h"
#include "sim/cluster/scenario.h"
#include "sim/world.h"
#include "storage/format.h"

namespace keel::server {
namespace {

constexpr int64_t kMs = 1'000'000;

class ServerSnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    scenario_.seed = 3;
    scenario_.nodes = 3;
    scenario_.heartbeat_ms = 10;
    scenario_.election_ms = 100;
    scenario_.snapshot_count = 20;  // the log is compacted every 20 entries
    scenario_.network.drop_probability = 0;
    scenario_.network.duplicate_probability = 0;
    auto cluster = sim::SimCluster::Create(&world_, scenario_);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
    for (int i = 0; i < 200 && cluster_->Leader() < 0; ++i) Run(10 * kMs);
    ASSERT_GE(cluster_->Leader(), 0) << "no leader elected";
    Run(300 * kMs);
  }
  void TearDown() override { cluster_.reset(); }

  void Run(int64_t ns) { world_.RunUntil(world_.now_ns() + ns); }

  // Runs `call` on member i's loop until its callback delivered a result.
  absl::Status Put(int i, const std::string& key, const std::string& value) {
    std::optional<absl::Status> result;
    etcdserverpb::PutRequest put;
    put.set_key(key);
    put.set_value(value);
    ServerImpl* s = cluster_->server(i);
    cluster_->env(i).loop()->Post([&, s]() {
      s->Put(put, [&](absl::StatusOr<etcdserverpb::PutResponse> r) { result = r.status(); });
    });
    for (int step = 0; step < 1'000'000 && !result.has_value(); ++step) {
      if (!world_.Step()) break;
    }
    return result.value_or(absl::InternalError("no answer"));
  }

  // Cuts `follower` off, writes ~6 MiB (6+ chunks of 1 MiB) plus enough small entries for
  // several snapshots and log compactions on the others.
  void FallBehind(int follower) {
    cluster_->network().Isolate(cluster_->member_id(follower));
    const int leader = cluster_->Leader();
    ASSERT_GE(leader, 0);
    ASSERT_NE(leader, follower);
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE(Put(leader, "big/" + std::to_string(i), std::string(600 << 10, 'a' + i)).ok());
    }
    for (int i = 0; i < 80; ++i) {
      ASSERT_TRUE(Put(leader, "small/" + std::to_string(i), std::to_string(i)).ok());
    }
    // The follower's next entry is gone from the leader's log: only a snapshot helps.
    const raft::MemoryStorage& log = cluster_->server(leader)->raft_log();
    ASSERT_GT(log.FirstIndex().value_or(0), cluster_->server(follower)->applied_index() + 1);
  }

  bool CaughtUp(int follower) {
    const int leader = cluster_->Leader();
    if (leader < 0 || !cluster_->up(follower)) return false;
    ServerImpl* l = cluster_->server(leader);
    ServerImpl* f = cluster_->server(follower);
    if (f->applied_index() < l->applied_index()) return false;
    auto lh = l->store().HashKV(0);
    auto fh = f->store().HashKV(0);
    return lh.ok() && fh.ok() && lh->hash() == fh->hash() &&
           l->store().current_revision() == f->store().current_revision();
  }

  void RunUntilCaughtUp(int follower, int64_t limit_ns) {
    for (int64_t t = 0; t < limit_ns && !CaughtUp(follower); t += 50 * kMs) Run(50 * kMs);
    ASSERT_TRUE(CaughtUp(follower)) << "follower " << follower << " did not catch up";
  }

  void ExpectNoTransferFiles(int i) {
    auto names = cluster_->env(i).fs()->GetChildren("/data/member/snap");
    ASSERT_TRUE(names.ok());
    for (const std::string& n : *names) {
      EXPECT_EQ(n.find(std::string(storage::kImageSuffix)), std::string::npos)
          << "member " << i << " kept " << n;
    }
  }

  sim::World world_{3};
  sim::Scenario scenario_;
  std::unique_ptr<sim::SimCluster> cluster_;
};

TEST_F(ServerSnapshotTest, AFollowerBehindACompactedLogCatchesUpThroughAStreamedSnapshot) {
  const int follower = (cluster_->Leader() + 1) % 3;
  FallBehind(follower);
  const int leader = cluster_->Leader();
  cluster_->network().Heal();
  RunUntilCaughtUp(follower, 30'000 * kMs);
  const ServerStats ls = cluster_->server(leader)->Stats();
  const ServerStats fs = cluster_->server(follower)->Stats();
  EXPECT_GE(ls.snapshots_sent, 1u);
  EXPECT_GE(ls.snapshot_bytes_sent, 5u << 20) << "the image should span many chunks";
  EXPECT_GE(fs.snapshots_received, 1u);
  ExpectNoTransferFiles(follower);
  ExpectNoTransferFiles(leader);
  // And it keeps serving: a new write reaches it.
  ASSERT_TRUE(Put(leader, "after", "x").ok());
  RunUntilCaughtUp(follower, 5'000 * kMs);
}

TEST_F(ServerSnapshotTest, LostChunksAndACrashMidTransferFailAndRetryWithoutInstallingGarbage) {
  const int follower = (cluster_->Leader() + 1) % 3;
  FallBehind(follower);
  const int leader = cluster_->Leader();
  sim::NetworkOptions lossy = scenario_.network;
  lossy.drop_probability = 0.15;
  cluster_->network().set_options(lossy);
  cluster_->network().Heal();
  // Crash the follower while it holds a partial image, then bring it back.
  bool crashed = false;
  for (int64_t t = 0; t < 20'000 * kMs && !crashed; t += 1 * kMs) {
    Run(1 * kMs);
    ServerImpl* f = cluster_->server(follower);
    if (f != nullptr && f->Stats().snapshots_received == 0 &&
        cluster_->server(leader)->Stats().snapshot_bytes_sent > (2u << 20) &&
        !CaughtUp(follower)) {
      cluster_->Crash(follower);
      crashed = true;
    }
  }
  ASSERT_TRUE(crashed) << "no transfer was in progress to crash into";
  ASSERT_TRUE(cluster_->Restart(follower).ok());
  ExpectNoTransferFiles(follower);  // partial image removed at start-up
  Run(3'000 * kMs);                 // lossy: transfers fail and are retried
  cluster_->network().set_options(scenario_.network);
  RunUntilCaughtUp(follower, 60'000 * kMs);
  const ServerStats ls = cluster_->server(leader)->Stats();
  EXPECT_GE(ls.snapshots_send_failed, 1u);
  EXPECT_GE(ls.snapshots_sent, 1u);
  ExpectNoTransferFiles(follower);
  ExpectNoTransferFiles(leader);
}

}  // namespace
}  // namespace keel::server
