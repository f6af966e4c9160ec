// Test and benchmark harness for the real file system: a PosixLoop running the Wal's
// callbacks on its thread and a PosixFileSystem in a fresh directory. The Wal is not
// thread-safe, so every Wal call that may race with a completion runs on the loop thread
// (RunOnLoop); calls made while nothing is in flight may run on the caller's thread.
#ifndef KEEL_STORAGE_TESTING_POSIX_HARNESS_H_
#define KEEL_STORAGE_TESTING_POSIX_HARNESS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "env/posix_fs.h"
#include "env/posix_loop.h"
#include "raft/raftpb/raft.pb.h"
#include "storage/wal.h"

namespace keel::storage::testing {

class PosixHarness {
 public:
  // `root` must exist; a fresh subdirectory `name` is made under it (emptied first).
  static absl::StatusOr<std::unique_ptr<PosixHarness>> Create(const std::string& root,
                                                              const std::string& name);
  ~PosixHarness();

  env::FileSystem* fs() { return fs_.get(); }
  const std::string& dir() const { return dir_; }

  // Runs `fn` on the loop thread and waits for it to return.
  void RunOnLoop(absl::AnyInvocable<void() &&> fn);
  // Wal::Save issued on the loop thread; waits for `done` and returns its status.
  absl::Status SaveAndWait(Wal* wal, const raftpb::HardState& hs,
                           const std::vector<raftpb::Entry>& entries);

 private:
  PosixHarness() = default;

  std::unique_ptr<env::PosixLoop> loop_;
  std::unique_ptr<env::PosixFileSystem> fs_;
  std::string dir_;
};

}  // namespace keel::storage::testing

#endif  // KEEL_STORAGE_TESTING_POSIX_HARNESS_H_
