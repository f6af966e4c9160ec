// ProcessFileSystem: one process lifetime's view of a SimDisk.
//
// A crash kills the process but not necessarily every object it owned: a test or the
// cluster layer may still have to tear down a LevelDB instance whose destructor, or a
// compaction queued before the crash, touches files. Through this view those late calls
// fail with kFailedPrecondition instead of writing into the next incarnation's disk
// state. SimEnv::fs() hands out the view of the current incarnation; open file handles
// are fenced the same way by SimDisk itself.
#ifndef KEEL_SIM_PROCESS_FS_H_
#define KEEL_SIM_PROCESS_FS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "env/env.h"
#include "sim/disk.h"

namespace keel::sim {

class ProcessFileSystem final : public env::FileSystem {
 public:
  // Bound to the disk's current generation. `disk` must outlive the view.
  explicit ProcessFileSystem(SimDisk* disk) : disk_(disk), generation_(disk->generation()) {}

  // False once the disk crashed after this view was made.
  bool alive() const { return disk_->generation() == generation_; }

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

 private:
  absl::Status Dead() const;

  SimDisk* const disk_;
  const uint64_t generation_;
};

}  // namespace keel::sim

#endif  // KEEL_SIM_PROCESS_FS_H_
