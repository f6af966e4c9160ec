#include "sim/process_fs.h"

namespace keel::sim {

absl::Status ProcessFileSystem::Admit(Access access) {
  if (alive()) return absl::OkStatus();
  return absl::FailedPreconditionError("file system call from a process that crashed");
}

}  // namespace keel::sim
