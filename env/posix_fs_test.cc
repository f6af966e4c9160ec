#include "env/posix_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "env/posix_loop.h"
#include "gtest/gtest.h"

namespace keel::env {
namespace {

constexpr absl::Duration kWait = absl::Seconds(30);

// A fresh directory per test under Bazel's TEST_TMPDIR.
std::string FreshDir(std::string_view name) {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string dir = absl::StrCat(base != nullptr ? base : "/tmp", "/", std::string(name));
  std::string cmd = absl::StrCat("rm -rf '", dir, "' && mkdir -p '", dir, "'");
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  return dir;
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Records the hook calls and injects errnos on request; thread-safe.
class HookRecorder {
 public:
  SyscallHook Hook() {
    return [this](std::string_view syscall, std::string_view path) {
      absl::MutexLock lock(&mu_);
      calls_.push_back(absl::StrCat(std::string(syscall), " ", std::string(path)));
      auto it = inject_.find(std::string(syscall));
      return it == inject_.end() ? 0 : it->second;
    };
  }
  void Inject(std::string syscall, int err) {
    absl::MutexLock lock(&mu_);
    inject_[std::move(syscall)] = err;
  }
  void Clear() {
    absl::MutexLock lock(&mu_);
    inject_.clear();
    calls_.clear();
  }
  std::vector<std::string> calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> calls_;
  std::map<std::string, int> inject_;
};

class PosixFsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = FreshDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    loop_ = *PosixLoop::Create();
    PosixFileSystem::Options options;
    options.loop = loop_.get();
    options.syscall_hook = hooks_.Hook();
    fs_ = *PosixFileSystem::Create(options);
  }
  void TearDown() override {
    fs_.reset();
    loop_.reset();
  }
  std::string Path(std::string_view name) const { return absl::StrCat(dir_, "/", std::string(name)); }

  std::string dir_;
  HookRecorder hooks_;
  std::unique_ptr<PosixLoop> loop_;
  std::unique_ptr<PosixFileSystem> fs_;
};

TEST(ParentDirTest, Cases) {
  EXPECT_EQ(ParentDir("a/b/c"), "a/b");
  EXPECT_EQ(ParentDir("/a"), "/");
  EXPECT_EQ(ParentDir("name"), ".");
  EXPECT_EQ(ParentDir("a/b/"), "a");
  EXPECT_EQ(ParentDir("/"), "/");
}

TEST_F(PosixFsTest, WriteReadRoundTripAndMetadata) {
  auto file = fs_->NewWritableFile(Path("f"));
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_TRUE((*file)->Append("hello ").ok());
  ASSERT_TRUE((*file)->Append("world").ok());
  EXPECT_EQ((*file)->Size(), 11u);
  ASSERT_TRUE((*file)->Flush().ok());
  ASSERT_TRUE((*file)->Sync().ok());
  ASSERT_TRUE((*file)->Close().ok());
  EXPECT_EQ((*file)->Append("x").code(), absl::StatusCode::kFailedPrecondition);
  file->reset();

  EXPECT_TRUE(fs_->FileExists(Path("f")));
  EXPECT_FALSE(fs_->FileExists(Path("g")));
  EXPECT_EQ(*fs_->GetFileSize(Path("f")), 11u);

  auto seq = fs_->NewSequentialFile(Path("f"));
  ASSERT_TRUE(seq.ok());
  std::string out;
  ASSERT_TRUE((*seq)->Read(5, &out).ok());
  EXPECT_EQ(out, "hello");
  ASSERT_TRUE((*seq)->Skip(1).ok());
  ASSERT_TRUE((*seq)->Read(100, &out).ok());  // appends; short only at EOF
  EXPECT_EQ(out, "helloworld");
  ASSERT_TRUE((*seq)->Read(100, &out).ok());
  EXPECT_EQ(out, "helloworld");

  auto ra = fs_->NewRandomAccessFile(Path("f"));
  ASSERT_TRUE(ra.ok());
  char scratch[16];
  auto n = (*ra)->Read(6, 16, scratch);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::string(scratch, *n), "world");
  EXPECT_EQ(*(*ra)->Read(100, 4, scratch), 0u);

