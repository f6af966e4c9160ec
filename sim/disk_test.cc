#include "sim/disk.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace keel::sim {
namespace {

// A world with one node and its disk; faults off unless a test turns them on.
class DiskTest : public ::testing::Test {
 protected:
  explicit DiskTest(uint64_t seed = 1) : world_(seed), loop_(&world_, 1, ClockConfig{}) {
    Reset(DiskOptions{.torn_write_probability = 0});
  }

  void Reset(DiskOptions options) {
    disk_ = std::make_unique<SimDisk>(&world_, &loop_, options, world_.NewRng("disk.n1"));
    ASSERT_TRUE(disk_->CreateDir("/d").ok());
    ASSERT_TRUE(disk_->SyncDir("/").ok());
  }

  std::unique_ptr<env::WritableFile> Create(const std::string& path) {
    auto file = disk_->NewWritableFile(path);
    EXPECT_TRUE(file.ok()) << file.status();
    return std::move(file).value();
  }

  // Writes `data` to `path` synchronously; syncs the file and/or its directory if asked.
  void Write(const std::string& path, const std::string& data, bool sync_file,
             bool sync_dir) {
    auto file = Create(path);
    ASSERT_TRUE(file->Append(data).ok());
    if (sync_file) {
      ASSERT_TRUE(file->Sync().ok());
    }
    if (sync_dir) {
      ASSERT_TRUE(disk_->SyncDir("/d").ok());
    }
  }

  std::string Contents(const std::string& path) {
    auto contents = disk_->ReadContents(path);
    return contents.ok() ? *contents : "<" + contents.status().ToString() + ">";
  }

