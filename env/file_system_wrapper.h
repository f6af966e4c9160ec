// FileSystemWrapper and WritableFileWrapper: forward every call to a target, so a
// fault-injecting or process-fencing file system overrides only the calls it changes
// (LevelDB's EnvWrapper, for env::FileSystem).
//
// Before forwarding, FileSystemWrapper asks Admit(access) whether the call may run. The
// default admits everything; a wrapper that fences a dead process (sim's
// ProcessFileSystem) or counts mutations up to a power cut (storage's PowerCutFs)
// overrides Admit instead of all fourteen methods. A refused call returns Admit's status
// without reaching the target (FileExists answers false).
//
// Ownership: the target must outlive the wrapper and every file it hands out.
#ifndef KEEL_ENV_FILE_SYSTEM_WRAPPER_H_
#define KEEL_ENV_FILE_SYSTEM_WRAPPER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "env/env.h"

namespace keel::env {

class FileSystemWrapper : public FileSystem {
 public:
  // What a call does to the disk, for Admit.
  enum class Access {
    kRead,    // opens for reading, queries, locks: changes nothing on disk
    kMutate,  // creates, opens for writing, removes, renames, truncates, syncs a directory
  };

  explicit FileSystemWrapper(FileSystem* target) : target_(target) {}

  FileSystem* target() const { return target_; }

  absl::StatusOr<std::unique_ptr<SequentialFile>> NewSequentialFile(
      std::string_view path) override {
    if (absl::Status s = Admit(Access::kRead); !s.ok()) return s;
    return target_->NewSequentialFile(path);
  }
  absl::StatusOr<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      std::string_view path) override {
    if (absl::Status s = Admit(Access::kRead); !s.ok()) return s;
    return target_->NewRandomAccessFile(path);
  }
  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(std::string_view path) override {
    if (absl::Status s = Admit(Access::kMutate); !s.ok()) return s;
    return target_->NewWritableFile(path);
  }
  absl::StatusOr<std::unique_ptr<WritableFile>> NewAppendableFile(
      std::string_view path) override {
    if (absl::Status s = Admit(Access::kMutate); !s.ok()) return s;
    return target_->NewAppendableFile(path);
  }
  bool FileExists(std::string_view path) override {
    return Admit(Access::kRead).ok() && target_->FileExists(path);
  }
  absl::StatusOr<std::vector<std::string>> GetChildren(std::string_view dir) override {
    if (absl::Status s = Admit(Access::kRead); !s.ok()) return s;
    return target_->GetChildren(dir);
  }
  absl::StatusOr<uint64_t> GetFileSize(std::string_view path) override {
    if (absl::Status s = Admit(Access::kRead); !s.ok()) return s;
    return target_->GetFileSize(path);
  }
  absl::Status CreateDir(std::string_view path) override {
    if (absl::Status s = Admit(Access::kMutate); !s.ok()) return s;
    return target_->CreateDir(path);
  }
  absl::Status RemoveFile(std::string_view path) override {
    if (absl::Status s = Admit(Access::kMutate); !s.ok()) return s;
    return target_->RemoveFile(path);
  }
  absl::Status RemoveDir(std::string_view path) override {
    if (absl::Status s = Admit(Access::kMutate); !s.ok()) return s;
    return target_->RemoveDir(path);
  }
  absl::Status Rename(std::string_view from, std::string_view to) override {
    if (absl::Status s = Admit(Access::kMutate); !s.ok()) return s;
    return target_->Rename(from, to);
  }
  absl::Status Truncate(std::string_view path, uint64_t size) override {
    if (absl::Status s = Admit(Access::kMutate); !s.ok()) return s;
    return target_->Truncate(path, size);
  }
  absl::Status SyncDir(std::string_view dir) override {
    if (absl::Status s = Admit(Access::kMutate); !s.ok()) return s;
    return target_->SyncDir(dir);
  }
  absl::StatusOr<std::unique_ptr<FileLock>> LockFile(std::string_view path) override {
    if (absl::Status s = Admit(Access::kRead); !s.ok()) return s;
    return target_->LockFile(path);
  }

 protected:
  // Whether a call of this kind may reach the target now. Called once per call, before
  // forwarding; not called for calls on files already handed out (wrap those with
  // WritableFileWrapper to fence them).
  virtual absl::Status Admit(Access access) { return absl::OkStatus(); }

 private:
  FileSystem* const target_;
};

// Forwards every call to the file it owns.
class WritableFileWrapper : public WritableFile {
 public:
  explicit WritableFileWrapper(std::unique_ptr<WritableFile> target)
      : target_(std::move(target)) {}

  absl::Status Append(std::string_view data) override { return target_->Append(data); }
  absl::Status Flush() override { return target_->Flush(); }
  absl::Status Sync() override { return target_->Sync(); }
  absl::Status Close() override { return target_->Close(); }
  void AppendAsync(std::string data, StatusCallback done) override {
    target_->AppendAsync(std::move(data), std::move(done));
  }
  void SyncAsync(StatusCallback done) override { target_->SyncAsync(std::move(done)); }
  uint64_t Size() const override { return target_->Size(); }

 protected:
  WritableFile* target() const { return target_.get(); }

 private:
  const std::unique_ptr<WritableFile> target_;
};

}  // namespace keel::env

#endif  // KEEL_ENV_FILE_SYSTEM_WRAPPER_H_
