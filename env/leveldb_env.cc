#include "env/leveldb_env.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "base/check.h"

namespace keel::env {
namespace {

std::string_view View(const leveldb::Slice& s) { return {s.data(), s.size()}; }

// "MANIFEST-000005" under any directory: LevelDB's PosixEnv syncs the directory before
// syncing such a file, because the manifest names table files whose directory entries
// must be durable too.
bool IsManifest(const std::string& fname) {
  const size_t slash = fname.rfind('/');
  const std::string_view base =
      slash == std::string::npos ? std::string_view(fname) : std::string_view(fname).substr(slash + 1);
  return base.substr(0, 8) == "MANIFEST";
}

// "000012.log": LevelDB's write-ahead log.
bool IsWriteAheadLog(const std::string& fname) {
  return fname.size() >= 4 && fname.compare(fname.size() - 4, 4, ".log") == 0;
}

std::string Dirname(const std::string& fname) {
  const size_t slash = fname.rfind('/');
  return slash == std::string::npos ? "." : fname.substr(0, slash);
}

}  // namespace

namespace internal {

// What every file of one LevelDbEnv shares. Thread-safe (kThread: LevelDB's foreground
// and background threads both write).
struct LevelDbFileState {
  std::atomic<bool> fenced{false};
  absl::Mutex mu;
  // The first sync that failed where LevelDB could not see the failure (a log's
  // destructor): every later write and sync returns it.
  absl::Status lost_sync ABSL_GUARDED_BY(mu);

  // OK, or why no file operation may run.
  leveldb::Status Check() {
    if (fenced.load()) {
      return leveldb::Status::IOError("fenced", "the process lost power (LevelDbEnv::Fence)");
    }
    absl::MutexLock lock(&mu);
    return ToLevelDbStatus(lost_sync);
  }
  void RecordLostSync(const absl::Status& s) {
    absl::MutexLock lock(&mu);
    if (lost_sync.ok()) lost_sync = s;
  }
};

}  // namespace internal

namespace {

using internal::LevelDbFileState;

class SequentialFileAdapter final : public leveldb::SequentialFile {
 public:
  SequentialFileAdapter(std::unique_ptr<env::SequentialFile> file, LevelDbFileState* state)
      : file_(std::move(file)), state_(state) {}

  leveldb::Status Read(size_t n, leveldb::Slice* result, char* scratch) override {
    *result = leveldb::Slice(scratch, 0);
    if (state_->fenced.load()) return state_->Check();
    buffer_.clear();
    absl::Status s = file_->Read(n, &buffer_);
    KEEL_CHECK(buffer_.size() <= n);
    std::memcpy(scratch, buffer_.data(), buffer_.size());
    *result = leveldb::Slice(scratch, buffer_.size());
    return ToLevelDbStatus(s);
  }
  leveldb::Status Skip(uint64_t n) override {
    if (state_->fenced.load()) return state_->Check();
    return ToLevelDbStatus(file_->Skip(n));
  }

 private:
  std::unique_ptr<env::SequentialFile> file_;
  LevelDbFileState* const state_;
  std::string buffer_;  // reused between reads
};

class RandomAccessFileAdapter final : public leveldb::RandomAccessFile {
 public:
  RandomAccessFileAdapter(std::unique_ptr<env::RandomAccessFile> file, LevelDbFileState* state)
      : file_(std::move(file)), state_(state) {}

  leveldb::Status Read(uint64_t offset, size_t n, leveldb::Slice* result,
                       char* scratch) const override {
    if (state_->fenced.load()) {
      *result = leveldb::Slice(scratch, 0);
      return state_->Check();
    }
    absl::StatusOr<size_t> read = file_->Read(offset, n, scratch);
    if (!read.ok()) {
      *result = leveldb::Slice(scratch, 0);
      return ToLevelDbStatus(read.status());
    }
    KEEL_CHECK(*read <= n);
    *result = leveldb::Slice(scratch, *read);
    return leveldb::Status::OK();
  }

 private:
  std::unique_ptr<env::RandomAccessFile> file_;
  LevelDbFileState* const state_;
};

class WritableFileAdapter final : public leveldb::WritableFile {
 public:
  WritableFileAdapter(std::string fname, std::unique_ptr<env::WritableFile> file,
                      FileSystem* fs, LevelDbEnv::SyncRule rule, LevelDbFileState* state)
      : fname_(std::move(fname)), file_(std::move(file)), fs_(fs),
        complete_rule_(rule == LevelDbEnv::SyncRule::kComplete), state_(state) {}