  // Appendable keeps contents and starts Size at the current length.
  auto app = fs_->NewAppendableFile(Path("f"));
  ASSERT_TRUE(app.ok());
  EXPECT_EQ((*app)->Size(), 11u);
  ASSERT_TRUE((*app)->Append("!").ok());
  ASSERT_TRUE((*app)->Close().ok());
  EXPECT_EQ(ReadWholeFile(Path("f")), "hello world!");

  ASSERT_TRUE(fs_->Truncate(Path("f"), 5).ok());
  EXPECT_EQ(ReadWholeFile(Path("f")), "hello");

  // NewWritableFile truncates.
  auto again = fs_->NewWritableFile(Path("f"));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->Size(), 0u);
  EXPECT_EQ(*fs_->GetFileSize(Path("f")), 0u);
}

TEST_F(PosixFsTest, GetChildrenIsSortedWithoutDots) {
  for (const char* name : {"b", "a", "c"}) {
    ASSERT_TRUE(fs_->NewWritableFile(Path(name)).ok());
  }
  ASSERT_TRUE(fs_->CreateDir(Path("d")).ok());
  ASSERT_TRUE(fs_->CreateDir(Path("d")).ok());  // OK if it exists
  auto children = fs_->GetChildren(dir_);
  ASSERT_TRUE(children.ok());
  EXPECT_EQ(*children, (std::vector<std::string>{"a", "b", "c", "d"}));
  ASSERT_TRUE(fs_->RemoveFile(Path("a")).ok());
  ASSERT_TRUE(fs_->RemoveDir(Path("d")).ok());
  EXPECT_EQ(*fs_->GetChildren(dir_), (std::vector<std::string>{"b", "c"}));
}

