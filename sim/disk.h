// A simulated, in-memory env::FileSystem for one node, with power loss and disk faults.
//
// Power-loss model (after LevelDB's db/fault_injection_test.cc, applied to every file):
//  * File data: each file has the content reads see and the content that survives a
//    crash. Sync/SyncAsync make the current content durable. Crash() reverts every file
//    to its durable content; with probability DiskOptions::torn_write_probability a file
//    whose unsynced bytes extend its durable content keeps a random prefix of them
//    instead (a torn final write).
//  * Directory entries: creating or removing a file is durable only after
//    SyncDir(parent). Crash() restores the namespace as of the last SyncDir of each
//    directory: a file created (even fsynced) but not dir-synced vanishes; an unlink not
//    dir-synced is undone. Like the real PosixFileSystem (and as env.h promises),
//    CreateDir and Rename sync the parent directories themselves and Truncate syncs the
//    file, so they are durable once they return OK; DiskOptions::implicit_syncs = false
//    turns that off (a stricter disk, for code that must not rely on it), and then a
//    rename not dir-synced is undone by a crash too.
//  * Crash() also cancels queued async operations (their callbacks never run), releases
//    every lock, and invalidates every open handle (later calls on it fail with
//    kFailedPrecondition): the process that held them is gone.
//
// Faults (DiskFaults, drawn from this disk's own Rng stream):
//   read/write/sync/dir sync error -> kDataLoss (EIO)
//   capacity exceeded      -> kResourceExhausted (ENOSPC); nothing is written
//   bit flip on read       -> OK, but one bit of the returned bytes is flipped (the stored
//                             data is intact: a transient bus/cache error)
//   misdirected write      -> OK, but the bytes land at a random offset of a random file
//                             (possibly another one) and the intended range reads zeros
//   slow fsync             -> SyncAsync takes slow_sync_latency_ns
// Any error on a WritableFile is sticky: every later operation on that handle fails with
// the same status (env.h requires this for Sync; we extend it to writes because a queued
// async append after a failed one would otherwise land at the wrong offset).
//
// Timing: synchronous operations take no simulated time. AppendAsync/SyncAsync complete
// after a latency drawn from DiskFaults, in issue order per handle; the data is applied
// when the operation completes and the callback is posted to the node's Loop (deferred
// while paused, dropped if the node crashed meanwhile).
#ifndef KEEL_SIM_DISK_H_
#define KEEL_SIM_DISK_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "env/env.h"
#include "env/rng.h"
#include "sim/node_loop.h"
#include "sim/world.h"

namespace keel::sim {

struct DiskFaults {
  double read_error_probability = 0;
  double write_error_probability = 0;
  double sync_error_probability = 0;
  // EIO on a directory fsync: SyncDir, and the syncs CreateDir and Rename do themselves
  // (after which the new name is visible but of unknown durability, as env/posix_fs).
  double dir_sync_error_probability = 0;
  // 0 = unlimited. Counts the current bytes of every linked file.
  uint64_t capacity_bytes = 0;
  double read_bit_flip_probability = 0;
  double misdirected_write_probability = 0;
  // Async latencies, uniform in [min, max] global nanoseconds.
  int64_t write_latency_min_ns = 5'000;
  int64_t write_latency_max_ns = 50'000;
  int64_t sync_latency_min_ns = 100'000;
  int64_t sync_latency_max_ns = 2'000'000;
  double slow_sync_probability = 0;
  int64_t slow_sync_latency_ns = 200'000'000;
};

struct DiskOptions {
  DiskFaults faults{};
  // Per file with unsynced appended bytes, at Crash(): chance to keep a torn prefix.
  double torn_write_probability = 0.5;
  // CreateDir/Rename sync their parent directories and Truncate syncs the file, as
  // env/posix_fs does. False: only explicit Sync/SyncDir make anything durable.
  bool implicit_syncs = true;
};

struct DiskCounters {
  uint64_t reads = 0;
  uint64_t appends = 0;
  uint64_t syncs = 0;
  uint64_t dir_syncs = 0;
  uint64_t bytes_read = 0;
  uint64_t bytes_written = 0;
  uint64_t read_errors = 0;
  uint64_t write_errors = 0;
  uint64_t sync_errors = 0;
  uint64_t dir_sync_errors = 0;
  uint64_t full_errors = 0;
  uint64_t bit_flips = 0;
  uint64_t misdirected_writes = 0;
  uint64_t torn_writes = 0;
  uint64_t crashes = 0;
};

class SimDisk final : public env::FileSystem {
 public:
  // `world` and `loop` must outlive the disk; the disk must outlive its handles.
  SimDisk(World* world, NodeLoop* loop, DiskOptions options, env::Rng rng);
  ~SimDisk() override;
  SimDisk(const SimDisk&) = delete;
  SimDisk& operator=(const SimDisk&) = delete;

