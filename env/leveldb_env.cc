#include "env/leveldb_env.h"

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "env/check.h"

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

class SequentialFileAdapter final : public leveldb::SequentialFile {
 public:
  explicit SequentialFileAdapter(std::unique_ptr<env::SequentialFile> file)
      : file_(std::move(file)) {}

  leveldb::Status Read(size_t n, leveldb::Slice* result, char* scratch) override {
    buffer_.clear();
    absl::Status s = file_->Read(n, &buffer_);
    KEEL_ENV_CHECK(buffer_.size() <= n);
    std::memcpy(scratch, buffer_.data(), buffer_.size());
    *result = leveldb::Slice(scratch, buffer_.size());
    return ToLevelDbStatus(s);
  }
  leveldb::Status Skip(uint64_t n) override { return ToLevelDbStatus(file_->Skip(n)); }

 private:
  std::unique_ptr<env::SequentialFile> file_;
  std::string buffer_;  // reused between reads
};

class RandomAccessFileAdapter final : public leveldb::RandomAccessFile {
 public:
  explicit RandomAccessFileAdapter(std::unique_ptr<env::RandomAccessFile> file)
      : file_(std::move(file)) {}

  leveldb::Status Read(uint64_t offset, size_t n, leveldb::Slice* result,
                       char* scratch) const override {
    absl::StatusOr<size_t> read = file_->Read(offset, n, scratch);
    if (!read.ok()) {
      *result = leveldb::Slice(scratch, 0);
      return ToLevelDbStatus(read.status());
    }
    KEEL_ENV_CHECK(*read <= n);
    *result = leveldb::Slice(scratch, *read);
    return leveldb::Status::OK();
  }

 private:
  std::unique_ptr<env::RandomAccessFile> file_;
};

class WritableFileAdapter final : public leveldb::WritableFile {
 public:
  WritableFileAdapter(std::string fname, std::unique_ptr<env::WritableFile> file,
                      FileSystem* fs)
      : fname_(std::move(fname)), file_(std::move(file)), fs_(fs) {}

  leveldb::Status Append(const leveldb::Slice& data) override {
    return ToLevelDbStatus(file_->Append(View(data)));
  }
  // A write-ahead log is synced before it is closed. LevelDB closes the old log when it
  // switches to a new one, and recovery replays every log it finds; without this sync a
  // crash can keep writes of the new log while losing the old log's unsynced tail, which
  // is no prefix of what was written. (Found by sim/leveldb_crash_test.)
  leveldb::Status Close() override {
    if (IsWriteAheadLog(fname_)) {
      if (absl::Status s = file_->Sync(); !s.ok()) return ToLevelDbStatus(s);
    }
    return ToLevelDbStatus(file_->Close());
  }
  leveldb::Status Flush() override { return ToLevelDbStatus(file_->Flush()); }
  // The directory is synced before the first Sync of every new file (not only manifests,
  // as LevelDB's PosixEnv does): a synced write to a new log is acknowledged as durable,
  // so the log's directory entry must be durable by then too.
  leveldb::Status Sync() override {
    if (IsManifest(fname_) || !directory_synced_) {
      if (absl::Status s = fs_->SyncDir(Dirname(fname_)); !s.ok()) return ToLevelDbStatus(s);
      directory_synced_ = true;
    }
    return ToLevelDbStatus(file_->Sync());
  }

 private:
  const std::string fname_;
  std::unique_ptr<env::WritableFile> file_;
  FileSystem* const fs_;
  bool directory_synced_ = false;
};

class FileLockAdapter final : public leveldb::FileLock {
 public:
  explicit FileLockAdapter(std::unique_ptr<env::FileLock> lock) : lock_(std::move(lock)) {}

 private:
  std::unique_ptr<env::FileLock> lock_;  // released on destruction
};

class DiscardLogger final : public leveldb::Logger {
 public:
  void Logv(const char* format, std::va_list ap) override {}
};

// One line per message: "<now_micros> <message>\n". No thread id (LevelDB's PosixLogger
// prints one), so that simulated runs produce identical LOG files.
class FileLogger final : public leveldb::Logger {
 public:
  FileLogger(std::unique_ptr<env::WritableFile> file, std::function<uint64_t()> now_micros)
      : file_(std::move(file)), now_micros_(std::move(now_micros)) {}
  ~FileLogger() override { file_->Close().IgnoreError(); }

