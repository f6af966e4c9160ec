#include "env/posix_fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "base/check.h"
#include "env/errno_status.h"

namespace keel::env {
namespace {

std::string Str(std::string_view s) { return std::string(s); }

// Returns the errno the hook injects for this call, or 0 to make the call for real.
int Injected(const SyscallHook& hook, std::string_view syscall, std::string_view path) {
  return hook ? hook(syscall, path) : 0;
}

absl::Status Failure(int err, std::string_view syscall, std::string_view path) {
  return ErrnoToStatus(err, absl::StrCat(Str(syscall), " ", Str(path)));
}

int OpenRetryingEintr(const std::string& path, int flags, mode_t mode = 0644) {
  // Bounded: EINTR only repeats while signals keep arriving.
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
    if (fd >= 0 || errno != EINTR) return fd;
  }
  errno = EINTR;
  return -1;
}

absl::Status FsyncDir(const SyscallHook& hook, std::string_view dir) {
  if (const int err = Injected(hook, "fsync_dir", dir)) return Failure(err, "fsync", dir);
  const int fd = OpenRetryingEintr(Str(dir), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return Failure(errno, "open", dir);
  absl::Status status;
  if (::fsync(fd) != 0) status = Failure(errno, "fsync", dir);
  ::close(fd);
  return status;
}

// ---------------------------------------------------------------------------------------
// Reading.
// ---------------------------------------------------------------------------------------

class PosixSequentialFile final : public SequentialFile {
 public:
  PosixSequentialFile(std::string path, int fd, std::shared_ptr<std::atomic<int>> open_files)
      : path_(std::move(path)), fd_(fd), open_files_(std::move(open_files)) {
    open_files_->fetch_add(1);
  }
  ~PosixSequentialFile() override {
    ::close(fd_);
    open_files_->fetch_sub(1);
  }

  absl::Status Read(size_t n, std::string* out) override {
    const size_t start = out->size();
    out->resize(start + n);
    size_t done = 0;
    // Bounded: each pass reads > 0 bytes, hits EOF, fails, or was interrupted.
    while (done < n) {
      const ssize_t r = ::read(fd_, out->data() + start + done, n - done);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) {
        out->resize(start + done);
        return Failure(errno, "read", path_);
      }
      if (r == 0) break;
      done += static_cast<size_t>(r);
    }
    out->resize(start + done);
    return absl::OkStatus();
  }

  absl::Status Skip(uint64_t n) override {
    if (::lseek(fd_, static_cast<off_t>(n), SEEK_CUR) < 0) return Failure(errno, "lseek", path_);
    return absl::OkStatus();
  }

 private:
  const std::string path_;
  const int fd_;
  const std::shared_ptr<std::atomic<int>> open_files_;
};

class PosixRandomAccessFile final : public RandomAccessFile {
 public:
  PosixRandomAccessFile(std::string path, int fd,
                        std::shared_ptr<std::atomic<int>> open_files)
      : path_(std::move(path)), fd_(fd), open_files_(std::move(open_files)) {
    open_files_->fetch_add(1);
  }
  ~PosixRandomAccessFile() override {
    ::close(fd_);
    open_files_->fetch_sub(1);
  }

  // pread has no shared file offset, so concurrent calls are safe.
  absl::StatusOr<size_t> Read(uint64_t offset, size_t n, char* scratch) const override {
    size_t done = 0;
    while (done < n) {
      const ssize_t r =
          ::pread(fd_, scratch + done, n - done, static_cast<off_t>(offset + done));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return Failure(errno, "pread", path_);
      if (r == 0) break;
      done += static_cast<size_t>(r);
    }
    return done;
  }

 private:
  const std::string path_;
  const int fd_;
  const std::shared_ptr<std::atomic<int>> open_files_;
};

// ---------------------------------------------------------------------------------------
// Writing.
// ---------------------------------------------------------------------------------------

// The descriptor and error state of one writable file, shared with the I/O thread's
// queued operations so that they stay valid however the file object is used.
class WritableCore {
 public:
  WritableCore(std::string path, int fd, const SyscallHook* hook)
      : path_(std::move(path)), hook_(hook), fd_(fd) {}
  ~WritableCore() {
    absl::MutexLock lock(&mu_);
    if (fd_ >= 0) ::close(fd_);
  }