  World world_;
  NodeLoop loop_;
  std::unique_ptr<SimDisk> disk_;
};

TEST_F(DiskTest, FilesAndDirectoriesBehaveLikeAFileSystem) {
  Write("/d/b", "bee", true, true);
  Write("/d/a", "ant", true, true);
  ASSERT_TRUE(disk_->CreateDir("/d/sub").ok());
  ASSERT_TRUE(disk_->CreateDir("/d/sub").ok());  // OK if it exists
  EXPECT_EQ(*disk_->GetChildren("/d"), (std::vector<std::string>{"a", "b", "sub"}));
  EXPECT_EQ(*disk_->GetFileSize("/d/a"), 3u);
  EXPECT_TRUE(disk_->FileExists("/d/a"));
  EXPECT_FALSE(disk_->FileExists("/d/zzz"));

  auto seq = disk_->NewSequentialFile("/d/a");
  ASSERT_TRUE(seq.ok());
  std::string got;
  ASSERT_TRUE((*seq)->Read(2, &got).ok());
  ASSERT_TRUE((*seq)->Read(10, &got).ok());
  EXPECT_EQ(got, "ant");
  ASSERT_TRUE((*seq)->Read(10, &got).ok());
  EXPECT_EQ(got, "ant");  // EOF reads nothing

  auto ra = disk_->NewRandomAccessFile("/d/b");
  ASSERT_TRUE(ra.ok());
  char scratch[8];
  EXPECT_EQ(*(*ra)->Read(1, 8, scratch), 2u);
  EXPECT_EQ(std::string(scratch, 2), "ee");

  ASSERT_TRUE(disk_->Rename("/d/a", "/d/b").ok());  // replaces
  EXPECT_EQ(Contents("/d/b"), "ant");
  EXPECT_FALSE(disk_->FileExists("/d/a"));
  EXPECT_EQ(disk_->RemoveDir("/d").code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(disk_->RemoveFile("/d/b").ok());
  ASSERT_TRUE(disk_->RemoveDir("/d/sub").ok());
  EXPECT_EQ(*disk_->GetChildren("/d"), std::vector<std::string>{});
}

TEST_F(DiskTest, ErrorsCarryTheDocumentedCodes) {
  EXPECT_EQ(disk_->NewSequentialFile("/d/none").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(disk_->NewRandomAccessFile("/d/none").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(disk_->NewWritableFile("/nodir/f").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(disk_->GetChildren("/nodir").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(disk_->RemoveFile("/d/none").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(disk_->Rename("/d/none", "/d/x").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(disk_->NewWritableFile("/d").status().code(),
            absl::StatusCode::kFailedPrecondition);
  auto lock = disk_->LockFile("/d/LOCK");
  ASSERT_TRUE(lock.ok());
  EXPECT_EQ(disk_->LockFile("/d/LOCK").status().code(), absl::StatusCode::kFailedPrecondition);
  lock->reset();
  EXPECT_TRUE(disk_->LockFile("/d/LOCK").ok());
}

TEST_F(DiskTest, CrashKeepsSyncedBytesAndLosesUnsyncedOnes) {
  auto file = Create("/d/wal");
  ASSERT_TRUE(disk_->SyncDir("/d").ok());
  ASSERT_TRUE(file->Append("durable|").ok());
  ASSERT_TRUE(file->Sync().ok());
  ASSERT_TRUE(file->Append("volatile").ok());
  EXPECT_EQ(Contents("/d/wal"), "durable|volatile");  // reads see unsynced data
  Write("/d/never-synced", "x", false, true);
  disk_->Crash();
  EXPECT_EQ(Contents("/d/wal"), "durable|");
  EXPECT_EQ(Contents("/d/never-synced"), "");  // the name survived, the data did not
  EXPECT_EQ(disk_->counters().crashes, 1u);
}

TEST_F(DiskTest, TruncateByOpeningIsUndoneByACrashTruncateCallIsDurable) {
  Write("/d/f", "0123456789", true, true);
  auto rewrite = Create("/d/f");  // O_TRUNC, not synced
  ASSERT_TRUE(rewrite->Append("new").ok());
  EXPECT_EQ(*disk_->DurableContents("/d/f"), "0123456789");
  disk_->Crash();
  EXPECT_EQ(Contents("/d/f"), "0123456789");
  ASSERT_TRUE(disk_->Truncate("/d/f", 4).ok());  // syncs, as env/posix_fs does
  disk_->Crash();
  EXPECT_EQ(Contents("/d/f"), "0123");
}

TEST_F(DiskTest, NewFilesSurviveACrashOnlyAfterSyncDirButCreateDirIsDurable) {
  Write("/d/published", "data", true, true);
  Write("/d/fsynced-only", "data", true, false);
  ASSERT_TRUE(disk_->CreateDir("/d/newdir").ok());  // syncs /d: publishes fsynced-only
  Write("/d/late", "data", true, false);
  disk_->Crash();
  EXPECT_EQ(*disk_->GetChildren("/d"),
            (std::vector<std::string>{"fsynced-only", "newdir", "published"}));
  EXPECT_EQ(Contents("/d/published"), "data");
}

TEST_F(DiskTest, StrictDiskLosesDirectoriesAndTheirFilesWithoutParentSync) {
  DiskOptions strict;
  strict.implicit_syncs = false;
  Reset(strict);
  ASSERT_TRUE(disk_->CreateDir("/d/newdir").ok());
  Write("/d/newdir/f", "data", true, false);
  ASSERT_TRUE(disk_->SyncDir("/d/newdir").ok());  // but /d never learns of newdir
  disk_->Crash();
  EXPECT_EQ(*disk_->GetChildren("/d"), std::vector<std::string>{});
}

TEST_F(DiskTest, RenameIsDurableOnReturnUnlinkNeedsSyncDir) {
  Write("/d/tmp", "snapshot", true, true);
  Write("/d/old", "old", true, true);
  ASSERT_TRUE(disk_->RemoveFile("/d/old").ok());
  disk_->Crash();
  EXPECT_EQ(*disk_->GetChildren("/d"), (std::vector<std::string>{"old", "tmp"}));
  ASSERT_TRUE(disk_->RemoveFile("/d/old").ok());
  ASSERT_TRUE(disk_->Rename("/d/tmp", "/d/current").ok());  // also publishes the unlink
  disk_->Crash();
  EXPECT_EQ(*disk_->GetChildren("/d"), (std::vector<std::string>{"current"}));
  EXPECT_EQ(Contents("/d/current"), "snapshot");
}

TEST_F(DiskTest, StrictDiskUndoesRenameAndUnlinkUntilSyncDir) {
  DiskOptions strict;
  strict.implicit_syncs = false;
  Reset(strict);
  Write("/d/tmp", "snapshot", true, true);
  Write("/d/old", "old", true, true);
  ASSERT_TRUE(disk_->Rename("/d/tmp", "/d/current").ok());
  ASSERT_TRUE(disk_->RemoveFile("/d/old").ok());
  disk_->Crash();
  EXPECT_EQ(*disk_->GetChildren("/d"), (std::vector<std::string>{"old", "tmp"}));
  EXPECT_EQ(Contents("/d/tmp"), "snapshot");

  ASSERT_TRUE(disk_->Rename("/d/tmp", "/d/current").ok());
  ASSERT_TRUE(disk_->RemoveFile("/d/old").ok());
  ASSERT_TRUE(disk_->SyncDir("/d").ok());
  disk_->Crash();
  EXPECT_EQ(*disk_->GetChildren("/d"), (std::vector<std::string>{"current"}));
  EXPECT_EQ(Contents("/d/current"), "snapshot");
}

TEST_F(DiskTest, TornWriteKeepsAPrefixOfTheUnsyncedTail) {
  const std::string durable = "header|";
  const std::string unsynced(4096, 'x');
  int strictly_between = 0;
  for (int trial = 0; trial < 20; ++trial) {
    Reset(DiskOptions{.torn_write_probability = 1.0});
    auto file = Create("/d/wal");
    ASSERT_TRUE(disk_->SyncDir("/d").ok());
    ASSERT_TRUE(file->Append(durable).ok());
    ASSERT_TRUE(file->Sync().ok());
    ASSERT_TRUE(file->Append(unsynced).ok());
    disk_->Crash();
    const std::string after = Contents("/d/wal");
    ASSERT_GE(after.size(), durable.size());
    ASSERT_LE(after.size(), durable.size() + unsynced.size());
    ASSERT_EQ(after, (durable + unsynced).substr(0, after.size()));
    strictly_between += after.size() > durable.size() &&
                        after.size() < durable.size() + unsynced.size();
    EXPECT_EQ(disk_->counters().torn_writes, 1u);
  }
  EXPECT_GT(strictly_between, 10);
}

TEST_F(DiskTest, CrashInvalidatesHandlesAndReleasesLocks) {
  auto file = Create("/d/f");
  auto reader = disk_->NewSequentialFile("/d/f");
  ASSERT_TRUE(reader.ok());
  auto lock = disk_->LockFile("/d/LOCK");
  ASSERT_TRUE(lock.ok());
  disk_->Crash();
  EXPECT_EQ(file->Append("x").code(), absl::StatusCode::kFailedPrecondition);
  std::string out;
  EXPECT_EQ((*reader)->Read(1, &out).code(), absl::StatusCode::kFailedPrecondition);
  auto relock = disk_->LockFile("/d/LOCK");  // the dead process held it
  EXPECT_TRUE(relock.ok());
  lock->reset();  // the stale lock must not release the new holder's lock
  EXPECT_EQ(disk_->LockFile("/d/LOCK").status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(DiskTest, ReadErrorIsDataLoss) {
  Write("/d/f", "abc", true, true);
  Reset(DiskOptions{.faults = {.read_error_probability = 1.0}});
  Write("/d/f", "abc", true, true);
  auto ra = disk_->NewRandomAccessFile("/d/f");
  ASSERT_TRUE(ra.ok());
  char scratch[3];
  EXPECT_EQ((*ra)->Read(0, 3, scratch).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(disk_->counters().read_errors, 1u);
}

TEST_F(DiskTest, WriteErrorIsDataLossAndSticky) {
  Reset(DiskOptions{.faults = {.write_error_probability = 1.0}});
  auto file = Create("/d/f");
  EXPECT_EQ(file->Append("abc").code(), absl::StatusCode::kDataLoss);
  disk_->set_faults(DiskFaults{});
  EXPECT_EQ(file->Append("abc").code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(file->Sync().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(Contents("/d/f"), "");
  EXPECT_EQ(file->Size(), 0u);
}

TEST_F(DiskTest, SyncErrorIsDataLossStickyAndMakesNothingDurable) {
  auto file = Create("/d/f");
  ASSERT_TRUE(disk_->SyncDir("/d").ok());
  ASSERT_TRUE(file->Append("abc").ok());
  disk_->set_faults(DiskFaults{.sync_error_probability = 1.0});
  EXPECT_EQ(file->Sync().code(), absl::StatusCode::kDataLoss);
  disk_->set_faults(DiskFaults{});
  EXPECT_EQ(file->Sync().code(), absl::StatusCode::kDataLoss);  // never retried blind
  EXPECT_EQ(file->Append("def").code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(*disk_->DurableContents("/d/f"), "");
  EXPECT_EQ(disk_->counters().sync_errors, 1u);
}

TEST_F(DiskTest, DirectorySyncErrorsHaveTheirOwnKnobAndCounter) {
  auto file = Create("/d/f");
  ASSERT_TRUE(file->Append("abc").ok());
  disk_->set_faults(DiskFaults{.dir_sync_error_probability = 1.0});
  EXPECT_EQ(disk_->SyncDir("/d").code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(file->Sync().ok());  // files are not directories
  EXPECT_EQ(disk_->counters().dir_sync_errors, 1u);
  EXPECT_EQ(disk_->counters().sync_errors, 0u);
}

TEST_F(DiskTest, DiskFullIsResourceExhaustedAndWritesNothing) {
  Reset(DiskOptions{.faults = {.capacity_bytes = 10}});
  auto file = Create("/d/f");
  ASSERT_TRUE(file->Append("12345678").ok());
  EXPECT_EQ(file->Append("abc").code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(Contents("/d/f"), "12345678");
  EXPECT_EQ(disk_->used_bytes(), 8u);
  EXPECT_EQ(disk_->counters().full_errors, 1u);
  // Space is freed by unlinking.
  auto other = Create("/d/g");
  ASSERT_TRUE(disk_->RemoveFile("/d/f").ok());
  EXPECT_EQ(disk_->used_bytes(), 0u);
  EXPECT_TRUE(other->Append("0123456789").ok());
}

TEST_F(DiskTest, BitFlipOnReadChangesExactlyOneBitOfTheReturnedBytes) {
  const std::string data(64, 'A');
  Write("/d/f", data, true, true);
  disk_->set_faults(DiskFaults{.read_bit_flip_probability = 1.0});
  auto ra = disk_->NewRandomAccessFile("/d/f");
  ASSERT_TRUE(ra.ok());
  char scratch[64];
  ASSERT_EQ(*(*ra)->Read(0, 64, scratch), 64u);
  int flipped_bits = 0;
  for (int i = 0; i < 64; ++i) {
    flipped_bits += __builtin_popcount(static_cast<unsigned char>(scratch[i] ^ data[i]));
  }
  EXPECT_EQ(flipped_bits, 1);
  EXPECT_EQ(Contents("/d/f"), data);  // the medium is intact
  EXPECT_EQ(disk_->counters().bit_flips, 1u);
}

TEST_F(DiskTest, MisdirectedWriteLandsElsewhereAndLeavesZeros) {
  Write("/d/victim", std::string(100, 'v'), true, true);
  disk_->set_faults(DiskFaults{.misdirected_write_probability = 1.0});
  auto file = Create("/d/f");
  ASSERT_TRUE(file->Append("PAYLOAD").ok());  // reported as success
  EXPECT_EQ(Contents("/d/f"), std::string(7, '\0'));
  const std::string victim = Contents("/d/victim");
  EXPECT_NE(victim, std::string(100, 'v'));
  EXPECT_NE(victim.find('P'), std::string::npos);
  EXPECT_EQ(disk_->counters().misdirected_writes, 1u);
}

TEST_F(DiskTest, CorruptByteChangesTheMediumDurably) {
  Write("/d/f", "abc", true, true);
  ASSERT_TRUE(disk_->CorruptByte("/d/f", 1).ok());
  EXPECT_EQ(Contents("/d/f")[1], static_cast<char>(~'b'));
  disk_->Crash();
  EXPECT_EQ(Contents("/d/f")[1], static_cast<char>(~'b'));
  EXPECT_EQ(disk_->CorruptByte("/d/f", 3).code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(disk_->ListFiles(), std::vector<std::string>{"/d/f"});
}

TEST_F(DiskTest, AsyncOperationsCompleteInOrderAfterLatencyOnTheLoop) {
  Reset(DiskOptions{.faults = {.write_latency_min_ns = 1'000,
                               .write_latency_max_ns = 50'000,
                               .sync_latency_min_ns = 10,
                               .sync_latency_max_ns = 20}});
  auto file = Create("/d/wal");
  ASSERT_TRUE(disk_->SyncDir("/d").ok());
  std::vector<std::pair<int, int64_t>> done;
  for (int i = 0; i < 10; ++i) {
    file->AppendAsync(std::string(10, 'a' + i), [&done, i, this](absl::Status s) {
      ASSERT_TRUE(s.ok());
      done.emplace_back(i, world_.now_ns());
    });
  }
  file->SyncAsync([&](absl::Status s) {
    ASSERT_TRUE(s.ok());
    done.emplace_back(100, world_.now_ns());
  });
  EXPECT_EQ(file->Size(), 100u);           // counts queued bytes
  EXPECT_EQ(Contents("/d/wal"), "");       // nothing applied yet
  world_.RunUntilIdle(1000);
  ASSERT_EQ(done.size(), 11u);
  for (size_t i = 0; i < done.size(); ++i) {
    EXPECT_EQ(done[i].first, i < 10 ? static_cast<int>(i) : 100);
    if (i > 0) {
      EXPECT_GE(done[i].second, done[i - 1].second);
    }
  }
  EXPECT_GE(done.front().second, 1'000);
  EXPECT_EQ(*disk_->DurableContents("/d/wal"), Contents("/d/wal"));
  EXPECT_EQ(Contents("/d/wal").size(), 100u);
}

TEST_F(DiskTest, AsyncSyncFailureFailsEveryLaterQueuedOperation) {
  auto file = Create("/d/wal");
  std::vector<absl::StatusCode> codes;
  auto record = [&](absl::Status s) { codes.push_back(s.code()); };
  file->AppendAsync("a", record);
  disk_->set_faults(DiskFaults{.sync_error_probability = 1.0});
  file->SyncAsync(record);
  world_.RunUntilIdle(100);
  disk_->set_faults(DiskFaults{});
  file->AppendAsync("b", record);
  file->SyncAsync(record);
  world_.RunUntilIdle(100);
  EXPECT_EQ(codes, (std::vector<absl::StatusCode>{
                       absl::StatusCode::kOk, absl::StatusCode::kDataLoss,
                       absl::StatusCode::kDataLoss, absl::StatusCode::kDataLoss}));
}

TEST_F(DiskTest, SlowFsyncTakesTheSlowLatency) {
  Reset(DiskOptions{.faults = {.slow_sync_probability = 1.0,
                               .slow_sync_latency_ns = 300'000'000}});
  auto file = Create("/d/wal");
  int64_t done_ns = -1;
  file->SyncAsync([&](absl::Status s) { done_ns = world_.now_ns(); });
  world_.RunUntilIdle(100);
  EXPECT_EQ(done_ns, 300'000'000);
}

TEST_F(DiskTest, CrashCancelsQueuedAsyncOperations) {
  auto file = Create("/d/wal");
  ASSERT_TRUE(disk_->SyncDir("/d").ok());
  int callbacks = 0;
  file->AppendAsync("lost", [&](absl::Status) { ++callbacks; });
  file->SyncAsync([&](absl::Status) { ++callbacks; });
  loop_.Crash();
  disk_->Crash();
  loop_.Restart();
  world_.RunUntilIdle(100);
  EXPECT_EQ(callbacks, 0);
  EXPECT_EQ(Contents("/d/wal"), "");
}

TEST_F(DiskTest, CompletionsForAPausedNodeWaitForResume) {
  auto file = Create("/d/wal");
  int64_t done_ns = -1;
  loop_.Pause();
  file->AppendAsync("x", [&](absl::Status s) { done_ns = world_.now_ns(); });
  world_.RunUntil(1'000'000'000);
  EXPECT_EQ(done_ns, -1);
  EXPECT_EQ(Contents("/d/wal"), "x");  // the device finished; the process did not look
  loop_.Resume();
  world_.RunUntilIdle(10);
  EXPECT_EQ(done_ns, 1'000'000'000);
}

}  // namespace
}  // namespace keel::sim
