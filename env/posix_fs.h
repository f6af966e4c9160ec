// PosixFileSystem: the real FileSystem over POSIX calls.
//
// Durability choices (what a successful return guarantees after power loss):
//   * WritableFile::Sync / SyncAsync  fdatasync(2) of the file: its bytes and size.
//   * CreateDir, Rename               the directory entry: the parent directory (both
//                                     parents for a cross-directory rename) is fsync'ed
//                                     before returning, so "write temp, Sync, Rename"
//                                     publishes a file atomically and durably.
//   * Truncate                        the new size (the file is fsync'ed).
//   * NewWritableFile/NewAppendableFile, RemoveFile, RemoveDir: NOT durable until the
//                                     caller calls SyncDir(parent). LevelDB's own PosixEnv
//                                     makes the same choice and only syncs the directory
//                                     when it syncs a MANIFEST; our leveldb adapter does
//                                     likewise. Callers that create many files (LevelDB
//                                     tables, WAL segments) pay for one SyncDir, not one
//                                     per file.
//
// Errors: every failure is mapped by ErrnoToStatus (env/errno_status.h). A failed write
// or sync poisons the file: every later operation on it returns the first failure
// (the fsyncgate lesson, see env.h). A closed file answers kFailedPrecondition.
//
// Writes are unbuffered (each Append is write(2) until done); Flush is therefore a no-op.
//
// Asynchronous appends and syncs run on one I/O thread shared by every file of this file
// system (env/async_io_queue.h): FIFO across all files, completions posted to the Loop in
// that order. When the queue is full (Options::async_max_ops / async_max_bytes),
// AppendAsync/SyncAsync block the caller until there is room.
//
// Locks: fcntl(F_SETLK) excludes other processes; a process-wide table keyed by
// (device, inode) excludes other LockFile calls in this process (fcntl locks do not).
// The table is consulted before the file is opened, because closing any descriptor of a
// locked file drops the process's fcntl lock on it.
//
// Lifetime: every file returned must be destroyed before the PosixFileSystem. Locks may
// outlive it.
#ifndef KEEL_ENV_POSIX_FS_H_
#define KEEL_ENV_POSIX_FS_H_

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "env/async_io_queue.h"
#include "env/env.h"

namespace keel::env {

// Test-only fault and observation hook: called before each durability-relevant system
// call with its name and path. Returning an errno makes the call fail with that errno
// without being made; returning 0 lets it proceed. Names: "write", "fdatasync",
// "fsync_dir", "rename", "ftruncate". Called from the caller's thread and from the I/O
// thread, so it must be thread-safe.
using SyscallHook = std::function<int(std::string_view syscall, std::string_view path)>;

class PosixFileSystem final : public FileSystem {
 public:
  struct Options {
    Loop* loop = nullptr;  // required: AppendAsync/SyncAsync completions run here
    size_t async_max_ops = 1024;
    size_t async_max_bytes = size_t{64} << 20;
    SyscallHook syscall_hook;  // tests only; empty in production
  };

  static absl::StatusOr<std::unique_ptr<PosixFileSystem>> Create(Options options);
  // Finishes every queued asynchronous operation (posting its completion), then joins the
  // I/O thread.
  ~PosixFileSystem() override;

  absl::StatusOr<std::unique_ptr<SequentialFile>> NewSequentialFile(
      std::string_view path) override;
  absl::StatusOr<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      std::string_view path) override;
  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(
      std::string_view path) override;
  absl::StatusOr<std::unique_ptr<WritableFile>> NewAppendableFile(
      std::string_view path) override;

  bool FileExists(std::string_view path) override;
  absl::StatusOr<std::vector<std::string>> GetChildren(std::string_view dir) override;
  absl::StatusOr<uint64_t> GetFileSize(std::string_view path) override;

  absl::Status CreateDir(std::string_view path) override;
  absl::Status RemoveFile(std::string_view path) override;
  absl::Status RemoveDir(std::string_view path) override;
  absl::Status Rename(std::string_view from, std::string_view to) override;
  absl::Status Truncate(std::string_view path, uint64_t size) override;
  absl::Status SyncDir(std::string_view dir) override;

  absl::StatusOr<std::unique_ptr<FileLock>> LockFile(std::string_view path) override;

 private:
  PosixFileSystem(Options options, std::unique_ptr<AsyncIoQueue> io_queue);
  absl::StatusOr<std::unique_ptr<WritableFile>> OpenWritable(std::string_view path,
                                                             int flags);

  const Options options_;
  std::unique_ptr<AsyncIoQueue> io_queue_;
  // Files handed out and not yet destroyed (checked at destruction).
  std::shared_ptr<std::atomic<int>> open_files_;
};

// The directory holding `path` ("." for a bare name). Exposed for tests.
std::string ParentDir(std::string_view path);

}  // namespace keel::env

#endif  // KEEL_ENV_POSIX_FS_H_
