// The file handles SimDisk hands out. Internal to sim/disk.cc: include sim/disk.h.
//
// Every handle remembers the disk generation it was opened in; after SimDisk::Crash() it
// refuses every call with kFailedPrecondition (the process that held it is gone). Reads
// and writes go through SimDisk so that faults, counters and the trace apply.
#ifndef KEEL_SIM_DISK_FILES_H_
#define KEEL_SIM_DISK_FILES_H_

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "env/env.h"
#include "base/check.h"
#include "sim/disk.h"

namespace keel::sim {
namespace disk_internal {

// Debian's Abseil has its own string_view, which absl::StrCat does not take from ours.
inline std::string Msg(std::string_view path, std::string_view what) {
  return std::string(path).append(what);
}

inline absl::Status StaleHandle(std::string_view path) {
  return absl::FailedPreconditionError(
      Msg(path, ": handle belongs to a process that crashed"));
}

}  // namespace disk_internal


class SimSequentialFile final : public env::SequentialFile {
 public:
  SimSequentialFile(SimDisk* disk, std::shared_ptr<SimDisk::Inode> inode, std::string path)
      : disk_(disk), inode_(std::move(inode)), path_(std::move(path)),
        generation_(disk->generation_) {}

  absl::Status Read(size_t n, std::string* out) override {
    if (generation_ != disk_->generation_) return disk_internal::StaleHandle(path_);
    const size_t old_size = out->size();
    out->resize(old_size + n);
    size_t read = 0;
    absl::Status s = disk_->ReadAt(inode_, path_, offset_, n, out->data() + old_size, &read);
    out->resize(old_size + (s.ok() ? read : 0));
    if (s.ok()) offset_ += read;
    return s;
  }

  absl::Status Skip(uint64_t n) override {
    if (generation_ != disk_->generation_) return disk_internal::StaleHandle(path_);
    offset_ = std::min<uint64_t>(offset_ + n, inode_->data.size());
    return absl::OkStatus();
  }

 private:
  SimDisk* const disk_;
  const std::shared_ptr<SimDisk::Inode> inode_;
  const std::string path_;
  const uint64_t generation_;
  uint64_t offset_ = 0;
};

class SimRandomAccessFile final : public env::RandomAccessFile {
 public:
  SimRandomAccessFile(SimDisk* disk, std::shared_ptr<SimDisk::Inode> inode, std::string path)
      : disk_(disk), inode_(std::move(inode)), path_(std::move(path)),
        generation_(disk->generation_) {}

  absl::StatusOr<size_t> Read(uint64_t offset, size_t n, char* scratch) const override {
    if (generation_ != disk_->generation_) return disk_internal::StaleHandle(path_);
    size_t read = 0;
    absl::Status s = disk_->ReadAt(inode_, path_, offset, n, scratch, &read);
    if (!s.ok()) return s;
    return read;
  }

 private:
  SimDisk* const disk_;
  const std::shared_ptr<SimDisk::Inode> inode_;
  const std::string path_;
  const uint64_t generation_;
};

class SimWritableFile final : public env::WritableFile {
 public:
  SimWritableFile(SimDisk* disk, std::shared_ptr<SimDisk::Inode> inode, std::string path)
      : disk_(disk),
        state_(std::make_shared<AsyncState>()),
        inode_(std::move(inode)),
        path_(std::move(path)),
        generation_(disk->generation_),
        size_bytes_(inode_->data.size()) {}

  absl::Status Append(std::string_view data) override {
    absl::Status s = CheckUsable(Mode::kSync);
    if (!s.ok()) return s;
    s = disk_->WriteAppend(inode_.get(), path_, data);
    if (!s.ok()) return Poison(std::move(s));
    size_bytes_ += data.size();
    return absl::OkStatus();
  }

  absl::Status Flush() override { return CheckUsable(Mode::kSync); }

  absl::Status Sync() override {
    absl::Status s = CheckUsable(Mode::kSync);
    if (!s.ok()) return s;
    s = disk_->SyncInode(inode_.get(), path_);
    if (!s.ok()) return Poison(std::move(s));
    return absl::OkStatus();
  }