TEST_F(PosixFsTest, ErrorsMapToDocumentedCodes) {
  // ENOENT
  EXPECT_EQ(fs_->NewSequentialFile(Path("missing")).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(fs_->NewRandomAccessFile(Path("missing")).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(fs_->NewWritableFile(Path("no/such/dir")).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(fs_->GetFileSize(Path("missing")).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(fs_->GetChildren(Path("missing")).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(fs_->RemoveFile(Path("missing")).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(fs_->Rename(Path("missing"), Path("x")).code(), absl::StatusCode::kNotFound);
  const absl::Status not_found = fs_->NewSequentialFile(Path("missing")).status();
  EXPECT_NE(not_found.message().find("ENOENT"), std::string_view::npos) << not_found;
  EXPECT_NE(not_found.message().find(Path("missing")), std::string_view::npos) << not_found;

  // EEXIST: a directory where a regular file already is.
  ASSERT_TRUE(fs_->NewWritableFile(Path("file")).ok());
  EXPECT_EQ(fs_->CreateDir(Path("file")).code(), absl::StatusCode::kAlreadyExists);

  // ENOTDIR: a path through a regular file.
  EXPECT_EQ(fs_->NewWritableFile(Path("file/child")).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(fs_->GetChildren(Path("file")).status().code(),
            absl::StatusCode::kFailedPrecondition);

  // ENOTEMPTY
  ASSERT_TRUE(fs_->CreateDir(Path("dir")).ok());
  ASSERT_TRUE(fs_->NewWritableFile(Path("dir/x")).ok());
  EXPECT_EQ(fs_->RemoveDir(Path("dir")).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(PosixFsTest, DiskFullIsResourceExhaustedAndSticky) {
  // /dev/full fails every write with ENOSPC.
  auto file = fs_->NewAppendableFile("/dev/full");
  ASSERT_TRUE(file.ok()) << file.status();
  const absl::Status failed = (*file)->Append("data");
  EXPECT_EQ(failed.code(), absl::StatusCode::kResourceExhausted) << failed;
  // Poisoned: even an operation that would succeed reports the first failure.
  EXPECT_EQ((*file)->Sync(), failed);
  EXPECT_EQ((*file)->Append("more"), failed);
}

TEST_F(PosixFsTest, FailedSyncIsSticky) {
  // Linux gives no portable way to make fdatasync fail on a healthy disk, so the hook
  // injects EIO once; stickiness must then hold without further injection.
  auto file = fs_->NewWritableFile(Path("wal"));
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE((*file)->Append("record-1").ok());
  hooks_.Inject("fdatasync", EIO);
  const absl::Status failed = (*file)->Sync();
  EXPECT_EQ(failed.code(), absl::StatusCode::kDataLoss) << failed;
  hooks_.Clear();
  EXPECT_EQ((*file)->Sync(), failed);
  EXPECT_EQ((*file)->Append("record-2"), failed);
  EXPECT_EQ((*file)->Close(), failed);
  // Other files are unaffected.
  auto other = fs_->NewWritableFile(Path("other"));
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE((*other)->Append("x").ok());
  EXPECT_TRUE((*other)->Sync().ok());
}

TEST_F(PosixFsTest, RenameFsyncsBothParentDirectories) {
  ASSERT_TRUE(fs_->CreateDir(Path("a")).ok());
  ASSERT_TRUE(fs_->CreateDir(Path("b")).ok());
  auto file = fs_->NewWritableFile(Path("a/tmp"));
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE((*file)->Append("payload").ok());
  ASSERT_TRUE((*file)->Sync().ok());
  ASSERT_TRUE((*file)->Close().ok());
  hooks_.Clear();
  ASSERT_TRUE(fs_->Rename(Path("a/tmp"), Path("b/final")).ok());
  EXPECT_EQ(hooks_.calls(), (std::vector<std::string>{
                                absl::StrCat("rename ", Path("a/tmp"), " -> ", Path("b/final")),
                                absl::StrCat("fsync_dir ", Path("b")),
                                absl::StrCat("fsync_dir ", Path("a")),
                            }));
  // Same directory: one directory sync.
  hooks_.Clear();
  ASSERT_TRUE(fs_->Rename(Path("b/final"), Path("b/final2")).ok());
  EXPECT_EQ(hooks_.calls().size(), 2u);
  EXPECT_EQ(hooks_.calls().back(), absl::StrCat("fsync_dir ", Path("b")));
  // A failing directory sync is reported, not swallowed.
  hooks_.Inject("fsync_dir", EIO);
  EXPECT_EQ(fs_->Rename(Path("b/final2"), Path("b/final3")).code(),
            absl::StatusCode::kDataLoss);
}

TEST_F(PosixFsTest, CreateDirFsyncsTheParent) {
  hooks_.Clear();
  ASSERT_TRUE(fs_->CreateDir(Path("sub")).ok());
  EXPECT_EQ(hooks_.calls(), (std::vector<std::string>{absl::StrCat("fsync_dir ", dir_)}));
}

TEST_F(PosixFsTest, LockExcludesASecondLockInThisProcessAndSurvivesTheAttempt) {
  const std::string path = Path("LOCK");
  auto first = fs_->LockFile(path);
  ASSERT_TRUE(first.ok()) << first.status();
  const auto second = fs_->LockFile(path);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  // The failed attempt must not have dropped our fcntl lock: another process still
  // cannot take it.
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const int fd = open(path.c_str(), O_RDWR);
    struct flock request = {};
    request.l_type = F_WRLCK;
    request.l_whence = SEEK_SET;
    _exit(fcntl(fd, F_SETLK, &request) == 0 ? 0 : 1);
  }
  int wstatus = 0;
  ASSERT_EQ(waitpid(child, &wstatus, 0), child);
  ASSERT_TRUE(WIFEXITED(wstatus));
  EXPECT_EQ(WEXITSTATUS(wstatus), 1) << "child acquired a lock we hold";
  // Released by destroying the lock object.
  first->reset();
  EXPECT_TRUE(fs_->LockFile(path).ok());
}

TEST_F(PosixFsTest, LockHeldByAnotherProcessIsFailedPrecondition) {
  const std::string path = Path("LOCK");
  int to_parent[2];
  int to_child[2];
  ASSERT_EQ(pipe(to_parent), 0);
  ASSERT_EQ(pipe(to_child), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(to_child[1]);  // else our own copy keeps the pipe open forever
    close(to_parent[0]);
    const int fd = open(path.c_str(), O_RDWR | O_CREAT, 0644);
    struct flock request = {};
    request.l_type = F_WRLCK;
    request.l_whence = SEEK_SET;
    const char ok = fcntl(fd, F_SETLK, &request) == 0 ? 'y' : 'n';
    (void)!write(to_parent[1], &ok, 1);
    char ignored;
    (void)!read(to_child[0], &ignored, 1);  // returns when the parent closes its end
    _exit(0);
  }
  close(to_parent[1]);
  close(to_child[0]);
  char locked = 0;
  ASSERT_EQ(read(to_parent[0], &locked, 1), 1);
  ASSERT_EQ(locked, 'y');
  const auto attempt = fs_->LockFile(path);
  EXPECT_EQ(attempt.status().code(), absl::StatusCode::kFailedPrecondition) << attempt.status();
  close(to_child[1]);  // child exits; the kernel releases its lock
  int wstatus = 0;
  ASSERT_EQ(waitpid(child, &wstatus, 0), child);
  close(to_parent[0]);
  EXPECT_TRUE(fs_->LockFile(path).ok());
}

TEST_F(PosixFsTest, AsyncOperationsRunAndCompleteInIssueOrder) {
  auto wal = fs_->NewWritableFile(Path("wal"));
  auto other = fs_->NewWritableFile(Path("other"));
  ASSERT_TRUE(wal.ok() && other.ok());
  constexpr int kRecords = 500;
  std::vector<int> order;  // loop thread only
  std::string expected_wal;
  std::string expected_other;
  absl::Notification done;
  absl::Notification issued;
  loop_->Post([&] {
    int seq = 0;
    for (int i = 0; i < kRecords; ++i) {
      const std::string record = absl::StrCat("record-", i, ";");
      WritableFile* target = i % 2 == 0 ? wal->get() : other->get();
      (i % 2 == 0 ? expected_wal : expected_other) += record;
      const int my_seq = seq++;
      target->AppendAsync(record, [&, my_seq](absl::Status s) {
        EXPECT_TRUE(s.ok()) << s;
        order.push_back(my_seq);
      });
      if (i % 10 == 9) {
        const int sync_seq = seq++;
        target->SyncAsync([&, sync_seq](absl::Status s) {
          EXPECT_TRUE(s.ok()) << s;
          order.push_back(sync_seq);
        });
      }
    }
    EXPECT_EQ((*wal)->Size(), expected_wal.size());  // counts queued bytes at once
    const int last = seq++;
    (*wal)->SyncAsync([&, last](absl::Status s) {
      order.push_back(last);
      done.Notify();
    });
    issued.Notify();
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(kWait));
  absl::Notification checked;
  loop_->Post([&] {
    for (size_t i = 0; i < order.size(); ++i) ASSERT_EQ(order[i], static_cast<int>(i));
    EXPECT_EQ(order.size(), kRecords + kRecords / 10 + 1);
    checked.Notify();
  });
  ASSERT_TRUE(checked.WaitForNotificationWithTimeout(kWait));
  ASSERT_TRUE((*wal)->Close().ok());
  ASSERT_TRUE((*other)->Close().ok());
  EXPECT_EQ(ReadWholeFile(Path("wal")), expected_wal);
  EXPECT_EQ(ReadWholeFile(Path("other")), expected_other);
}

TEST_F(PosixFsTest, AsyncSyncFailurePoisonsLaterAsyncOperations) {
  auto wal = fs_->NewWritableFile(Path("wal"));
  ASSERT_TRUE(wal.ok());
  std::vector<absl::Status> results;  // loop thread only
  absl::Notification done;
  hooks_.Inject("fdatasync", EIO);
  loop_->Post([&] {
    auto record = [&](absl::Status s) { results.push_back(s); };
    (*wal)->AppendAsync("a", record);
    (*wal)->SyncAsync(record);
    (*wal)->AppendAsync("b", record);
    (*wal)->SyncAsync([&](absl::Status s) {
      results.push_back(s);
      done.Notify();
    });
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(kWait));
  absl::Notification checked;
  loop_->Post([&] {
    ASSERT_EQ(results.size(), 4u);
    EXPECT_TRUE(results[0].ok());
    EXPECT_EQ(results[1].code(), absl::StatusCode::kDataLoss);
    EXPECT_EQ(results[2], results[1]);
    EXPECT_EQ(results[3], results[1]);
    checked.Notify();
  });
  ASSERT_TRUE(checked.WaitForNotificationWithTimeout(kWait));
  EXPECT_EQ(ReadWholeFile(Path("wal")), "a");  // "b" was refused, never written
}

TEST_F(PosixFsTest, DestroyingTheFileSystemFinishesQueuedAsyncWrites) {
  auto wal = fs_->NewWritableFile(Path("wal"));
  ASSERT_TRUE(wal.ok());
  for (int i = 0; i < 100; ++i) (*wal)->AppendAsync("0123456789", [](absl::Status) {});
  wal->reset();  // waits for this file's queued operations
  fs_.reset();
  EXPECT_EQ(ReadWholeFile(Path("wal")).size(), 1000u);
}

// Durability of "write temp, Sync, Rename" across a process crash: a child does it through
// PosixFileSystem and SIGKILLs itself the instant Rename returns. (SIGKILL keeps the page
// cache, so this checks the crash path, not power loss; RenameFsyncsBothParentDirectories
// checks the directory fsync that power loss needs.)
TEST(PosixFsCrashTest, RenameSurvivesSigkillRightAfterItReturns) {
  const std::string dir = FreshDir("RenameSurvivesSigkill");
  std::string payload;
  for (int i = 0; i < 100000; ++i) payload += static_cast<char>('a' + i % 26);
  // Fork before this process starts any thread: the child then owns a clean copy.
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto loop = PosixLoop::Create();
    if (!loop.ok()) _exit(2);
    PosixFileSystem::Options options;
    options.loop = loop->get();
    auto fs = PosixFileSystem::Create(options);
    if (!fs.ok()) _exit(3);
    auto tmp = (*fs)->NewWritableFile(dir + "/CURRENT.tmp");
    if (!tmp.ok() || !(*tmp)->Append(payload).ok() || !(*tmp)->Sync().ok() ||
        !(*tmp)->Close().ok()) {
      _exit(4);
    }
    if (!(*fs)->Rename(dir + "/CURRENT.tmp", dir + "/CURRENT").ok()) _exit(5);
    raise(SIGKILL);
    _exit(6);
  }
  int wstatus = 0;
  ASSERT_EQ(waitpid(child, &wstatus, 0), child);
  ASSERT_TRUE(WIFSIGNALED(wstatus)) << "child exited with " << WEXITSTATUS(wstatus);
  EXPECT_EQ(WTERMSIG(wstatus), SIGKILL);
  struct stat st;
  EXPECT_NE(stat((dir + "/CURRENT.tmp").c_str(), &st), 0);
  EXPECT_EQ(ReadWholeFile(dir + "/CURRENT"), payload);
}

}  // namespace
}  // namespace keel::env
