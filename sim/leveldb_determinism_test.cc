// LevelDB on the simulated disk is deterministic: the same seed writes the same workload
// to two fresh disks, with background compactions queued and drained by the caller
// (env::LevelDbEnv kQueued), and the two disks end up with the same files, byte for byte.
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "env/leveldb_env.h"
#include "gtest/gtest.h"
#include "leveldb/db.h"
#include "leveldb/write_batch.h"
#include "sim/disk.h"
#include "sim/node_loop.h"
#include "sim/world.h"

namespace keel::sim {
namespace {

constexpr int kOperations = 6'000;

using Files = std::vector<std::pair<std::string, std::string>>;  // (path, contents)

struct Outcome {
  Files files;
  std::string level1_files;  // LevelDB property, to show compactions happened
  std::map<std::string, std::string> model;
  std::map<std::string, std::string> read_back;
};

// One world, one node, one disk; `seed` drives both the disk and the workload.
Outcome RunWorkload(uint64_t seed) {
  World world(seed);
  NodeLoop loop(&world, 1, ClockConfig{});
  DiskOptions disk_options;
  SimDisk disk(&world, &loop, disk_options, world.NewRng("disk.n1"));
  env::LevelDbEnv::Options env_options;
  env_options.fs = &disk;
  env_options.background = env::LevelDbEnv::BackgroundMode::kQueued;
  env_options.now_micros = [&world] { return static_cast<uint64_t>(world.now_ns() / 1000); };
  auto leveldb_env = env::LevelDbEnv::Create(env_options);
  EXPECT_TRUE(leveldb_env.ok()) << leveldb_env.status();

  leveldb::Options options;
  options.env = leveldb_env->get();
  options.create_if_missing = true;
  options.write_buffer_size = 16 * 1024;  // many memtable flushes and compactions
  options.max_file_size = 32 * 1024;
  leveldb::DB* raw_db = nullptr;
  leveldb::Status s = leveldb::DB::Open(options, "/db", &raw_db);
  EXPECT_TRUE(s.ok()) << s.ToString();
  std::unique_ptr<leveldb::DB> db(raw_db);
  (*leveldb_env)->RunQueuedWork();

  Outcome out;
  env::Rng rng = world.NewRng("workload");
  for (int i = 0; i < kOperations; ++i) {
    const std::string key = "key" + std::to_string(rng.Uniform(2'000));
    leveldb::WriteOptions write;
    write.sync = rng.OneIn(10);
    if (rng.OneIn(5)) {
      EXPECT_TRUE(db->Delete(write, key).ok());
      out.model.erase(key);
    } else if (rng.OneIn(10)) {
      std::string value;
      (void)db->Get(leveldb::ReadOptions(), key, &value);  // may schedule a seek compaction
    } else {
      std::string value(rng.UniformRange(10, 300), 'a' + rng.Uniform(26));
      EXPECT_TRUE(db->Put(write, key, value).ok());
      out.model[key] = value;
    }
    (*leveldb_env)->RunQueuedWork();
    world.RunUntil(world.now_ns() + 10'000);  // simulated time passes between calls
  }
  db->GetProperty("leveldb.num-files-at-level1", &out.level1_files);

  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    out.read_back[it->key().ToString()] = it->value().ToString();
  }
  EXPECT_TRUE(it->status().ok());
  it.reset();
  (*leveldb_env)->RunQueuedWork();
  db.reset();

  for (const std::string& path : disk.ListFiles()) {
    out.files.emplace_back(path, *disk.ReadContents(path));
  }
  return out;
}

TEST(LevelDbDeterminismTest, SameSeedSameFilesByteForByte) {
  const Outcome a = RunWorkload(42);
  const Outcome b = RunWorkload(42);
  // Compactions ran: level 1 is populated, and many memtables were flushed and their
  // files deleted again (file numbers count every log, table and manifest created).
  EXPECT_NE(a.level1_files, "0");
  int highest_file_number = 0;
  for (const auto& [path, contents] : a.files) {
    if (path.size() == 14 && path.substr(11) == "log") {
      highest_file_number = std::stoi(path.substr(4, 6));
    }
  }
  EXPECT_GT(highest_file_number, 10);
  ASSERT_EQ(a.files.size(), b.files.size());
  for (size_t i = 0; i < a.files.size(); ++i) {
    EXPECT_EQ(a.files[i].first, b.files[i].first);
    EXPECT_TRUE(a.files[i].second == b.files[i].second) << a.files[i].first << " differs";
  }
  EXPECT_EQ(a.read_back, a.model);  // and the data is right
}

TEST(LevelDbDeterminismTest, DifferentSeedsWriteDifferentFiles) {
  EXPECT_NE(RunWorkload(1).files, RunWorkload(2).files);
}

}  // namespace
}  // namespace keel::sim