  absl::Status Close() override {
    if (generation_ != disk_->generation_) return disk_internal::StaleHandle(path_);
    closed_ = true;
    return state_->sticky;
  }

  void AppendAsync(std::string data, env::StatusCallback done) override {
    size_bytes_ += data.size();
    const int64_t latency_ns = disk_->AsyncWriteLatency();
    Enqueue(latency_ns, [data = std::move(data)](SimDisk* disk, SimDisk::Inode* inode,
                                                 std::string_view path) {
      return disk->WriteAppend(inode, path, data);
    }, std::move(done));
  }

  void SyncAsync(env::StatusCallback done) override {
    const int64_t latency_ns = disk_->AsyncSyncLatency();
    Enqueue(latency_ns, [](SimDisk* disk, SimDisk::Inode* inode, std::string_view path) {
      return disk->SyncInode(inode, path);
    }, std::move(done));
  }

  uint64_t Size() const override { return size_bytes_; }

 private:
  enum class Mode { kUnset, kSync, kAsync };
  // Outlives the handle: queued operations still complete after Close/destruction.
  struct AsyncState {
    absl::Status sticky;
    int64_t last_completion_ns = 0;
  };
  using Operation =
      absl::AnyInvocable<absl::Status(SimDisk*, SimDisk::Inode*, std::string_view)>;

  absl::Status CheckUsable(Mode mode) {
    if (generation_ != disk_->generation_) return disk_internal::StaleHandle(path_);
    // env.h: the synchronous and asynchronous styles are never mixed on one file.
    KEEL_CHECK(mode_ == Mode::kUnset || mode_ == mode);
    mode_ = mode;
    if (closed_) return absl::FailedPreconditionError(disk_internal::Msg(path_, ": closed"));
    return state_->sticky;
  }

  absl::Status Poison(absl::Status s) {
    KEEL_CHECK(!s.ok());
    state_->sticky = s;
    return s;
  }

  // Runs `op` after `latency_ns`, never before an earlier operation of this handle, then
  // posts `done` to the node's loop in the incarnation that issued it.
  void Enqueue(int64_t latency_ns, Operation op, env::StatusCallback done) {
    World* world = disk_->world_;
    NodeLoop* loop = disk_->loop_;
    absl::Status usable = CheckUsable(Mode::kAsync);
    const int64_t at_ns =
        std::max(world->now_ns() + latency_ns, state_->last_completion_ns);
    state_->last_completion_ns = at_ns;
    auto event_id = std::make_shared<EventId>(0);
    *event_id = world->ScheduleAt(
        at_ns, [disk = disk_, state = state_, inode = inode_, path = path_, loop,
                incarnation = loop->incarnation(), usable = std::move(usable),
                op = std::move(op), done = std::move(done), event_id]() mutable {
          disk->RemovePendingAsync(*event_id);
          absl::Status s = usable;
          if (s.ok()) s = state->sticky;
          if (s.ok()) {
            s = op(disk, inode.get(), path);
            if (!s.ok()) state->sticky = s;
          }
          loop->DeliverToIncarnation(incarnation, [done = std::move(done), s]() mutable {
            std::move(done)(s);
          });
        });
    disk_->AddPendingAsync(*event_id);
  }

  SimDisk* const disk_;
  const std::shared_ptr<AsyncState> state_;
  const std::shared_ptr<SimDisk::Inode> inode_;
  const std::string path_;
  const uint64_t generation_;
  uint64_t size_bytes_;
  Mode mode_ = Mode::kUnset;
  bool closed_ = false;
};

class SimFileLock final : public env::FileLock {
 public:
  SimFileLock(SimDisk* disk, std::string path)
      : disk_(disk), path_(std::move(path)), generation_(disk->generation_) {}
  ~SimFileLock() override {
    // After a crash the lock is already gone and may have been taken again.
    if (generation_ == disk_->generation_) disk_->locks_.erase(path_);
  }

 private:
  SimDisk* const disk_;
  const std::string path_;
  const uint64_t generation_;
};

}  // namespace keel::sim

#endif  // KEEL_SIM_DISK_FILES_H_
