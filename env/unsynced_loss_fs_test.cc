#include "env/unsynced_loss_fs.h"

#include <stdlib.h>

#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "env/posix_fs.h"
#include "env/posix_loop.h"
#include "gtest/gtest.h"

namespace keel::env {
namespace {

std::string FreshDir(std::string_view name) {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string dir = absl::StrCat(base != nullptr ? base : "/tmp", "/", std::string(name));
  std::string cmd = absl::StrCat("rm -rf '", dir, "' && mkdir -p '", dir, "/data'");
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  return dir;
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void WriteWholeFile(const std::string& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

// A process life: the wrapper over a real PosixFileSystem. "Killing" it drops every
// object without Close or sync (the page cache keeps everything, as after SIGKILL); the
// next life's Recover then models power loss.
class UnsyncedLossFsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = FreshDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    loop_ = *PosixLoop::Create();
    PosixFileSystem::Options options;
    options.loop = loop_.get();
    base_ = *PosixFileSystem::Create(options);
    StartLife();
  }
  void TearDown() override {
    fs_.reset();
    base_.reset();
    loop_.reset();
  }

  void StartLife() {
    absl::StatusOr<std::unique_ptr<UnsyncedLossFileSystem>> fs =
        UnsyncedLossFileSystem::Create(base_.get(), Journal());
    ASSERT_TRUE(fs.ok()) << fs.status();
    fs_ = *std::move(fs);
  }
  // Drops the wrapper (files must already be dropped by the test) and recovers.
  UnsyncedLossFileSystem::RecoveryReport KillAndRecover(std::optional<uint64_t> seed = {}) {
    fs_.reset();
    absl::StatusOr<UnsyncedLossFileSystem::RecoveryReport> report =
        UnsyncedLossFileSystem::Recover(base_.get(), Journal(), seed);
    EXPECT_TRUE(report.ok()) << report.status();
    StartLife();
    return report.ok() ? *report : UnsyncedLossFileSystem::RecoveryReport();
  }

  std::unique_ptr<WritableFile> NewFile(std::string_view name, std::string_view data) {
    absl::StatusOr<std::unique_ptr<WritableFile>> file = fs_->NewWritableFile(Path(name));
    EXPECT_TRUE(file.ok()) << file.status();
    EXPECT_TRUE((*file)->Append(data).ok());
    return *std::move(file);
  }

  std::string Dir() const { return root_ + "/data"; }
  std::string Path(std::string_view name) const {
    return absl::StrCat(Dir(), "/", std::string(name));
  }
  std::string Journal() const { return root_ + "/journal"; }
  std::string Contents(std::string_view name) const { return ReadWholeFile(Path(name)); }
  bool Exists(std::string_view name) const { return base_->FileExists(Path(name)); }

  std::string root_;
  std::unique_ptr<PosixLoop> loop_;
  std::unique_ptr<PosixFileSystem> base_;
  std::unique_ptr<UnsyncedLossFileSystem> fs_;
};

TEST_F(UnsyncedLossFsTest, UnsyncedTailIsDroppedSyncedPrefixKept) {
  std::unique_ptr<WritableFile> file = NewFile("f", "synced|");
  ASSERT_TRUE(file->Sync().ok());
  ASSERT_TRUE(fs_->SyncDir(Dir()).ok());
  ASSERT_TRUE(file->Append("unsynced").ok());
  file.reset();  // no Close, no Sync: killed
  EXPECT_EQ(Contents("f"), "synced|unsynced");  // SIGKILL alone keeps everything

  const UnsyncedLossFileSystem::RecoveryReport report = KillAndRecover();
  EXPECT_EQ(Contents("f"), "synced|");
  EXPECT_EQ(report.files_truncated, 1u);
  EXPECT_EQ(report.files_removed, 0u);
  EXPECT_EQ(report.bytes_dropped, 8u);
  EXPECT_EQ(*base_->GetFileSize(Journal()), 0u);  // a fresh journal
}

TEST_F(UnsyncedLossFsTest, NewFileWithoutDirectorySyncIsLostEvenIfItsDataWasSynced) {
  ASSERT_TRUE(fs_->CreateDir(Path("sub")).ok());
  std::unique_ptr<WritableFile> other_dir = NewFile("sub/x", "data");
  ASSERT_TRUE(other_dir->Sync().ok());
  other_dir.reset();
  std::unique_ptr<WritableFile> kept = NewFile("kept", "data");
  ASSERT_TRUE(kept->Sync().ok());
  ASSERT_TRUE(fs_->SyncDir(Dir() + "/").ok());  // spelled differently on purpose
  kept.reset();
  // Created after the directory sync: not covered by it, though its data was synced.
  std::unique_ptr<WritableFile> lost = NewFile("lost", "data");
  ASSERT_TRUE(lost->Sync().ok());
  lost.reset();

  const UnsyncedLossFileSystem::RecoveryReport report = KillAndRecover();
  EXPECT_FALSE(Exists("lost"));
  EXPECT_FALSE(Exists("sub/x"));  // syncing Dir() does not cover Dir()/sub
  EXPECT_EQ(Contents("kept"), "data");
  EXPECT_EQ(report.files_removed, 2u);
}

TEST_F(UnsyncedLossFsTest, CreateDirMakesEntriesInItsParentDurable) {
  std::unique_ptr<WritableFile> file = NewFile("f", "data");
  ASSERT_TRUE(file->Sync().ok());
  file.reset();
  ASSERT_TRUE(fs_->CreateDir(Path("sub")).ok());  // PosixFileSystem syncs Dir()
  KillAndRecover();
  EXPECT_EQ(Contents("f"), "data");
}

TEST_F(UnsyncedLossFsTest, RenamePublishesTheSyncedFileDurably) {
  std::unique_ptr<WritableFile> tmp = NewFile("snap.tmp", "image");
  ASSERT_TRUE(tmp->Sync().ok());
  ASSERT_TRUE(tmp->Close().ok());
  tmp.reset();
  ASSERT_TRUE(fs_->Rename(Path("snap.tmp"), Path("snap")).ok());
  // Reopened for appending: the rename carried the durable size, the new bytes are not.
  absl::StatusOr<std::unique_ptr<WritableFile>> again = fs_->NewAppendableFile(Path("snap"));
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE((*again)->Append("+tail").ok());
  again->reset();

  KillAndRecover();
  EXPECT_FALSE(Exists("snap.tmp"));
  EXPECT_EQ(Contents("snap"), "image");
}

TEST_F(UnsyncedLossFsTest, TruncateIsDurableAndLaterUnsyncedBytesAreNot) {
  std::unique_ptr<WritableFile> file = NewFile("wal", "0123456789");
  ASSERT_TRUE(file->Sync().ok());
  ASSERT_TRUE(fs_->SyncDir(Dir()).ok());
  file.reset();
  ASSERT_TRUE(fs_->Truncate(Path("wal"), 4).ok());
  absl::StatusOr<std::unique_ptr<WritableFile>> again = fs_->NewAppendableFile(Path("wal"));
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE((*again)->Append("xyz").ok());
  again->reset();

  KillAndRecover();
  EXPECT_EQ(Contents("wal"), "0123");
}

TEST_F(UnsyncedLossFsTest, AsyncSyncIsJournaledBeforeItsCallbackRuns) {
  std::unique_ptr<WritableFile> file = NewFile("seg", "");
  ASSERT_TRUE(fs_->SyncDir(Dir()).ok());
  absl::Notification synced;
  file->AppendAsync("record1", [](absl::Status s) { EXPECT_TRUE(s.ok()); });
  file->SyncAsync([&](absl::Status s) {
    EXPECT_TRUE(s.ok());
    // The journal already says so: a recovery now would keep record1.
    EXPECT_NE(ReadWholeFile(Journal()).find(absl::StrCat("S 7 ", Path("seg"))), std::string::npos);
    synced.Notify();
  });
  ASSERT_TRUE(synced.WaitForNotificationWithTimeout(absl::Seconds(30)));
  absl::Notification appended;
  file->AppendAsync("record2", [&](absl::Status s) { appended.Notify(); });
  ASSERT_TRUE(appended.WaitForNotificationWithTimeout(absl::Seconds(30)));
  file.reset();

  KillAndRecover();
  EXPECT_EQ(Contents("seg"), "record1");
}

TEST_F(UnsyncedLossFsTest, FilesFromEarlierLivesAreDurableAndRemovalsStayRemoved) {
  WriteWholeFile(Path("old"), "old data");     // existed before the journal started
  WriteWholeFile(Path("doomed"), "old data");  // likewise
  absl::StatusOr<std::unique_ptr<WritableFile>> old = fs_->NewAppendableFile(Path("old"));
  ASSERT_TRUE(old.ok());
  ASSERT_TRUE((*old)->Append(" + unsynced").ok());
  old->reset();
  ASSERT_TRUE(fs_->RemoveFile(Path("doomed")).ok());

  KillAndRecover();
  EXPECT_EQ(Contents("old"), "old data");
  EXPECT_FALSE(Exists("doomed"));  // the model's limit: an unlink is durable at once
}

TEST_F(UnsyncedLossFsTest, RewritingAnExistingFileWithoutSyncLeavesItEmpty) {
  WriteWholeFile(Path("CURRENT"), "MANIFEST-000001\n");
  std::unique_ptr<WritableFile> file = NewFile("CURRENT", "MANIFEST-000002\n");
  file.reset();
  KillAndRecover();
  EXPECT_TRUE(Exists("CURRENT"));  // its entry was durable before the truncation
  EXPECT_EQ(Contents("CURRENT"), "");
}

TEST_F(UnsyncedLossFsTest, IncompleteLastRecordIsIgnoredAndRecoveryCanBeRepeated) {
  std::unique_ptr<WritableFile> file = NewFile("f", "abc");
  ASSERT_TRUE(file->Sync().ok());
  ASSERT_TRUE(fs_->SyncDir(Dir()).ok());
  ASSERT_TRUE(file->Append("def").ok());
  file.reset();
  fs_.reset();
  {
    // A kill in the middle of writing "S 6 <path>\n".
    std::ofstream journal(Journal(), std::ios::binary | std::ios::app);
    journal << "S 6 " << Path("f").substr(0, 5);
  }
  absl::StatusOr<UnsyncedLossFileSystem::RecoveryReport> report =
      UnsyncedLossFileSystem::Recover(base_.get(), Journal(), std::nullopt);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->records, 3u);
  EXPECT_EQ(Contents("f"), "abc");
  // Killed during recovery, before the journal was truncated: recovering again is safe.
  report = UnsyncedLossFileSystem::Recover(base_.get(), Journal(), std::nullopt);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(Contents("f"), "abc");
  StartLife();
}

TEST_F(UnsyncedLossFsTest, AJournalThatDoesNotDescribeTheDiskIsRefused) {
  std::unique_ptr<WritableFile> file = NewFile("f", "abcdef");
  ASSERT_TRUE(file->Sync().ok());
  ASSERT_TRUE(fs_->SyncDir(Dir()).ok());
  file.reset();
  fs_.reset();
  WriteWholeFile(Path("f"), "ab");  // shorter than its durable size
  absl::StatusOr<UnsyncedLossFileSystem::RecoveryReport> report =
      UnsyncedLossFileSystem::Recover(base_.get(), Journal(), std::nullopt);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kDataLoss);
  StartLife();
}

// The torn tail: a seeded random prefix of the unsynced bytes survives; the same seed
// cuts the same bytes, and different seeds cut differently.
TEST_F(UnsyncedLossFsTest, TornTailIsASeededPrefixOfTheUnsyncedBytes) {
  const std::string unsynced(1000, 'u');
  std::set<size_t> sizes;
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    size_t first_size = 0;
    for (int run = 0; run < 2; ++run) {
      std::unique_ptr<WritableFile> file = NewFile("f", "durable");
      ASSERT_TRUE(file->Sync().ok());
      ASSERT_TRUE(fs_->SyncDir(Dir()).ok());
      ASSERT_TRUE(file->Append(unsynced).ok());
      file.reset();
      KillAndRecover(seed);
      const std::string after = Contents("f");
      ASSERT_GE(after.size(), 7u);
      EXPECT_EQ(after, ("durable" + unsynced).substr(0, after.size()));
      if (run == 0) {
        first_size = after.size();
        sizes.insert(first_size);
      } else {
        EXPECT_EQ(after.size(), first_size) << "seed " << seed << " is not deterministic";
      }
    }
  }
  EXPECT_GT(sizes.size(), 4u);
}

}  // namespace
}  // namespace keel::env
