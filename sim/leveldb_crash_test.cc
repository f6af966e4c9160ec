// LevelDB on the simulated disk under power loss: every write acknowledged with
// WriteOptions::sync must survive a crash at any point, and recovery must succeed.
// This exercises the disk's durability model (unsynced bytes lost, torn tails, directory
// entries durable only after a directory sync) together with env::LevelDbEnv.
//
// Two timings of LevelDB's background work (memtable flushes, compactions):
//   drained   run right after every call (keelsim's discipline): a crash never finds
//             work pending;
//   deferred  run only now and then, like keeld's background thread: a crash often falls
//             between a write that switched LevelDB to a new log and the flush that
//             would have written the next MANIFEST (a write that LevelDB could block
//             on runs the queue first, as keeld's write would wait for the thread). This is where LevelDB's PosixEnv sync
//             rule loses synced writes (env/README.md, "LevelDB durability").
//
// KEEL_SIM_LEVELDB_CRASH_SEEDS=<n> runs n seeds per timing instead of the default.
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "env/leveldb_env.h"
#include "kv/backend.h"
#include "leveldb/cache.h"
#include "gtest/gtest.h"
#include "leveldb/db.h"
#include "sim/disk.h"
#include "sim/node_loop.h"
#include "sim/process_fs.h"
#include "sim/world.h"

namespace keel::sim {
namespace {

enum class Timing { kDrained, kDeferred };

// Small, for frequent new logs, flushes and compactions, yet several arena blocks (4 KiB)
// big, so that a memtable can refill for a while before LevelDB would wait for the
// previous one's flush (kv::WriteCouldWaitForQueuedWork's bound is loose by about a block).
constexpr size_t kWriteBufferBytes = 32 * 1024;

// One node's LevelDB on a SimDisk. Each process lifetime gets its own disk view and
// LevelDbEnv, like a restarted process would.
class LevelDbOnSimDisk {
 public:
  LevelDbOnSimDisk(uint64_t seed, env::LevelDbEnv::SyncRule rule)
      : rule_(rule), world_(seed), loop_(&world_, 1, ClockConfig{}),
        disk_(&world_, &loop_, Options(), world_.NewRng("disk.n1")) {}

  ~LevelDbOnSimDisk() {
    if (env_ != nullptr) env_->RunQueuedWork();
    db_.reset();
  }

  leveldb::Status Open() {
    fs_ = std::make_unique<ProcessFileSystem>(&disk_);
    env::LevelDbEnv::Options env_options;
    env_options.fs = fs_.get();
    env_options.background = env::LevelDbEnv::BackgroundMode::kQueued;
    env_options.sync_rule = rule_;
    env_options.now_micros = [this] { return static_cast<uint64_t>(world_.now_ns() / 1000); };
    env_ = std::move(env::LevelDbEnv::Create(env_options)).value();
    leveldb::Options options;
    options.env = env_.get();
    block_cache_.reset(leveldb::NewLRUCache(1 << 20));
    options.block_cache = block_cache_.get();
    options.create_if_missing = true;
    options.write_buffer_size = kWriteBufferBytes;
    leveldb::DB* db = nullptr;
    leveldb::Status s = leveldb::DB::Open(options, "/db", &db);
    db_.reset(db);
    env_->RunQueuedWork();
    return s;
  }

  // Power loss. The dead process's DB is torn down afterwards: whatever it still does
  // (a queued compaction, its destructor) goes through its dead view and fails.
  void Crash() {
    disk_.Crash();
    EXPECT_FALSE(fs_->alive());
    env_->RunQueuedWork();  // the DB destructor would wait for it forever otherwise
    db_.reset();
    block_cache_.reset();
    env_.reset();
    fs_.reset();
  }

  leveldb::DB* db() { return db_.get(); }
  // What keeld's background thread would have done by now if LevelDB's next write could
  // otherwise wait for it (kv::WriteCouldWaitForQueuedWork).
  void RunQueuedWorkIfWriteCouldWait() {
    if (kv::WriteCouldWaitForQueuedWork(db_.get(), block_cache_.get(), kWriteBufferBytes)) {
      env_->RunQueuedWork();
    }
  }
  env::LevelDbEnv* env() { return env_.get(); }
  World& world() { return world_; }

 private:
  static DiskOptions Options() {
    DiskOptions options;
    options.torn_write_probability = 0.5;
    return options;
  }