  // LevelDB 1.23 (Debian 12's) switches logs by deleting the old log's file object
  // without calling Close (DBImpl::MakeRoomForWrite; Close arrived upstream in 2023), so
  // the "synced before closed" rule below must hold here too. LevelDB cannot hear about
  // a failure here: it fails every later write and sync through this Env instead.
  ~WritableFileAdapter() override {
    if (closed_ || !MustSyncBeforeClose() || !state_->Check().ok()) return;
    if (absl::Status s = file_->Sync(); !s.ok()) {
      state_->RecordLostSync(absl::Status(
          s.code(), absl::StrCat("sync of ", fname_, " when LevelDB switched away from it: ",
                                 s.message())));
    }
  }

  leveldb::Status Append(const leveldb::Slice& data) override {
    if (leveldb::Status s = state_->Check(); !s.ok()) return s;
    return ToLevelDbStatus(file_->Append(View(data)));
  }
  // A write-ahead log is synced before it is closed (or destroyed, above). When LevelDB
  // switches to a new log (DBImpl::MakeRoomForWrite), recovery replays every log from the
  // MANIFEST's log number on: until the background flush of the old memtable writes the
  // next MANIFEST, the old log is the only copy of its writes, and a later synced write
  // to the new log vouches for them, so they must be on disk by then.
  leveldb::Status Close() override {
    if (leveldb::Status s = state_->Check(); !s.ok()) return s;
    closed_ = true;
    if (MustSyncBeforeClose()) {
      if (absl::Status s = file_->Sync(); !s.ok()) return ToLevelDbStatus(s);
    }
    return ToLevelDbStatus(file_->Close());
  }
  leveldb::Status Flush() override {
    if (leveldb::Status s = state_->Check(); !s.ok()) return s;
    return ToLevelDbStatus(file_->Flush());
  }
  // The directory is synced before the first Sync of every new file (LevelDB's PosixEnv
  // does it only for manifests): a synced write to a freshly switched-to log is
  // acknowledged as durable, so the log's directory entry must be durable by then too.
  // A MANIFEST syncs its directory on every Sync: it names table files created since.
  leveldb::Status Sync() override {
    if (leveldb::Status s = state_->Check(); !s.ok()) return s;
    const bool first_sync = !directory_synced_ && complete_rule_;
    if (IsManifest(fname_) || first_sync) {
      if (absl::Status s = fs_->SyncDir(Dirname(fname_)); !s.ok()) return ToLevelDbStatus(s);
      directory_synced_ = true;
    }
    return ToLevelDbStatus(file_->Sync());
  }

 private:
  bool MustSyncBeforeClose() const { return complete_rule_ && IsWriteAheadLog(fname_); }

  const std::string fname_;
  std::unique_ptr<env::WritableFile> file_;
  FileSystem* const fs_;
  // SyncRule::kComplete: the directory on every new file's first Sync, a log before it
  // is closed; kPosixEnv does neither (the MANIFEST's directory sync stays in both).
  const bool complete_rule_;
  LevelDbFileState* const state_;
  bool directory_synced_ = false;
  bool closed_ = false;
};

class FileLockAdapter final : public leveldb::FileLock {
 public:
  explicit FileLockAdapter(std::unique_ptr<env::FileLock> lock) : lock_(std::move(lock)) {}

 private:
  std::unique_ptr<env::FileLock> lock_;  // released on destruction
};

// LevelDB logs these (DBImpl::MakeRoomForWrite) right before its foreground waits for
// background work. With queued work and one thread, that wait never ends: abort with a
// reason instead of hanging (the owner failed to run it first; see kv::WriteCouldWaitForQueuedWork).
void CheckNotWaitingOnQueuedWork(bool queued, const char* format) {
  if (!queued) return;
  const absl::string_view f(format);
  const bool waits = absl::StartsWith(f, "Current memtable full; waiting") ||
                     absl::StartsWith(f, "Too many L0 files; waiting");
  if (waits) {
    std::fprintf(stderr,
                 "LevelDbEnv(kQueued): LevelDB's foreground is about to wait for queued "
                 "background work that only this thread can run (%s)\n",
                 format);
  }
  KEEL_CHECK(!waits);
}

class DiscardLogger final : public leveldb::Logger {
 public:
  explicit DiscardLogger(bool queued) : queued_(queued) {}
  void Logv(const char* format, std::va_list ap) override {
    CheckNotWaitingOnQueuedWork(queued_, format);
  }

