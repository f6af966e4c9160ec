// The Env seam: every effect a Keel node has on the world (time, timers, randomness, files,
// peer network) is a virtual call on one of the interfaces below. keeld plugs in the real
// implementation (env/posix_env.h); keelsim plugs in a simulated one (sim/) that can delay,
// drop, tear, flip or fail any of them. Code above this layer that reaches the OS directly
// is a bug: it escapes every fault the simulator can inject.
//
// Threading model (both worlds):
//   * Each node owns one Loop. Timers, asynchronous I/O completions and received peer
//     messages are delivered as callbacks on that Loop, one at a time, never concurrently.
//   * Loop::Post is the only method callable from any thread; it is how gRPC threads in
//     keeld hand work to the node. Everything else is called from the Loop's thread, except
//     where a comment says otherwise (RandomAccessFile::Read is thread-safe for LevelDB).
//
// Error codes (absl::StatusCode) are precise and shared by both implementations:
//   kNotFound           file or directory missing (ENOENT)
//   kAlreadyExists      exclusive create of an existing path (EEXIST)
//   kResourceExhausted  disk full or quota (ENOSPC, EDQUOT)
//   kPermissionDenied   EACCES, EPERM, EROFS
//   kFailedPrecondition lock already held by another process, not a directory, ...
//   kDataLoss           the device reported a failed read/write/sync (EIO); whatever was
//                       not yet durable must be presumed lost
//   kInternal           any other errno (the message names it)
// A failed Sync is sticky: the file refuses every later operation with the same status,
// because after a failed fsync the kernel may already have dropped the dirty pages
// (the "fsyncgate" lesson); retrying would report success for lost data.
#ifndef KEEL_ENV_ENV_H_
#define KEEL_ENV_ENV_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "env/rng.h"

namespace keel::env {

// Completion of an asynchronous operation. Runs on the Loop.
using StatusCallback = absl::AnyInvocable<void(absl::Status) &&>;

// ---------------------------------------------------------------------------------------
// Time and the event loop.
// ---------------------------------------------------------------------------------------
using TimerId = uint64_t;

class Loop {
 public:
  virtual ~Loop() = default;

  // Monotonic time in nanoseconds since an arbitrary epoch fixed at construction. Never
  // decreases. In simulation this is the node's own clock, which may drift or pause
  // relative to simulated global time.
  virtual int64_t NowNanos() const = 0;

  // Runs `fn` on this Loop once at least `delay_nanos` (>= 0) of this Loop's clock have
  // passed. Timers with equal deadlines fire in the order they were added.
  virtual TimerId RunAfter(int64_t delay_nanos, absl::AnyInvocable<void() &&> fn) = 0;

  // Cancels a timer that has not started running. Returns false if it already ran, is
  // running, or was never scheduled. Idempotent.
  virtual bool Cancel(TimerId id) = 0;

  // Runs `fn` on this Loop as soon as possible, after callbacks already queued.
  // Thread-safe: the one entry point for other threads.
  virtual void Post(absl::AnyInvocable<void() &&> fn) = 0;
};

// ---------------------------------------------------------------------------------------
// Files.
// ---------------------------------------------------------------------------------------

// Reads a file front to back. Not thread-safe.
class SequentialFile {
 public:
  virtual ~SequentialFile() = default;
  // Appends up to `n` bytes to `*out`; fewer only at end of file (0 at EOF).
  virtual absl::Status Read(size_t n, std::string* out) = 0;
  virtual absl::Status Skip(uint64_t n) = 0;
};

// Positional reads. Thread-safe: LevelDB reads tables from several threads.
class RandomAccessFile {
 public:
  virtual ~RandomAccessFile() = default;
  // Reads up to `n` bytes at `offset` into `scratch` (capacity >= n) and returns how many
  // were read; fewer only when the file ends first.
  virtual absl::StatusOr<size_t> Read(uint64_t offset, size_t n, char* scratch) const = 0;
};

// An append-only file. Two ways to use it, never mixed on one file:
//  * synchronous (LevelDB, snapshot writers, tools): Append, then Sync; the call returns
//    when done.
//  * asynchronous (the WAL): AppendAsync/SyncAsync queue the operation and return at once;
//    operations on one file execute in the order issued and their callbacks run on the
//    Loop in that same order. This lets a leader send MsgApp before its own fsync
//    completes (Raft thesis §10.2.1), and lets the simulator delay or fail each operation.
// Durability: bytes are durable only after a Sync/SyncAsync issued after them succeeds.
// A crash loses any suffix of unsynced bytes (in simulation, possibly tearing the last
// write). Close does not sync.
class WritableFile {
 public:
  virtual ~WritableFile() = default;