  void Logv(const char* format, std::va_list ap) override {
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

LevelDbEnv::LevelDbEnv(Options options) : options_(std::move(options)) {}

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
  KEEL_ENV_CHECK(queue_.empty());
}

size_t LevelDbEnv::RunQueuedWork() {
  KEEL_ENV_CHECK(options_.background == BackgroundMode::kQueued);
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
  KEEL_ENV_CHECK(ran < kMaxRounds);
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
  KEEL_ENV_CHECK(queue_.size() < options_.max_queued_work);
  queue_.push_back(Work{function, arg});
  work_changed_.Signal();
}

void LevelDbEnv::StartThread(void (*function)(void*), void* arg) {
  absl::MutexLock lock(&mu_);
  KEEL_ENV_CHECK(started_threads_.size() < options_.max_started_threads);
  started_threads_.emplace_back([function, arg] { function(arg); });
}

leveldb::Status LevelDbEnv::NewSequentialFile(const std::string& fname,
                                              leveldb::SequentialFile** result) {
  *result = nullptr;
  auto file = options_.fs->NewSequentialFile(fname);
  if (!file.ok()) return ToLevelDbStatus(file.status());
  *result = new SequentialFileAdapter(*std::move(file));
  return leveldb::Status::OK();
}

leveldb::Status LevelDbEnv::NewRandomAccessFile(const std::string& fname,
                                                leveldb::RandomAccessFile** result) {
  *result = nullptr;
  auto file = options_.fs->NewRandomAccessFile(fname);
  if (!file.ok()) return ToLevelDbStatus(file.status());
  *result = new RandomAccessFileAdapter(*std::move(file));
  return leveldb::Status::OK();
}

leveldb::Status LevelDbEnv::NewWritableFile(const std::string& fname,
                                            leveldb::WritableFile** result) {
  *result = nullptr;
  auto file = options_.fs->NewWritableFile(fname);
  if (!file.ok()) return ToLevelDbStatus(file.status());
  *result = new WritableFileAdapter(fname, *std::move(file), options_.fs);
  return leveldb::Status::OK();
}

leveldb::Status LevelDbEnv::NewAppendableFile(const std::string& fname,
                                              leveldb::WritableFile** result) {
  *result = nullptr;
  auto file = options_.fs->NewAppendableFile(fname);
  if (!file.ok()) return ToLevelDbStatus(file.status());
  *result = new WritableFileAdapter(fname, *std::move(file), options_.fs);
  return leveldb::Status::OK();
}

bool LevelDbEnv::FileExists(const std::string& fname) { return options_.fs->FileExists(fname); }

leveldb::Status LevelDbEnv::GetChildren(const std::string& dir,
                                        std::vector<std::string>* result) {
  result->clear();
  auto children = options_.fs->GetChildren(dir);
  if (!children.ok()) return ToLevelDbStatus(children.status());
  *result = *std::move(children);
  return leveldb::Status::OK();
}

leveldb::Status LevelDbEnv::RemoveFile(const std::string& fname) {
  return ToLevelDbStatus(options_.fs->RemoveFile(fname));
}

leveldb::Status LevelDbEnv::CreateDir(const std::string& dirname) {
  return ToLevelDbStatus(options_.fs->CreateDir(dirname));
}

leveldb::Status LevelDbEnv::RemoveDir(const std::string& dirname) {
  return ToLevelDbStatus(options_.fs->RemoveDir(dirname));
}

leveldb::Status LevelDbEnv::GetFileSize(const std::string& fname, uint64_t* file_size) {
  *file_size = 0;
  auto size = options_.fs->GetFileSize(fname);
  if (!size.ok()) return ToLevelDbStatus(size.status());
  *file_size = *size;
  return leveldb::Status::OK();
}

leveldb::Status LevelDbEnv::RenameFile(const std::string& src, const std::string& target) {
  return ToLevelDbStatus(options_.fs->Rename(src, target));
}

leveldb::Status LevelDbEnv::LockFile(const std::string& fname, leveldb::FileLock** lock) {
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
    *result = new DiscardLogger();
    return leveldb::Status::OK();
  }
  auto file = options_.fs->NewWritableFile(fname);
  if (!file.ok()) return ToLevelDbStatus(file.status());
  *result = new FileLogger(*std::move(file), options_.now_micros);
  return leveldb::Status::OK();
}

uint64_t LevelDbEnv::NowMicros() { return options_.now_micros(); }

void LevelDbEnv::SleepForMicroseconds(int micros) {
  if (options_.background == BackgroundMode::kQueued || micros <= 0) return;
  std::this_thread::sleep_for(std::chrono::microseconds(micros));
}

}  // namespace keel::env
