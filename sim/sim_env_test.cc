#include "sim/sim_env.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace keel::sim {
namespace {

class Inbox : public env::TransportHandler {
 public:
  void OnMessage(uint64_t from, std::string payload) override { got.push_back(payload); }
  std::vector<std::string> got;
};

NetworkOptions FixedLatency() {
  NetworkOptions options;
  options.delay_min_ns = 1'000;
  options.delay_jitter_ns = 0;
  options.tail_probability = 0;
  return options;
}

TEST(SimEnvTest, CreateRejectsBadArguments) {
  World world(1);
  SimNetwork network(&world, FixedLatency(), world.NewRng("net"));
  EXPECT_EQ(SimEnv::Create(&world, &network, 0, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  SimEnvOptions too_fast;
  too_fast.clock.rate_ppm = NodeLoop::kMaxRatePpm + 1;
  EXPECT_EQ(SimEnv::Create(&world, &network, 1, too_fast).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SimEnvTest, RngStreamsAreStablePerNodePurposeAndIncarnation) {
  World world(1);
  SimNetwork network(&world, FixedLatency(), world.NewRng("net"));
  auto a = SimEnv::Create(&world, &network, 1, {});
  auto b = SimEnv::Create(&world, &network, 2, {});
  ASSERT_TRUE(a.ok() && b.ok());
  const uint64_t first = (*a)->NewRng("raft.election").Next();
  EXPECT_EQ((*a)->NewRng("raft.election").Next(), first);
  EXPECT_NE((*a)->NewRng("lease.id").Next(), first);
  EXPECT_NE((*b)->NewRng("raft.election").Next(), first);
  (*a)->Crash();
  (*a)->Restart();
  EXPECT_NE((*a)->NewRng("raft.election").Next(), first);  // a new life
}

TEST(SimEnvTest, CrashLosesVolatileStateAndRestartComesBackClean) {
  World world(1);
  SimNetwork network(&world, FixedLatency(), world.NewRng("net"));
  SimEnvOptions options;
  options.disk.torn_write_probability = 0;
  auto one = SimEnv::Create(&world, &network, 1, options);
  auto two = SimEnv::Create(&world, &network, 2, options);
  ASSERT_TRUE(one.ok() && two.ok());
  SimEnv& n1 = **one;
  SimEnv& n2 = **two;
  Inbox inbox;
  n2.transport()->SetHandler(&inbox);
  n1.transport()->AddPeer(2, "n2");

  ASSERT_TRUE(n2.fs()->CreateDir("/data").ok());
  auto wal = n2.fs()->NewWritableFile("/data/wal");
  ASSERT_TRUE(wal.ok());
  ASSERT_TRUE(n2.fs()->SyncDir("/data").ok());
  ASSERT_TRUE((*wal)->Append("kept").ok());
  ASSERT_TRUE((*wal)->Sync().ok());
  ASSERT_TRUE((*wal)->Append("lost").ok());
  int timer_runs = 0;
  n2.loop()->RunAfter(10, [&] { ++timer_runs; });
  n1.transport()->Send(2, "before-crash");

  n2.Crash();
  wal->reset();
  world.RunUntil(1'000'000);
  EXPECT_EQ(timer_runs, 0);
  EXPECT_TRUE(inbox.got.empty());
  EXPECT_EQ(*n2.disk().ReadContents("/data/wal"), "kept");

  n2.Restart();
  Inbox reborn;
  n2.transport()->SetHandler(&reborn);
  n1.transport()->Send(2, "after-restart");
  n2.loop()->RunAfter(10, [&] { ++timer_runs; });
  world.RunUntilIdle(100);
  EXPECT_EQ(timer_runs, 1);
  EXPECT_EQ(reborn.got, std::vector<std::string>{"after-restart"});
}

TEST(SimEnvTest, FileSystemViewOfACrashedIncarnationRefusesEverything) {
  World world(1);
  SimNetwork network(&world, FixedLatency(), world.NewRng("net"));
  auto created = SimEnv::Create(&world, &network, 1, {});
  ASSERT_TRUE(created.ok());
  SimEnv& node = **created;
  env::FileSystem* old_fs = node.fs();
  ASSERT_TRUE(old_fs->CreateDir("/data").ok());
  node.Crash();
  node.Restart();
  // A late call from the dead process (say, a LevelDB compaction torn down after the
  // crash) must not create files in the new incarnation's disk.
  EXPECT_EQ(old_fs->NewWritableFile("/data/zombie").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(old_fs->Rename("/data", "/x").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(old_fs->FileExists("/data"));
  EXPECT_NE(node.fs(), old_fs);
  EXPECT_TRUE(node.fs()->FileExists("/data"));
  EXPECT_TRUE(node.fs()->NewWritableFile("/data/live").ok());
  EXPECT_EQ(node.disk().ListFiles(), std::vector<std::string>{"/data/live"});
}

}  // namespace
}  // namespace keel::sim
