#include "sim/process_fs.h"

namespace keel::sim {

absl::Status ProcessFileSystem::Dead() const {
  return absl::FailedPreconditionError("file system call from a process that crashed");
}

absl::StatusOr<std::unique_ptr<env::SequentialFile>> ProcessFileSystem::NewSequentialFile(
    std::string_view path) {
  if (!alive()) return Dead();
  return disk_->NewSequentialFile(path);
}

absl::StatusOr<std::unique_ptr<env::RandomAccessFile>> ProcessFileSystem::NewRandomAccessFile(
    std::string_view path) {
  if (!alive()) return Dead();
  return disk_->NewRandomAccessFile(path);
}

absl::StatusOr<std::unique_ptr<env::WritableFile>> ProcessFileSystem::NewWritableFile(
    std::string_view path) {
  if (!alive()) return Dead();
  return disk_->NewWritableFile(path);
}

absl::StatusOr<std::unique_ptr<env::WritableFile>> ProcessFileSystem::NewAppendableFile(
    std::string_view path) {
  if (!alive()) return Dead();
  return disk_->NewAppendableFile(path);
}

bool ProcessFileSystem::FileExists(std::string_view path) {
  return alive() && disk_->FileExists(path);
}

absl::StatusOr<std::vector<std::string>> ProcessFileSystem::GetChildren(std::string_view dir) {
  if (!alive()) return Dead();
  return disk_->GetChildren(dir);
}

absl::StatusOr<uint64_t> ProcessFileSystem::GetFileSize(std::string_view path) {
  if (!alive()) return Dead();
  return disk_->GetFileSize(path);
}

absl::Status ProcessFileSystem::CreateDir(std::string_view path) {
  return alive() ? disk_->CreateDir(path) : Dead();
}

absl::Status ProcessFileSystem::RemoveFile(std::string_view path) {
  return alive() ? disk_->RemoveFile(path) : Dead();
}

absl::Status ProcessFileSystem::RemoveDir(std::string_view path) {
  return alive() ? disk_->RemoveDir(path) : Dead();
}

absl::Status ProcessFileSystem::Rename(std::string_view from, std::string_view to) {
  return alive() ? disk_->Rename(from, to) : Dead();
}

absl::Status ProcessFileSystem::Truncate(std::string_view path, uint64_t size) {
  return alive() ? disk_->Truncate(path, size) : Dead();
}

absl::Status ProcessFileSystem::SyncDir(std::string_view dir) {
  return alive() ? disk_->SyncDir(dir) : Dead();
}

absl::StatusOr<std::unique_ptr<env::FileLock>> ProcessFileSystem::LockFile(
    std::string_view path) {
  if (!alive()) return Dead();
  return disk_->LockFile(path);
}

}  // namespace keel::sim
