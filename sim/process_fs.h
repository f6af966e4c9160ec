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

#include "absl/status/status.h"
#include "env/file_system_wrapper.h"
#include "sim/disk.h"

namespace keel::sim {

class ProcessFileSystem final : public env::FileSystemWrapper {
 public:
  // Bound to the disk's current generation. `disk` must outlive the view.
  explicit ProcessFileSystem(SimDisk* disk)
      : env::FileSystemWrapper(disk), disk_(disk), generation_(disk->generation()) {}

  // False once the disk crashed after this view was made.
  bool alive() const { return disk_->generation() == generation_; }

 protected:
  // Every call, read or write, from a process that crashed fails kFailedPrecondition.
  absl::Status Admit(Access access) override;

 private:
  SimDisk* const disk_;
  const uint64_t generation_;
};

}  // namespace keel::sim

#endif  // KEEL_SIM_PROCESS_FS_H_