  absl::Status Append(std::string_view data) {
    absl::MutexLock lock(&mu_);
    if (absl::Status usable = UsableLocked(); !usable.ok()) return usable;
    if (const int err = Injected(*hook_, "write", path_)) return Poison(err, "write");
    size_t done = 0;
    // Bounded: every pass writes > 0 bytes, fails, or was interrupted by a signal.
    while (done < data.size()) {
      const ssize_t w = ::write(fd_, data.data() + done, data.size() - done);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return Poison(errno, "write");
      done += static_cast<size_t>(w);
    }
    return absl::OkStatus();
  }

  absl::Status Sync() {
    absl::MutexLock lock(&mu_);
    if (absl::Status usable = UsableLocked(); !usable.ok()) return usable;
    if (const int err = Injected(*hook_, "fdatasync", path_)) return Poison(err, "fdatasync");
    if (::fdatasync(fd_) != 0) return Poison(errno, "fdatasync");
    return absl::OkStatus();
  }

  absl::Status Close() {
    absl::MutexLock lock(&mu_);
    if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat("close ", path_, ": closed"));
    const int fd = fd_;
    fd_ = -1;
    // close(2) is not retried on EINTR: on Linux the descriptor is gone either way.
    if (::close(fd) != 0 && errno != EINTR) return Failure(errno, "close", path_);
    return sticky_;
  }

  // Async ops queued on the I/O thread and not yet finished; Close waits for zero.
  void AddPending() {
    absl::MutexLock lock(&mu_);
    ++pending_async_;
  }
  void FinishPending() {
    absl::MutexLock lock(&mu_);
    KEEL_CHECK(pending_async_ > 0);
    --pending_async_;
  }
  void AwaitNoPending() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](int* pending) { return *pending == 0; }, &pending_async_));
  }

 private:
  absl::Status UsableLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!sticky_.ok()) return sticky_;
    if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat("write ", path_, ": closed"));
    return absl::OkStatus();
  }
  absl::Status Poison(int err, std::string_view syscall) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    sticky_ = Failure(err, syscall, path_);
    return sticky_;
  }

  const std::string path_;
  const SyscallHook* const hook_;  // owned by the PosixFileSystem, which outlives us
  absl::Mutex mu_;
  int fd_ ABSL_GUARDED_BY(mu_);
  absl::Status sticky_ ABSL_GUARDED_BY(mu_);
  int pending_async_ ABSL_GUARDED_BY(mu_) = 0;
};

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::shared_ptr<WritableCore> core, uint64_t size, AsyncIoQueue* io_queue,
                    std::shared_ptr<std::atomic<int>> open_files)
      : core_(std::move(core)),
        size_(size),
        io_queue_(io_queue),
        open_files_(std::move(open_files)) {
    open_files_->fetch_add(1);
  }
  ~PosixWritableFile() override {
    core_->AwaitNoPending();
    open_files_->fetch_sub(1);
  }

  absl::Status Append(std::string_view data) override {
    absl::Status status = core_->Append(data);
    if (status.ok()) size_ += data.size();
    return status;
  }
  absl::Status Flush() override { return absl::OkStatus(); }  // writes are unbuffered
  absl::Status Sync() override { return core_->Sync(); }
  absl::Status Close() override {
    core_->AwaitNoPending();
    return core_->Close();
  }

  void AppendAsync(std::string data, StatusCallback done) override {
    // Size counts queued bytes (env.h); a failed write poisons the file, so a Size that
    // ran ahead of the disk is never followed by a successful operation.
    size_ += data.size();
    const size_t size_bytes = data.size();
    Submit(size_bytes, [core = core_, data = std::move(data)]() { return core->Append(data); },
           std::move(done));
  }
  void SyncAsync(StatusCallback done) override {
    Submit(0, [core = core_]() { return core->Sync(); }, std::move(done));
  }

  uint64_t Size() const override { return size_; }

 private:
  void Submit(size_t size_bytes, absl::AnyInvocable<absl::Status()> op, StatusCallback done) {
    core_->AddPending();
    io_queue_->Submit(
        size_bytes,
        [core = core_, op = std::move(op)]() mutable {
          absl::Status status = op();
          core->FinishPending();
          return status;
        },
        std::move(done));
  }

  const std::shared_ptr<WritableCore> core_;
  uint64_t size_;
  AsyncIoQueue* const io_queue_;
  const std::shared_ptr<std::atomic<int>> open_files_;
};

// ---------------------------------------------------------------------------------------
// Locks.
// ---------------------------------------------------------------------------------------

// (device, inode) of every file locked by this process, across all PosixFileSystems.
class ProcessLockTable {
 public:
  static ProcessLockTable& Get() {
    static ProcessLockTable* table = new ProcessLockTable();  // never destroyed
    return *table;
  }
  absl::Mutex mu;
  std::set<std::pair<dev_t, ino_t>> locked ABSL_GUARDED_BY(mu);
};