 private:
  const bool queued_;
};

// One line per message: "<now_micros> <message>\n". No thread id (LevelDB's PosixLogger
// prints one), so that simulated runs produce identical LOG files.
class FileLogger final : public leveldb::Logger {
 public:
  FileLogger(std::unique_ptr<env::WritableFile> file, std::function<uint64_t()> now_micros,
             bool queued)
      : file_(std::move(file)), now_micros_(std::move(now_micros)), queued_(queued) {}
  ~FileLogger() override { file_->Close().IgnoreError(); }

  void Logv(const char* format, std::va_list ap) override {
    CheckNotWaitingOnQueuedWork(queued_, format);
    // Messages longer than this are cut: a log line is for humans, not for data.
    constexpr size_t kMaxMessageBytes = 4096;
    char message[kMaxMessageBytes];
    const int n = std::vsnprintf(message, sizeof(message), format, ap);
    if (n < 0) return;
    size_t length = std::min(static_cast<size_t>(n), sizeof(message) - 1);
    while (length > 0 && message[length - 1] == '\n') --length;
    std::string line = absl::StrCat(now_micros_(), " ",
                                    absl::string_view(message, length), "\n");
    absl::MutexLock lock(&mu_);
    // A failing log write must not fail the DB operation that logged.
    file_->Append(line).IgnoreError();
    file_->Flush().IgnoreError();
  }

 private:
  absl::Mutex mu_;  // LevelDB logs from the foreground and the background thread
  std::unique_ptr<env::WritableFile> file_;
  const std::function<uint64_t()> now_micros_;
  const bool queued_;
};

}  // namespace

leveldb::Status ToLevelDbStatus(const absl::Status& status) {
  if (status.ok()) return leveldb::Status::OK();
  const std::string message(status.message());
  if (status.code() == absl::StatusCode::kNotFound) return leveldb::Status::NotFound(message);
  return leveldb::Status::IOError(absl::StatusCodeToString(status.code()), message);
}

absl::Status FromLevelDbStatus(const leveldb::Status& status) {
  if (status.ok()) return absl::OkStatus();
  const std::string text = status.ToString();
  if (status.IsNotFound()) return absl::NotFoundError(text);
  if (status.IsCorruption()) return absl::DataLossError(text);
  if (status.IsInvalidArgument()) return absl::InvalidArgumentError(text);
  if (status.IsNotSupportedError()) return absl::UnimplementedError(text);
  if (status.IsIOError()) {
    // Recover the code ToLevelDbStatus wrote: "IO error: <CODE_NAME>: ...".
    constexpr std::string_view kPrefix = "IO error: ";
    std::string_view rest(text);
    if (rest.substr(0, kPrefix.size()) == kPrefix) rest.remove_prefix(kPrefix.size());
    for (int code = 1; code <= 16; ++code) {
      const auto candidate = static_cast<absl::StatusCode>(code);
      const std::string name = absl::StatusCodeToString(candidate) + ":";
      if (rest.substr(0, name.size()) == name) return absl::Status(candidate, text);
    }
  }
  return absl::InternalError(text);
}

absl::StatusOr<std::unique_ptr<LevelDbEnv>> LevelDbEnv::Create(Options options) {
  if (options.fs == nullptr) return absl::InvalidArgumentError("LevelDbEnv: no fs");
  if (!options.now_micros) return absl::InvalidArgumentError("LevelDbEnv: no now_micros");
  if (options.max_queued_work == 0) {
    return absl::InvalidArgumentError("LevelDbEnv: max_queued_work must be > 0");
  }
  std::unique_ptr<LevelDbEnv> env(new LevelDbEnv(std::move(options)));
  if (env->options_.background == BackgroundMode::kThread) {
    env->background_thread_ = std::thread([raw = env.get()] { raw->BackgroundThreadMain(); });
  }
  return env;
}

LevelDbEnv::LevelDbEnv(Options options)
    : options_(std::move(options)), file_state_(std::make_unique<internal::LevelDbFileState>()) {}

LevelDbEnv::~LevelDbEnv() {
  std::vector<std::thread> started;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    work_changed_.SignalAll();
    started.swap(started_threads_);
  }
  if (background_thread_.joinable()) background_thread_.join();
  for (std::thread& thread : started) thread.join();
  absl::MutexLock lock(&mu_);
  // kQueued: work left behind means a DB was deleted without draining, which would have
  // deadlocked in its destructor; reaching here with work queued is a usage bug.
  KEEL_CHECK(queue_.empty());
}