  const env::LevelDbEnv::SyncRule rule_;
  World world_;
  NodeLoop loop_;
  SimDisk disk_;
  // Declared after the disk and before the DB: destroyed after the DB, before the disk.
  std::unique_ptr<ProcessFileSystem> fs_;
  std::unique_ptr<env::LevelDbEnv> env_;
  std::unique_ptr<leveldb::Cache> block_cache_;  // outlives db_
  std::unique_ptr<leveldb::DB> db_;
};

// Every write of one key since the last recovery, in order; values are unique per write.
struct Write {
  int index;  // position in the run's write order; -1 for data recovered at the start
  std::string value;
};
using History = std::map<std::string, std::vector<Write>>;

// After a crash, `got` (or its absence) must be a value no older than the key's last
// write at or before `synced_index`: a sync makes every earlier write durable (they share
// one log, in order, or sit in logs synced when LevelDB switched away from them); later
// writes may or may not have survived (torn tail). Returns what is wrong, if anything.
std::optional<std::string> CheckRecovered(const History& history, int synced_index,
                                          leveldb::DB* db) {
  for (const auto& [key, writes] : history) {
    int floor = -2;  // index of the last durable write of this key, if any
    for (const Write& w : writes) {
      if (w.index <= synced_index) floor = w.index;
    }
    std::string got;
    leveldb::Status s = db->Get(leveldb::ReadOptions(), key, &got);
    if (floor == -2 && s.IsNotFound()) continue;
    if (!s.ok()) {
      return absl::StrCat("lost ", key, " (last durable write #", floor, "): ", s.ToString());
    }
    bool allowed = false;
    for (const Write& w : writes) allowed |= w.index >= floor && w.value == got;
    if (!allowed) {
      return absl::StrCat(key, " holds a stale or unknown value (last durable write #", floor,
                          ", synced up to #", synced_index, ")");
    }
  }
  return std::nullopt;
}

// Writes, crashing at random points, and checks every recovery. Returns the first
// violation, naming the seed and crash.
std::optional<std::string> RunSeed(uint64_t seed, Timing timing,
                                   env::LevelDbEnv::SyncRule rule) {
  LevelDbOnSimDisk sim(seed, rule);
  env::Rng rng = sim.world().NewRng("workload");
  if (leveldb::Status s = sim.Open(); !s.ok()) return "first open: " + s.ToString();
  History history;
  int index = 0;
  for (int crash = 0; crash < 8; ++crash) {
    int synced_index = -1;
    const int writes = 50 + static_cast<int>(rng.Uniform(400));
    // Deferred: how often the "background thread" catches up after a write.
    const uint64_t catch_up_one_in = 1 + rng.Uniform(32);
    for (int i = 0; i < writes; ++i, ++index) {
      const std::string key = "k" + std::to_string(rng.Uniform(300));
      const std::string value = "w" + std::to_string(index) + std::string(rng.Uniform(600), 'x');
      leveldb::WriteOptions write;
      write.sync = rng.OneIn(3);
      if (timing == Timing::kDeferred) {
        // LevelDB's foreground would wait for the unflushed memtable here (keeld's thread
        // would have run it by then); one thread waiting on itself never wakes.
        sim.RunQueuedWorkIfWriteCouldWait();
      }
      if (leveldb::Status s = sim.db()->Put(write, key, value); !s.ok()) {
        return absl::StrCat("seed ", seed, " put: ", s.ToString());
      }
      if (timing == Timing::kDrained || rng.OneIn(catch_up_one_in)) sim.env()->RunQueuedWork();
      history[key].push_back({index, value});
      if (write.sync) synced_index = index;
    }
    sim.Crash();
    const std::string where = absl::StrCat("seed ", seed, " crash ", crash, ": ");
    if (leveldb::Status s = sim.Open(); !s.ok()) return where + "reopen: " + s.ToString();
    if (auto wrong = CheckRecovered(history, synced_index, sim.db())) return where + *wrong;
    // What recovery produced is durable (it was read back from the disk, and recovery
    // publishes its own files through a synced MANIFEST): the new baseline.
    history.clear();
    std::unique_ptr<leveldb::Iterator> it(sim.db()->NewIterator(leveldb::ReadOptions()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      history[it->key().ToString()].push_back({-1, it->value().ToString()});
    }
    if (!it->status().ok()) return where + "scan: " + it->status().ToString();
  }
  return std::nullopt;
}

int SeedCount() {
  const char* env = std::getenv("KEEL_SIM_LEVELDB_CRASH_SEEDS");
  return env != nullptr ? std::atoi(env) : 300;
}

void ExpectEverySeedRecovers(Timing timing) {
  for (int seed = 1; seed <= SeedCount(); ++seed) {
    std::optional<std::string> wrong =
        RunSeed(seed, timing, env::LevelDbEnv::SyncRule::kComplete);
    ASSERT_FALSE(wrong.has_value()) << *wrong;
  }
}

TEST(LevelDbCrashTest, SyncedWritesSurvivePowerLossWithWorkDrainedAfterEveryCall) {
  ExpectEverySeedRecovers(Timing::kDrained);
}

TEST(LevelDbCrashTest, SyncedWritesSurvivePowerLossWithWorkDeferredLikeKeeldsThread) {
  ExpectEverySeedRecovers(Timing::kDeferred);
}

// The test can see the gap it guards against: LevelDB's own PosixEnv rule (directory
// synced only for MANIFEST files, logs closed without a sync) loses a synced write
// within a few dozen seeds once background work is deferred (keelsim's old discipline,
// drained after every call, never showed it: 1500 seeds passed).
TEST(LevelDbCrashTest, PosixEnvRuleLosesSyncedWritesWhenWorkIsDeferred) {
  std::optional<std::string> lost;
  for (int seed = 1; seed <= 300 && !lost.has_value(); ++seed) {
    lost = RunSeed(seed, Timing::kDeferred, env::LevelDbEnv::SyncRule::kPosixEnv);
  }
  ASSERT_TRUE(lost.has_value()) << "PosixEnv's rule survived 300 seeds: the test is blind";
  // A synced write is gone: the key is missing or holds an older value.
  EXPECT_TRUE(lost->find("lost") != std::string::npos || lost->find("stale") != std::string::npos)
      << *lost;
  std::cout << "PosixEnv rule, deferred: " << *lost << "\n";
}

}  // namespace
}  // namespace keel::sim