class PosixFileLock final : public FileLock {
 public:
  PosixFileLock(std::string path, int fd, std::pair<dev_t, ino_t> key)
      : path_(std::move(path)), fd_(fd), key_(key) {}
  ~PosixFileLock() override {
    ProcessLockTable& table = ProcessLockTable::Get();
    absl::MutexLock lock(&table.mu);
    // Unlock and close before leaving the table, so that no new holder in this process can
    // open the file and then lose its lock to our close().
    struct flock unlock = {};
    unlock.l_type = F_UNLCK;
    unlock.l_whence = SEEK_SET;
    ::fcntl(fd_, F_SETLK, &unlock);
    ::close(fd_);
    KEEL_CHECK(table.locked.erase(key_) == 1);
  }

 private:
  const std::string path_;
  const int fd_;
  const std::pair<dev_t, ino_t> key_;
};

}  // namespace

std::string ParentDir(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  const size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return Str(path.substr(0, slash));
}

absl::StatusOr<std::unique_ptr<PosixFileSystem>> PosixFileSystem::Create(Options options) {
  if (options.loop == nullptr) return absl::InvalidArgumentError("PosixFileSystem: no loop");
  AsyncIoQueue::Options queue_options;
  queue_options.loop = options.loop;
  queue_options.max_ops = options.async_max_ops;
  queue_options.max_bytes = options.async_max_bytes;
  absl::StatusOr<std::unique_ptr<AsyncIoQueue>> io_queue = AsyncIoQueue::Create(queue_options);
  if (!io_queue.ok()) return io_queue.status();
  return std::unique_ptr<PosixFileSystem>(
      new PosixFileSystem(std::move(options), *std::move(io_queue)));
}

PosixFileSystem::PosixFileSystem(Options options, std::unique_ptr<AsyncIoQueue> io_queue)
    : options_(std::move(options)),
      io_queue_(std::move(io_queue)),
      open_files_(std::make_shared<std::atomic<int>>(0)) {}

PosixFileSystem::~PosixFileSystem() {
  io_queue_.reset();  // runs what is queued; the cores it holds may still need options_
  KEEL_CHECK(open_files_->load() == 0);
}

absl::StatusOr<std::unique_ptr<SequentialFile>> PosixFileSystem::NewSequentialFile(
    std::string_view path) {
  const int fd = OpenRetryingEintr(Str(path), O_RDONLY);
  if (fd < 0) return Failure(errno, "open", path);
  return std::make_unique<PosixSequentialFile>(Str(path), fd, open_files_);
}

absl::StatusOr<std::unique_ptr<RandomAccessFile>> PosixFileSystem::NewRandomAccessFile(
    std::string_view path) {
  const int fd = OpenRetryingEintr(Str(path), O_RDONLY);
  if (fd < 0) return Failure(errno, "open", path);
  return std::make_unique<PosixRandomAccessFile>(Str(path), fd, open_files_);
}

absl::StatusOr<std::unique_ptr<WritableFile>> PosixFileSystem::OpenWritable(
    std::string_view path, int flags) {
  const int fd = OpenRetryingEintr(Str(path), O_WRONLY | O_CREAT | flags);
  if (fd < 0) return Failure(errno, "open", path);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return Failure(err, "fstat", path);
  }
  auto core = std::make_shared<WritableCore>(Str(path), fd, &options_.syscall_hook);
  return std::make_unique<PosixWritableFile>(std::move(core), static_cast<uint64_t>(st.st_size),
                                             io_queue_.get(), open_files_);
}

absl::StatusOr<std::unique_ptr<WritableFile>> PosixFileSystem::NewWritableFile(
    std::string_view path) {
  return OpenWritable(path, O_TRUNC);
}

absl::StatusOr<std::unique_ptr<WritableFile>> PosixFileSystem::NewAppendableFile(
    std::string_view path) {
  return OpenWritable(path, O_APPEND);
}

bool PosixFileSystem::FileExists(std::string_view path) {
  return ::access(Str(path).c_str(), F_OK) == 0;
}