size_t LevelDbEnv::RunQueuedWork() {
  KEEL_CHECK(options_.background == BackgroundMode::kQueued);
  // Each compaction reschedules at most one more; a million rounds means a livelock.
  constexpr size_t kMaxRounds = size_t{1} << 20;
  size_t ran = 0;
  for (; ran < kMaxRounds; ++ran) {
    Work work;
    {
      absl::MutexLock lock(&mu_);
      if (queue_.empty()) return ran;
      work = queue_.front();
      queue_.pop_front();
    }
    work.function(work.arg);
  }
  KEEL_CHECK(ran < kMaxRounds);
  return ran;
}

size_t LevelDbEnv::QueuedWork() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

void LevelDbEnv::BackgroundThreadMain() {
  while (true) {
    Work work;
    {
      absl::MutexLock lock(&mu_);
      while (queue_.empty() && !stopping_) work_changed_.Wait(&mu_);
      if (queue_.empty()) return;  // stopping and drained
      work = queue_.front();
      queue_.pop_front();
    }
    work.function(work.arg);
  }
}

void LevelDbEnv::Schedule(void (*function)(void*), void* arg) {
  absl::MutexLock lock(&mu_);
  KEEL_CHECK(queue_.size() < options_.max_queued_work);
  queue_.push_back(Work{function, arg});
  work_changed_.Signal();
}

void LevelDbEnv::StartThread(void (*function)(void*), void* arg) {
  absl::MutexLock lock(&mu_);
  KEEL_CHECK(started_threads_.size() < options_.max_started_threads);
  started_threads_.emplace_back([function, arg] { function(arg); });
}

leveldb::Status LevelDbEnv::NewSequentialFile(const std::string& fname,
                                              leveldb::SequentialFile** result) {
  if (file_state_->fenced.load()) return file_state_->Check();
  *result = nullptr;
  auto file = options_.fs->NewSequentialFile(fname);
  if (!file.ok()) return ToLevelDbStatus(file.status());
  *result = new SequentialFileAdapter(*std::move(file), file_state_.get());
  return leveldb::Status::OK();
}

leveldb::Status LevelDbEnv::NewRandomAccessFile(const std::string& fname,
                                                leveldb::RandomAccessFile** result) {
  if (file_state_->fenced.load()) return file_state_->Check();
  *result = nullptr;
  auto file = options_.fs->NewRandomAccessFile(fname);
  if (!file.ok()) return ToLevelDbStatus(file.status());
  *result = new RandomAccessFileAdapter(*std::move(file), file_state_.get());
  return leveldb::Status::OK();
}

leveldb::Status LevelDbEnv::NewWritableFile(const std::string& fname,
                                            leveldb::WritableFile** result) {
  if (file_state_->fenced.load()) return file_state_->Check();
  *result = nullptr;
  auto file = options_.fs->NewWritableFile(fname);
  if (!file.ok()) return ToLevelDbStatus(file.status());
  *result = NewWritableFileAdapter(fname, *std::move(file));
  return leveldb::Status::OK();
}

leveldb::Status LevelDbEnv::NewAppendableFile(const std::string& fname,
                                              leveldb::WritableFile** result) {
  if (file_state_->fenced.load()) return file_state_->Check();
  *result = nullptr;
  auto file = options_.fs->NewAppendableFile(fname);
  if (!file.ok()) return ToLevelDbStatus(file.status());
  *result = NewWritableFileAdapter(fname, *std::move(file));
  return leveldb::Status::OK();
}

leveldb::WritableFile* LevelDbEnv::NewWritableFileAdapter(const std::string& fname,
                                                          std::unique_ptr<env::WritableFile> file) {
  return new WritableFileAdapter(fname, std::move(file), options_.fs, options_.sync_rule,
                                 file_state_.get());
}

