// LevelDB on the simulated disk under power loss: every write acknowledged with
// WriteOptions::sync must survive a crash at any point, and recovery must succeed.
// This exercises the disk's durability model (unsynced bytes lost, torn tails, directory
// entries durable only after a directory sync) together with env::LevelDbEnv.
//
// KEEL_SIM_LEVELDB_CRASH_SEEDS=<n> runs n seeds instead of the default few.
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "env/leveldb_env.h"
#include "gtest/gtest.h"
#include "leveldb/db.h"
#include "sim/disk.h"
#include "sim/node_loop.h"
#include "sim/process_fs.h"
#include "sim/world.h"

namespace keel::sim {
namespace {

// One node's LevelDB on a SimDisk. Each process lifetime gets its own disk view and
// LevelDbEnv, like a restarted process would.
class LevelDbOnSimDisk {
 public:
  explicit LevelDbOnSimDisk(uint64_t seed)
      : world_(seed), loop_(&world_, 1, ClockConfig{}),
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
    env_options.now_micros = [this] { return static_cast<uint64_t>(world_.now_ns() / 1000); };
    env_ = std::move(env::LevelDbEnv::Create(env_options)).value();
    leveldb::Options options;
    options.env = env_.get();
    options.create_if_missing = true;
    options.write_buffer_size = 8 * 1024;  // frequent new logs, flushes, compactions
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
    env_.reset();
    fs_.reset();
  }

  leveldb::DB* db() { return db_.get(); }
  env::LevelDbEnv* env() { return env_.get(); }
  World& world() { return world_; }

 private:
  static DiskOptions Options() {
    DiskOptions options;
    options.torn_write_probability = 0.5;
    return options;
  }

  World world_;
  NodeLoop loop_;
  SimDisk disk_;
  // Declared after the disk and before the DB: destroyed after the DB, before the disk.
  std::unique_ptr<ProcessFileSystem> fs_;
  std::unique_ptr<env::LevelDbEnv> env_;
  std::unique_ptr<leveldb::DB> db_;
};

// KEEL_SIM_LEVELDB_CRASH_BEFORE_DRAIN=1: sometimes crash before the work queued by the
// last write ran. This reproduces a durability gap of env::LevelDbEnv (as of LevelDB's
// own PosixEnv): a write that switches to a new log is fsynced, but the new log's
// directory entry is not, and the old log is closed without a sync, so a crash before
// the next MANIFEST write loses that acknowledged synced write (and earlier unsynced
// ones). It first shows at seed 94 (KEEL_SIM_LEVELDB_CRASH_SEEDS=100). See sim/README.md.
bool CrashBeforeDrain() {
  const char* env = std::getenv("KEEL_SIM_LEVELDB_CRASH_BEFORE_DRAIN");
  return env != nullptr && std::string(env) == "1";
}

// Every write of one key since the last recovery, in order; values are unique per write.
struct Write {
  int index;  // position in the run's write order; -1 for data recovered at the start
  std::string value;
};
using History = std::map<std::string, std::vector<Write>>;

// After a crash, `got` (or its absence) must be a value no older than the key's last
// write at or before `synced_index`: a sync makes every earlier write durable (they share
// one log, in order); later writes may or may not have survived (torn tail).
void CheckRecovered(const History& history, int synced_index, leveldb::DB* db,
                    const std::string& where) {
  for (const auto& [key, writes] : history) {
    int floor = -2;  // index of the last durable write of this key, if any
    for (const Write& w : writes) {
      if (w.index <= synced_index) floor = w.index;
    }
    std::string got;
    leveldb::Status s = db->Get(leveldb::ReadOptions(), key, &got);
    if (floor == -2) {
      ASSERT_TRUE(s.ok() || s.IsNotFound()) << where << ": " << s.ToString();
      if (s.IsNotFound()) continue;
    } else {
      ASSERT_TRUE(s.ok()) << where << ": lost " << key << ": " << s.ToString();
    }
    bool allowed = false;
    for (const Write& w : writes) allowed |= w.index >= floor && w.value == got;
    ASSERT_TRUE(allowed) << where << ": " << key << " holds a stale or unknown value";
  }
}

// Writes, crashing at random points, and checks every recovery.
void RunSeed(uint64_t seed) {
  LevelDbOnSimDisk sim(seed);
  env::Rng rng = sim.world().NewRng("workload");
  ASSERT_TRUE(sim.Open().ok());
  History history;
  int index = 0;
  for (int crash = 0; crash < 8; ++crash) {
    int synced_index = -1;
    const int writes = 50 + static_cast<int>(rng.Uniform(400));
    for (int i = 0; i < writes; ++i, ++index) {
      const std::string key = "k" + std::to_string(rng.Uniform(300));
      const std::string value = "w" + std::to_string(index) + std::string(rng.Uniform(200), 'x');
      leveldb::WriteOptions write;
      write.sync = rng.OneIn(3);
      ASSERT_TRUE(sim.db()->Put(write, key, value).ok());
      // The simulator's discipline drains after every call, so a crash (which happens
      // between events) always finds the queue empty. keeld runs compactions on a
      // thread, where a crash can come first: CrashBeforeDrain() models that.
      const bool skip_drain = CrashBeforeDrain() && i + 1 == writes && rng.OneIn(2);
      if (!skip_drain) sim.env()->RunQueuedWork();
      history[key].push_back({index, value});
      if (write.sync) synced_index = index;
    }
    sim.Crash();
    const std::string where = "seed " + std::to_string(seed) + " crash " + std::to_string(crash);
    leveldb::Status s = sim.Open();
    ASSERT_TRUE(s.ok()) << where << ": " << s.ToString();
    CheckRecovered(history, synced_index, sim.db(), where);
    if (::testing::Test::HasFatalFailure()) return;
    // What recovery produced is durable (it was read back from the disk, and recovery
    // publishes its own files through a synced MANIFEST): the new baseline.
    history.clear();
    std::unique_ptr<leveldb::Iterator> it(sim.db()->NewIterator(leveldb::ReadOptions()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      history[it->key().ToString()].push_back({-1, it->value().ToString()});
    }
    ASSERT_TRUE(it->status().ok());
  }
}

int SeedCount() {
  const char* env = std::getenv("KEEL_SIM_LEVELDB_CRASH_SEEDS");
  return env != nullptr ? std::atoi(env) : 5;
}

TEST(LevelDbCrashTest, AcknowledgedSyncedWritesSurvivePowerLoss) {
  for (int seed = 1; seed <= SeedCount(); ++seed) {
    RunSeed(seed);
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace keel::sim