  virtual absl::Status Append(std::string_view data) = 0;
  // Hands buffered bytes to the OS (not durable). LevelDB calls this after each record.
  virtual absl::Status Flush() = 0;
  virtual absl::Status Sync() = 0;
  virtual absl::Status Close() = 0;

  virtual void AppendAsync(std::string data, StatusCallback done) = 0;
  virtual void SyncAsync(StatusCallback done) = 0;

  // Bytes appended so far (synchronously or queued asynchronously).
  virtual uint64_t Size() const = 0;
};

// Held while a process owns a data directory; released by destroying this object or when
// the process dies.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  virtual absl::StatusOr<std::unique_ptr<SequentialFile>> NewSequentialFile(
      std::string_view path) = 0;
  virtual absl::StatusOr<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      std::string_view path) = 0;
  // Creates or truncates. The new directory entry is durable only after SyncDir(parent).
  virtual absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(
      std::string_view path) = 0;
  // Opens for appending, creating if missing.
  virtual absl::StatusOr<std::unique_ptr<WritableFile>> NewAppendableFile(
      std::string_view path) = 0;

  virtual bool FileExists(std::string_view path) = 0;
  // Names (not paths) of the entries in `dir`, sorted, without "." and "..".
  virtual absl::StatusOr<std::vector<std::string>> GetChildren(std::string_view dir) = 0;
  virtual absl::StatusOr<uint64_t> GetFileSize(std::string_view path) = 0;

  // Directory-entry changes below are durable only after SyncDir of the parent(s); the
  // real implementation does that itself for CreateDir and Rename so that a rename used
  // to publish a file atomically survives power loss once it returns OK.
  virtual absl::Status CreateDir(std::string_view path) = 0;  // OK if it exists
  virtual absl::Status RemoveFile(std::string_view path) = 0;
  virtual absl::Status RemoveDir(std::string_view path) = 0;  // must be empty
  virtual absl::Status Rename(std::string_view from, std::string_view to) = 0;
  virtual absl::Status Truncate(std::string_view path, uint64_t size) = 0;
  virtual absl::Status SyncDir(std::string_view dir) = 0;

  // Exclusive, advisory lock on `path` (created if missing). kFailedPrecondition when
  // another process (or another lock in this process) holds it.
  virtual absl::StatusOr<std::unique_ptr<FileLock>> LockFile(std::string_view path) = 0;
};

// ---------------------------------------------------------------------------------------
// Peer network.
// ---------------------------------------------------------------------------------------

// Receives what the Transport delivers, on the Loop.
class TransportHandler {
 public:
  virtual ~TransportHandler() = default;
  virtual void OnMessage(uint64_t from, std::string payload) = 0;
  // The transport gave up on a message to `peer` (connection refused, queue full). Raft
  // uses it to slow down probing (MsgUnreachable).
  virtual void OnPeerUnreachable(uint64_t peer) {}
};

// Message delivery between the members of one cluster, addressed by member ID. Payloads
// are opaque bytes (serialized raftpb::Message in practice). Delivery is best effort:
// messages may be lost, and in simulation duplicated, delayed or reordered; Raft tolerates
// all of it. Send never blocks: each peer has a bounded queue and overflow is dropped and
// reported through OnPeerUnreachable.
class Transport {
 public:
  virtual ~Transport() = default;
  // Must be called once before any message can arrive. `handler` outlives the Transport.
  virtual void SetHandler(TransportHandler* handler) = 0;
  virtual void AddPeer(uint64_t id, std::string_view address) = 0;
  virtual void RemovePeer(uint64_t id) = 0;
  virtual void Send(uint64_t to, std::string payload) = 0;
};

// ---------------------------------------------------------------------------------------
// The whole world of one node.
// ---------------------------------------------------------------------------------------
class Env {
 public:
  virtual ~Env() = default;
  virtual Loop* loop() = 0;
  virtual FileSystem* fs() = 0;
  virtual Transport* transport() = 0;
  // A random stream for one purpose ("raft.election", "lease.id", ...). In simulation it
  // derives from the run's seed and `purpose`, so adding a new purpose never reshuffles
  // the others; in keeld it is seeded from the OS once at start-up.
  virtual Rng NewRng(std::string_view purpose) = 0;
  // Milliseconds on a clock that runs on across restarts of this member's process, for
  // values that must not repeat from one life of the member to the next (etcd seeds its
  // request IDs and new member IDs from the wall clock). The Loop's clock cannot serve:
  // its epoch may be the process start (keeld's is), so every life reads about the same.
  // keeld: the real-time clock, Unix milliseconds (stepped back by an operator or NTP, it
  // may repeat a reading, as in etcd). Simulation: the node's clock, which runs through
  // crashes. Not monotonic; thread-safe.
  virtual int64_t WallClockMillis() = 0;
};

}  // namespace keel::env

#endif  // KEEL_ENV_ENV_H_
