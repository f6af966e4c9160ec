// A FileSystem wrapper that loses power after a chosen number of mutating operations.
//
// SimDisk's synchronous calls take no simulated time, so a crash "between the fsync and
// the rename" of a publish protocol cannot be reached by crashing between simulated
// events. PowerCutFs reaches it: it forwards to the wrapped file system and counts every
// mutating call (create, append, sync, rename, remove, truncate, dir sync, and the
// issuing of an async append/sync). When the count reaches the budget it calls the
// `on_cut` hook (the test crashes the disk and the process there) and from then on
// forwards nothing: synchronous calls fail with kDataLoss and asynchronous callbacks are
// dropped, as in a process that no longer exists.
#ifndef KEEL_STORAGE_TESTING_POWER_CUT_FS_H_
#define KEEL_STORAGE_TESTING_POWER_CUT_FS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "env/env.h"

namespace keel::storage::testing {

class PowerCutFs final : public env::FileSystem {
 public:
  // `base` must outlive this and every file it hands out.
  explicit PowerCutFs(env::FileSystem* base) : base_(base) {}

  // Cuts power just before mutating operation number `budget` (0-based) would run;
  // a negative budget never cuts (used to count a full run's operations).
  void Arm(int64_t budget, std::function<void()> on_cut) {
    budget_ = budget;
    on_cut_ = std::move(on_cut);
  }
  bool cut() const { return cut_; }
  int64_t operations() const { return operations_; }

  // Counts one mutating operation; false (after cutting, once) if power is gone.
  bool Admit();

  absl::StatusOr<std::unique_ptr<env::SequentialFile>> NewSequentialFile(
      std::string_view path) override;
  absl::StatusOr<std::unique_ptr<env::RandomAccessFile>> NewRandomAccessFile(
      std::string_view path) override;
  absl::StatusOr<std::unique_ptr<env::WritableFile>> NewWritableFile(
      std::string_view path) override;
  absl::StatusOr<std::unique_ptr<env::WritableFile>> NewAppendableFile(
      std::string_view path) override;
  bool FileExists(std::string_view path) override { return base_->FileExists(path); }
  absl::StatusOr<std::vector<std::string>> GetChildren(std::string_view dir) override {
    return base_->GetChildren(dir);
  }
  absl::StatusOr<uint64_t> GetFileSize(std::string_view path) override {
    return base_->GetFileSize(path);
  }
  absl::Status CreateDir(std::string_view path) override;
  absl::Status RemoveFile(std::string_view path) override;
  absl::Status RemoveDir(std::string_view path) override;
  absl::Status Rename(std::string_view from, std::string_view to) override;
  absl::Status Truncate(std::string_view path, uint64_t size) override;
  absl::Status SyncDir(std::string_view dir) override;
  absl::StatusOr<std::unique_ptr<env::FileLock>> LockFile(std::string_view path) override {
    return base_->LockFile(path);
  }

  static absl::Status PowerLost();

 private:
  env::FileSystem* const base_;
  int64_t budget_ = -1;
  std::function<void()> on_cut_;
  int64_t operations_ = 0;
  bool cut_ = false;
};

}  // namespace keel::storage::testing

#endif  // KEEL_STORAGE_TESTING_POWER_CUT_FS_H_