  // env::FileSystem.
  absl::StatusOr<std::unique_ptr<env::SequentialFile>> NewSequentialFile(
      std::string_view path) override;
  absl::StatusOr<std::unique_ptr<env::RandomAccessFile>> NewRandomAccessFile(
      std::string_view path) override;
  absl::StatusOr<std::unique_ptr<env::WritableFile>> NewWritableFile(
      std::string_view path) override;
  absl::StatusOr<std::unique_ptr<env::WritableFile>> NewAppendableFile(
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
  absl::StatusOr<std::unique_ptr<env::FileLock>> LockFile(std::string_view path) override;

  // Power loss, as described at the top of this file.
  void Crash();

  // Faults can change mid-run (e.g. off for the liveness phase).
  void set_faults(const DiskFaults& faults) { options_.faults = faults; }
  const DiskFaults& faults() const { return options_.faults; }
  const DiskCounters& counters() const { return counters_; }
  uint64_t used_bytes() const { return used_bytes_; }
  // Incremented by every Crash(): which process lifetime the disk is in.
  uint64_t generation() const { return generation_; }

  // Inspection and corruption for tests and checkers; no faults, no trace, no time.
  // Paths of every file (not directory), sorted.
  std::vector<std::string> ListFiles() const;
  absl::StatusOr<std::string> ReadContents(std::string_view path) const;
  // What the file would hold after a crash without tearing (ignores directory syncs).
  absl::StatusOr<std::string> DurableContents(std::string_view path) const;
  // Flips every bit of the byte at `offset`, in both the current and durable content
  // (the corruption is on the medium). kOutOfRange past the end.
  absl::Status CorruptByte(std::string_view path, uint64_t offset);

 private:
  friend class SimSequentialFile;
  friend class SimRandomAccessFile;
  friend class SimWritableFile;
  friend class SimFileLock;

  struct Inode {
    std::string data;
    uint64_t durable_size = 0;
    // Set when a truncation made the durable content stop being a prefix of `data`.
    std::optional<std::string> durable_override;
    int live_links = 0;
  };
  struct Entry {
    bool is_dir = false;
    std::shared_ptr<Inode> inode;  // files only
  };
  using Namespace = std::map<std::string, Entry, std::less<>>;

  // --- Used by the handle classes. ---
  absl::Status ReadAt(const std::shared_ptr<Inode>& inode, std::string_view path,
                      uint64_t offset, size_t n, char* out, size_t* read);
  // Appends `data` with write faults applied.
  absl::Status WriteAppend(Inode* inode, std::string_view path, std::string_view data);
  // Makes the current content durable, with sync faults applied.
  absl::Status SyncInode(Inode* inode, std::string_view path);
  void AddPendingAsync(EventId id) { pending_async_.insert(id); }
  void RemovePendingAsync(EventId id) { pending_async_.erase(id); }
  int64_t AsyncWriteLatency();
  int64_t AsyncSyncLatency();

  // --- Internals. ---
  absl::StatusOr<std::unique_ptr<env::WritableFile>> OpenWritable(std::string_view path,
                                                                  bool truncate);
  absl::Status CheckParentExists(std::string_view path) const;
  bool IsDir(std::string_view path) const;
  // Snapshots the durable content before a change that is not a pure append.
  static void PrepareOverwrite(Inode* inode);
  static std::string DurableContent(const Inode& inode);
  void SetData(Inode* inode, std::string data);
  void MisdirectWrite(Inode* inode, std::string_view path, std::string_view data);
  void Unlink(Namespace::iterator it);
  void Link(const std::string& path, Entry entry);
  void Trace(std::string_view kind, std::initializer_list<TraceField> detail);
  absl::Status Fault(std::string_view op, std::string_view path, absl::Status status);

  World* const world_;
  NodeLoop* const loop_;
  DiskOptions options_;
  env::Rng rng_;
  // Incremented by Crash(); handles from an older generation are dead.
  uint64_t generation_ = 1;
  Namespace live_;
  Namespace durable_;
  std::set<std::string, std::less<>> locks_;
  absl::flat_hash_set<EventId> pending_async_;  // iterated only to cancel all: order-free
  uint64_t used_bytes_ = 0;
  DiskCounters counters_;
};

}  // namespace keel::sim

#endif  // KEEL_SIM_DISK_H_
