#include "env/leveldb_env.h"

#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "env/posix_fs.h"
#include "env/posix_loop.h"
#include "gtest/gtest.h"
#include "leveldb/db.h"
#include "leveldb/options.h"
#include "leveldb/write_batch.h"

namespace keel::env {
namespace {

std::string FreshDir(std::string_view name) {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string dir = absl::StrCat(base != nullptr ? base : "/tmp", "/", std::string(name));
  std::string cmd = absl::StrCat("rm -rf '", dir, "' && mkdir -p '", dir, "'");
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  return dir;
}

std::string Key(int i) { return absl::StrFormat("key%08d", i); }
std::string Value(int i, int round) {
  // Incompressible-ish and different per round, so overwrites create real garbage.
  return absl::StrCat(round, "-", std::string(100, static_cast<char>('a' + (i * 7 + round) % 26)),
                      i);
}

// Owns a real loop + file system + LevelDbEnv, with a deterministic clock.
struct World {
  explicit World(LevelDbEnv::BackgroundMode mode,
                 LevelDbEnv::LogMode log = LevelDbEnv::LogMode::kDiscard) {
    loop = *PosixLoop::Create();
    PosixFileSystem::Options fs_options;
    fs_options.loop = loop.get();
    fs = *PosixFileSystem::Create(fs_options);
    LevelDbEnv::Options options;
    options.fs = fs.get();
    options.background = mode;
    this->mode = mode;
    options.log = log;
    // A counter, not a clock: every run sees the same timestamps.
    options.now_micros = [this] { return fake_micros.fetch_add(1000); };
    env = *LevelDbEnv::Create(options);
  }
  ~World() {
    env.reset();
    fs.reset();
    loop.reset();
  }
  LevelDbEnv::BackgroundMode mode;
  std::atomic<uint64_t> fake_micros{0};
  std::unique_ptr<PosixLoop> loop;
  std::unique_ptr<PosixFileSystem> fs;
  std::unique_ptr<LevelDbEnv> env;
};

leveldb::Options SmallDbOptions(leveldb::Env* env) {
  leveldb::Options options;
  options.env = env;
  options.create_if_missing = true;
  options.write_buffer_size = 64 << 10;  // LevelDB's minimum: many memtable flushes
  options.max_file_size = 1 << 20;       // LevelDB's minimum: many table files
  options.block_size = 1024;
  return options;
}

bool IsQueued(const World& world) {
  return world.mode == LevelDbEnv::BackgroundMode::kQueued;
}

// In kQueued mode, runs the queued background work the way the MVCC backend will: after
// every DB call.
void AfterDbCall(World* world) {
  if (IsQueued(*world)) world->env->RunQueuedWork();
}

// Writes `rounds` overwrites of `keys` keys (plus deletes of every 10th key in the last
// round), returning what the DB must contain.
std::map<std::string, std::string> WriteRounds(World* world, leveldb::DB* db, int keys,
                                               int rounds) {
  std::map<std::string, std::string> expected;
  for (int round = 0; round < rounds; ++round) {
    for (int i = 0; i < keys; ++i) {
      // Interleave keys across the space so every flush overlaps earlier tables.
      const int k = (i * 7919) % keys;
      leveldb::WriteBatch batch;
      batch.Put(Key(k), Value(k, round));
      if (round == rounds - 1 && k % 10 == 0) batch.Delete(Key(k));
      EXPECT_TRUE(db->Write(leveldb::WriteOptions(), &batch).ok());
      AfterDbCall(world);
      if (round == rounds - 1 && k % 10 == 0) {
        expected.erase(Key(k));
      } else {
        expected[Key(k)] = Value(k, round);
      }
    }
  }
  return expected;
}

void ExpectContents(World* world, leveldb::DB* db,
                    const std::map<std::string, std::string>& expected) {
  for (const auto& [key, value] : expected) {
    std::string got;
    ASSERT_TRUE(db->Get(leveldb::ReadOptions(), key, &got).ok()) << key;
    AfterDbCall(world);
    ASSERT_EQ(got, value) << key;
  }
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
  auto want = expected.begin();
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++want) {
    ASSERT_NE(want, expected.end());
    ASSERT_EQ(it->key().ToString(), want->first);
    ASSERT_EQ(it->value().ToString(), want->second);
  }
  EXPECT_TRUE(it->status().ok());
  EXPECT_EQ(want, expected.end());
  it.reset();
  AfterDbCall(world);
}

int FilesAboveLevelZero(leveldb::DB* db) {
  int files = 0;
  for (int level = 1; level < 7; ++level) {
    std::string value;
    EXPECT_TRUE(db->GetProperty(absl::StrCat("leveldb.num-files-at-level", level), &value));
    files += std::atoi(value.c_str());
  }
  return files;
}

class LevelDbEnvTest : public ::testing::TestWithParam<LevelDbEnv::BackgroundMode> {};

TEST_P(LevelDbEnvTest, FlushesCompactsReopensAndReadsEverythingBack) {
  World world(GetParam());
  const std::string dir = FreshDir(IsQueued(world) ? "db_queued" : "db_thread");
  std::map<std::string, std::string> expected;
  {
    leveldb::DB* raw = nullptr;
    ASSERT_TRUE(leveldb::DB::Open(SmallDbOptions(world.env.get()), dir, &raw).ok());
    std::unique_ptr<leveldb::DB> db(raw);
    AfterDbCall(&world);
    // ~3 MB of values through a 64 KiB memtable: dozens of flushes and compactions.
    expected = WriteRounds(&world, db.get(), 10000, 3);
    ExpectContents(&world, db.get(), expected);
    if (IsQueued(world)) {
      // Draining after each call means compactions actually ran, on this thread.
      EXPECT_GT(FilesAboveLevelZero(db.get()), 0);
      EXPECT_EQ(world.env->QueuedWork(), 0u);
    }
    AfterDbCall(&world);  // nothing may stay queued when the DB is deleted
  }
  {
    leveldb::DB* raw = nullptr;
    leveldb::Options options = SmallDbOptions(world.env.get());
    options.create_if_missing = false;
    ASSERT_TRUE(leveldb::DB::Open(options, dir, &raw).ok());
    std::unique_ptr<leveldb::DB> db(raw);
    AfterDbCall(&world);
    ExpectContents(&world, db.get(), expected);
    EXPECT_GT(FilesAboveLevelZero(db.get()), 0);
    AfterDbCall(&world);
  }
  // A second open of a DB that is open must fail on its LOCK, through our LockFile.
  {
    leveldb::DB* first = nullptr;
    ASSERT_TRUE(leveldb::DB::Open(SmallDbOptions(world.env.get()), dir, &first).ok());
    AfterDbCall(&world);
    leveldb::DB* second = nullptr;
    const leveldb::Status s = leveldb::DB::Open(SmallDbOptions(world.env.get()), dir, &second);
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(FromLevelDbStatus(s).code(), absl::StatusCode::kFailedPrecondition) << s.ToString();
    AfterDbCall(&world);
    delete first;
  }
}

INSTANTIATE_TEST_SUITE_P(BothModes, LevelDbEnvTest,
                         ::testing::Values(LevelDbEnv::BackgroundMode::kThread,
                                           LevelDbEnv::BackgroundMode::kQueued),
                         [](const auto& info) {
                           return info.param == LevelDbEnv::BackgroundMode::kThread
                                      ? "Thread"
                                      : "Queued";
                         });

// Every file (name and bytes) of a directory.
std::map<std::string, std::string> Snapshot(FileSystem* fs, const std::string& dir) {
  std::map<std::string, std::string> files;
  const absl::StatusOr<std::vector<std::string>> names = fs->GetChildren(dir);
  EXPECT_TRUE(names.ok()) << names.status();
  for (const std::string& name : *names) {
    std::ifstream in(dir + "/" + name, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    files[name] = buffer.str();
  }
  return files;
}

// The simulator's requirement: in kQueued mode with a deterministic clock, the same
// operations produce the same LevelDB files byte for byte.
TEST(LevelDbEnvDeterminismTest, QueuedModeProducesIdenticalFiles) {
  std::map<std::string, std::string> runs[2];
  for (int run = 0; run < 2; ++run) {
    World world(LevelDbEnv::BackgroundMode::kQueued, LevelDbEnv::LogMode::kFile);
    // The same path both times: LevelDB writes the DB name into its LOG.
    const std::string dir = FreshDir("determinism");
    leveldb::DB* raw = nullptr;
    ASSERT_TRUE(leveldb::DB::Open(SmallDbOptions(world.env.get()), dir, &raw).ok());
    std::unique_ptr<leveldb::DB> db(raw);
    AfterDbCall(&world);
    WriteRounds(&world, db.get(), 4000, 3);
    db.reset();
    runs[run] = Snapshot(world.fs.get(), dir);
  }
  ASSERT_EQ(runs[0].size(), runs[1].size());
  EXPECT_GT(runs[0].size(), 3u);
  EXPECT_EQ(runs[0].count("LOG"), 1u);  // the file logger is covered too
  for (const auto& [name, bytes] : runs[0]) {
    ASSERT_EQ(runs[1].count(name), 1u) << name;
    EXPECT_TRUE(runs[1][name] == bytes) << name << " differs";
  }
}

// leveldb::Log is not exported by Debian's libleveldb; this is the same forwarding.
void LogTo(leveldb::Logger* logger, const char* format, ...) {
  std::va_list ap;
  va_start(ap, format);
  logger->Logv(format, ap);
  va_end(ap);
}

TEST(LevelDbEnvLoggerTest, FileLoggerWritesTimestampedLinesAndDiscardWritesNothing) {
  const std::string dir = FreshDir("logger");
  {
    World world(LevelDbEnv::BackgroundMode::kQueued, LevelDbEnv::LogMode::kFile);
    leveldb::Logger* logger = nullptr;
    ASSERT_TRUE(world.env->NewLogger(dir + "/LOG", &logger).ok());
    LogTo(logger, "hello %d\n", 42);
    LogTo(logger, "second");
    delete logger;
    auto file = world.fs->NewSequentialFile(dir + "/LOG");
    ASSERT_TRUE(file.ok());
    std::string contents;
    ASSERT_TRUE((*file)->Read(1000, &contents).ok());
    EXPECT_EQ(contents, "0 hello 42\n1000 second\n");
  }
  {
    World world(LevelDbEnv::BackgroundMode::kQueued, LevelDbEnv::LogMode::kDiscard);
    leveldb::Logger* logger = nullptr;
    ASSERT_TRUE(world.env->NewLogger(dir + "/LOG2", &logger).ok());
    LogTo(logger, "dropped");
    delete logger;
    EXPECT_FALSE(world.fs->FileExists(dir + "/LOG2"));
  }
}

// LevelDB installs CURRENT by renaming a temp file over it. If the rename took effect but
// the directory fsync after it failed (FileSystem::Rename reports that as a failed rename),
// LevelDB 1.23's LogAndApply deletes the new MANIFEST, which CURRENT names by then: the DB
// could never open again (sim seed 221). LevelDbEnv fences itself instead, so the failed
// open leaves every file, and the next start opens the DB with its data.
TEST(LevelDbEnvRenameTest, AFailedDirectorySyncAfterInstallingCurrentLeavesAnOpenableDb) {
  const std::string dir = FreshDir("rename_fence") + "/db";
  std::atomic<bool> inject{false};
  std::atomic<bool> armed{false};
  std::unique_ptr<PosixLoop> loop = *PosixLoop::Create();
  PosixFileSystem::Options fs_options;
  fs_options.loop = loop.get();
  fs_options.syscall_hook = [&](std::string_view call, std::string_view path) -> int {
    if (call == "rename" && inject.load() && path.find("/CURRENT") != std::string_view::npos) {
      armed.store(true);
      return 0;  // the rename itself happens
    }
    if (call == "fsync_dir" && armed.exchange(false)) return EIO;
    return 0;
  };
  std::unique_ptr<PosixFileSystem> fs = *PosixFileSystem::Create(fs_options);
  const auto open = [&](bool fail_current) -> std::pair<leveldb::Status, std::string> {
    inject.store(fail_current);
    LevelDbEnv::Options options;
    options.fs = fs.get();
    options.background = LevelDbEnv::BackgroundMode::kThread;
    options.now_micros = [] { return uint64_t{0}; };
    std::unique_ptr<LevelDbEnv> env = *LevelDbEnv::Create(options);
    leveldb::Options db_options = SmallDbOptions(env.get());
    leveldb::DB* raw = nullptr;
    leveldb::Status s = leveldb::DB::Open(db_options, dir, &raw);
    std::unique_ptr<leveldb::DB> db(raw);
    std::string value;
    if (s.ok() && !fail_current) {
      leveldb::WriteOptions sync;
      sync.sync = true;
      if (leveldb::Status put = db->Put(sync, "k", "v1"); !put.ok()) return {put, ""};
      leveldb::Status got = db->Get(leveldb::ReadOptions(), "k", &value);
      if (!got.ok()) return {got, ""};
    }
    return {s, value};
  };
  auto [created, v1] = open(false);
  ASSERT_TRUE(created.ok()) << created.ToString();
  ASSERT_EQ(v1, "v1");
  // Recovery writes a new MANIFEST and installs it with a rename whose directory fsync
  // fails: the open fails (the member would fail-stop)...
  auto [failed, unused] = open(true);
  EXPECT_FALSE(failed.ok());
  EXPECT_FALSE(armed.load()) << "the injected directory fsync never ran";
  // ...and the next start opens the DB with its data.
  auto [reopened, again] = open(false);
  ASSERT_TRUE(reopened.ok()) << reopened.ToString();
  EXPECT_EQ(again, "v1");
}

TEST(LevelDbStatusTest, CodesSurviveARoundTripThroughLevelDb) {
  const absl::StatusCode codes[] = {
      absl::StatusCode::kNotFound,         absl::StatusCode::kResourceExhausted,
      absl::StatusCode::kDataLoss,         absl::StatusCode::kPermissionDenied,
      absl::StatusCode::kFailedPrecondition, absl::StatusCode::kInternal,
  };
  for (absl::StatusCode code : codes) {
    const absl::Status original(code, "write /d/000005.ldb: boom");
    const leveldb::Status mid = ToLevelDbStatus(original);
    EXPECT_FALSE(mid.ok());
    EXPECT_EQ(mid.IsNotFound(), code == absl::StatusCode::kNotFound);
    const absl::Status back = FromLevelDbStatus(mid);
    EXPECT_EQ(back.code(), code) << mid.ToString();
    EXPECT_NE(back.message().find("boom"), std::string_view::npos);
  }
  EXPECT_TRUE(ToLevelDbStatus(absl::OkStatus()).ok());
  EXPECT_TRUE(FromLevelDbStatus(leveldb::Status::OK()).ok());
  EXPECT_EQ(FromLevelDbStatus(leveldb::Status::Corruption("bad block")).code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(FromLevelDbStatus(leveldb::Status::IOError("plain")).code(),
            absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace keel::env