absl::StatusOr<std::vector<std::string>> PosixFileSystem::GetChildren(std::string_view dir) {
  DIR* d = ::opendir(Str(dir).c_str());
  if (d == nullptr) return Failure(errno, "opendir", dir);
  std::vector<std::string> names;
  // Bounded by the directory's size; readdir returns nullptr at the end or on error.
  errno = 0;
  while (struct dirent* entry = ::readdir(d)) {
    const std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  const int err = errno;
  ::closedir(d);
  if (err != 0) return Failure(err, "readdir", dir);
  std::sort(names.begin(), names.end());
  return names;
}

absl::StatusOr<uint64_t> PosixFileSystem::GetFileSize(std::string_view path) {
  struct stat st;
  if (::stat(Str(path).c_str(), &st) != 0) return Failure(errno, "stat", path);
  return static_cast<uint64_t>(st.st_size);
}

absl::Status PosixFileSystem::CreateDir(std::string_view path) {
  if (::mkdir(Str(path).c_str(), 0755) != 0) {
    const int err = errno;
    struct stat st;
    const bool is_dir = ::stat(Str(path).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    if (err != EEXIST || !is_dir) return Failure(err, "mkdir", path);
  }
  // Also when it existed: an earlier CreateDir may have crashed before this sync.
  return FsyncDir(options_.syscall_hook, ParentDir(path));
}

absl::Status PosixFileSystem::RemoveFile(std::string_view path) {
  if (::unlink(Str(path).c_str()) != 0) return Failure(errno, "unlink", path);
  return absl::OkStatus();
}

absl::Status PosixFileSystem::RemoveDir(std::string_view path) {
  if (::rmdir(Str(path).c_str()) != 0) return Failure(errno, "rmdir", path);
  return absl::OkStatus();
}

absl::Status PosixFileSystem::Rename(std::string_view from, std::string_view to) {
  const std::string what = absl::StrCat(Str(from), " -> ", Str(to));
  if (const int err = Injected(options_.syscall_hook, "rename", what)) {
    return Failure(err, "rename", what);
  }
  if (::rename(Str(from).c_str(), Str(to).c_str()) != 0) return Failure(errno, "rename", what);
  // The rename has happened; make both directory entries durable before reporting OK. A
  // failure here leaves the new name visible but of unknown durability.
  const std::string to_dir = ParentDir(to);
  if (absl::Status s = FsyncDir(options_.syscall_hook, to_dir); !s.ok()) return s;
  const std::string from_dir = ParentDir(from);
  if (from_dir != to_dir) return FsyncDir(options_.syscall_hook, from_dir);
  return absl::OkStatus();
}

absl::Status PosixFileSystem::Truncate(std::string_view path, uint64_t size) {
  if (const int err = Injected(options_.syscall_hook, "ftruncate", path)) {
    return Failure(err, "ftruncate", path);
  }
  const int fd = OpenRetryingEintr(Str(path), O_WRONLY);
  if (fd < 0) return Failure(errno, "open", path);
  absl::Status status;
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    status = Failure(errno, "ftruncate", path);
  } else if (::fsync(fd) != 0) {
    status = Failure(errno, "fsync", path);
  }
  ::close(fd);
  return status;
}

absl::Status PosixFileSystem::SyncDir(std::string_view dir) {
  return FsyncDir(options_.syscall_hook, dir);
}

absl::StatusOr<std::unique_ptr<FileLock>> PosixFileSystem::LockFile(std::string_view path) {
  ProcessLockTable& table = ProcessLockTable::Get();
  // Held across stat, open and fcntl so that two threads cannot both pass the check.
  absl::MutexLock lock(&table.mu);
  struct stat st;
  if (::stat(Str(path).c_str(), &st) == 0 && table.locked.count({st.st_dev, st.st_ino}) > 0) {
    // Do not open the file: closing that descriptor would drop the holder's fcntl lock.
    return absl::FailedPreconditionError(
        absl::StrCat("lock ", Str(path), ": already held by this process"));
  }
  const int fd = OpenRetryingEintr(Str(path), O_RDWR | O_CREAT);
  if (fd < 0) return Failure(errno, "open", path);
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return Failure(err, "fstat", path);
  }
  const std::pair<dev_t, ino_t> key{st.st_dev, st.st_ino};
  KEEL_CHECK(table.locked.count(key) == 0);
  struct flock request = {};
  request.l_type = F_WRLCK;
  request.l_whence = SEEK_SET;  // l_start = l_len = 0: the whole file
  if (::fcntl(fd, F_SETLK, &request) != 0) {
    const int err = errno;
    ::close(fd);  // safe: no lock of ours on this file exists (checked above)
    if (err == EAGAIN || err == EACCES) {
      return absl::FailedPreconditionError(
          absl::StrCat("lock ", Str(path), ": held by another process"));
    }
    return Failure(err, "fcntl(F_SETLK)", path);
  }
  table.locked.insert(key);
  return std::make_unique<PosixFileLock>(Str(path), fd, key);
}

}  // namespace keel::env