bool LevelDbEnv::FileExists(const std::string& fname) {
  return !file_state_->fenced.load() && options_.fs->FileExists(fname);
}

void LevelDbEnv::Fence() { file_state_->fenced.store(true); }

leveldb::Status LevelDbEnv::GetChildren(const std::string& dir,
                                        std::vector<std::string>* result) {
  if (file_state_->fenced.load()) return file_state_->Check();
  result->clear();
  auto children = options_.fs->GetChildren(dir);
  if (!children.ok()) return ToLevelDbStatus(children.status());
  *result = *std::move(children);
  return leveldb::Status::OK();
}

leveldb::Status LevelDbEnv::RemoveFile(const std::string& fname) {
  if (file_state_->fenced.load()) return file_state_->Check();
  return ToLevelDbStatus(options_.fs->RemoveFile(fname));
}

leveldb::Status LevelDbEnv::CreateDir(const std::string& dirname) {
  if (file_state_->fenced.load()) return file_state_->Check();
  return ToLevelDbStatus(options_.fs->CreateDir(dirname));
}

leveldb::Status LevelDbEnv::RemoveDir(const std::string& dirname) {
  if (file_state_->fenced.load()) return file_state_->Check();
  return ToLevelDbStatus(options_.fs->RemoveDir(dirname));
}

leveldb::Status LevelDbEnv::GetFileSize(const std::string& fname, uint64_t* file_size) {
  if (file_state_->fenced.load()) return file_state_->Check();
  *file_size = 0;
  auto size = options_.fs->GetFileSize(fname);
  if (!size.ok()) return ToLevelDbStatus(size.status());
  *file_size = *size;
  return leveldb::Status::OK();
}

leveldb::Status LevelDbEnv::RenameFile(const std::string& src, const std::string& target) {
  if (file_state_->fenced.load()) return file_state_->Check();
  absl::Status renamed = options_.fs->Rename(src, target);
  // NotFound: nothing was renamed (LevelDB renames a LOG that may not exist, and ignores
  // that).
  if (!renamed.ok() && !absl::IsNotFound(renamed)) {
    // FileSystem::Rename can fail after rename(2) took effect (its directory fsync), so
    // `target` may already name `src`'s file. LevelDB's only rename installs CURRENT, and
    // when that fails it deletes the new MANIFEST, which CURRENT may name by now: the DB
    // could never open again. Fence instead: the DB fails (the owner fail-stops) and every
    // file stays for the next start, which finds CURRENT naming a MANIFEST that exists.
    Fence();
  }
  return ToLevelDbStatus(renamed);
}

leveldb::Status LevelDbEnv::LockFile(const std::string& fname, leveldb::FileLock** lock) {
  if (file_state_->fenced.load()) return file_state_->Check();
  *lock = nullptr;
  auto held = options_.fs->LockFile(fname);
  if (!held.ok()) return ToLevelDbStatus(held.status());
  *lock = new FileLockAdapter(*std::move(held));
  return leveldb::Status::OK();
}

leveldb::Status LevelDbEnv::UnlockFile(leveldb::FileLock* lock) {
  delete lock;
  return leveldb::Status::OK();
}

leveldb::Status LevelDbEnv::GetTestDirectory(std::string* path) {
  *path = options_.test_directory;
  return ToLevelDbStatus(options_.fs->CreateDir(*path));
}

leveldb::Status LevelDbEnv::NewLogger(const std::string& fname, leveldb::Logger** result) {
  *result = nullptr;
  if (options_.log == LogMode::kDiscard) {
    *result = new DiscardLogger(options_.background == BackgroundMode::kQueued);
    return leveldb::Status::OK();
  }
  auto file = options_.fs->NewWritableFile(fname);
  if (!file.ok()) return ToLevelDbStatus(file.status());
  *result = new FileLogger(*std::move(file), options_.now_micros,
                           options_.background == BackgroundMode::kQueued);
  return leveldb::Status::OK();
}

uint64_t LevelDbEnv::NowMicros() { return options_.now_micros(); }

void LevelDbEnv::SleepForMicroseconds(int micros) {
  if (options_.background == BackgroundMode::kQueued || micros <= 0) return;
  std::this_thread::sleep_for(std::chrono::microseconds(micros));
}

}  // namespace keel::env
