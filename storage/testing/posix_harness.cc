#include "storage/testing/posix_harness.h"

#include <utility>

#include "absl/synchronization/notification.h"
#include "storage/file_util.h"

namespace keel::storage::testing {
namespace {

// Removes the files in `dir` (one level: WAL and snapshot directories are flat).
absl::Status EmptyDir(env::FileSystem* fs, const std::string& dir) {
  absl::StatusOr<std::vector<std::string>> children = fs->GetChildren(dir);
  if (!children.ok()) return children.status();
  for (const std::string& name : *children) {
    absl::Status s = fs->RemoveFile(JoinPath(dir, name));
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<PosixHarness>> PosixHarness::Create(const std::string& root,
                                                                   const std::string& name) {
  std::unique_ptr<PosixHarness> h(new PosixHarness());
  absl::StatusOr<std::unique_ptr<env::PosixLoop>> loop = env::PosixLoop::Create();
  if (!loop.ok()) return loop.status();
  h->loop_ = *std::move(loop);
  env::PosixFileSystem::Options options;
  options.loop = h->loop_.get();
  absl::StatusOr<std::unique_ptr<env::PosixFileSystem>> fs = env::PosixFileSystem::Create(options);
  if (!fs.ok()) return fs.status();
  h->fs_ = *std::move(fs);
  h->dir_ = JoinPath(root, name);
  if (h->fs_->FileExists(h->dir_)) {
    absl::Status s = EmptyDir(h->fs_.get(), h->dir_);
    if (!s.ok()) return s;
  }
  return h;
}

PosixHarness::~PosixHarness() {
  // The file system drains its queue into the loop, so it goes first.
  fs_.reset();
  loop_.reset();
}

void PosixHarness::RunOnLoop(absl::AnyInvocable<void() &&> fn) {
  absl::Notification ran;
  loop_->Post([&ran, fn = std::move(fn)]() mutable {
    std::move(fn)();
    ran.Notify();
  });
  ran.WaitForNotification();
}

absl::Status PosixHarness::SaveAndWait(Wal* wal, const raftpb::HardState& hs,
                                       const std::vector<raftpb::Entry>& entries) {
  absl::Notification done;
  absl::Status result;
  loop_->Post([&] {
    absl::Status s = wal->Save(hs, entries, [&](absl::Status st) {
      result = std::move(st);
      done.Notify();
    });
    if (!s.ok()) {
      result = s;
      done.Notify();
    }
  });
  done.WaitForNotification();
  return result;
}

}  // namespace keel::storage::testing
