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
#include <string_view>

#include "env/file_system_wrapper.h"

namespace keel::storage::testing {

class PowerCutFs final : public env::FileSystemWrapper {
 public:
  // `base` must outlive this and every file it hands out.
  explicit PowerCutFs(env::FileSystem* base) : env::FileSystemWrapper(base) {}

  // Cuts power just before mutating operation number `budget` (0-based) would run;
  // a negative budget never cuts (used to count a full run's operations).
  void Arm(int64_t budget, std::function<void()> on_cut) {
    budget_ = budget;
    on_cut_ = std::move(on_cut);
  }

  bool cut() const { return cut_; }
  int64_t operations() const { return operations_; }

  // Counts one mutating operation; false (after cutting, once) if power is gone.
  bool AdmitMutation();

  // Files opened for writing count their appends and syncs too.
  absl::StatusOr<std::unique_ptr<env::WritableFile>> NewWritableFile(
      std::string_view path) override;
  absl::StatusOr<std::unique_ptr<env::WritableFile>> NewAppendableFile(
      std::string_view path) override;

  static absl::Status PowerLost();

 protected:
  // Reads and queries always pass; each mutating call counts against the budget.
  absl::Status Admit(Access access) override;

 private:
  int64_t budget_ = -1;
  std::function<void()> on_cut_;
  int64_t operations_ = 0;
  bool cut_ = false;
};

}  // namespace keel::storage::testing

#endif  // KEEL_STORAGE_TESTING_POWER_CUT_FS_H_
