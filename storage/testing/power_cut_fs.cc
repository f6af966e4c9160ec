#include "storage/testing/power_cut_fs.h"

#include <utility>

namespace keel::storage::testing {
namespace {

class PowerCutFile final : public env::WritableFile {
 public:
  PowerCutFile(PowerCutFs* fs, std::unique_ptr<env::WritableFile> base)
      : fs_(fs), base_(std::move(base)) {}

  absl::Status Append(std::string_view data) override {
    return fs_->Admit() ? base_->Append(data) : PowerCutFs::PowerLost();
  }
  absl::Status Flush() override { return fs_->cut() ? PowerCutFs::PowerLost() : base_->Flush(); }
  absl::Status Sync() override {
    return fs_->Admit() ? base_->Sync() : PowerCutFs::PowerLost();
  }
  absl::Status Close() override { return fs_->cut() ? PowerCutFs::PowerLost() : base_->Close(); }
  void AppendAsync(std::string data, env::StatusCallback done) override {
    if (fs_->Admit()) base_->AppendAsync(std::move(data), std::move(done));
  }
  void SyncAsync(env::StatusCallback done) override {
    if (fs_->Admit()) base_->SyncAsync(std::move(done));
  }
  uint64_t Size() const override { return base_->Size(); }

 private:
  PowerCutFs* const fs_;
  const std::unique_ptr<env::WritableFile> base_;
};

}  // namespace

absl::Status PowerCutFs::PowerLost() { return absl::DataLossError("power cut (test)"); }

bool PowerCutFs::Admit() {
  if (cut_) return false;
  if (budget_ >= 0 && operations_ >= budget_) {
    cut_ = true;
    if (on_cut_) on_cut_();
    return false;
  }
  ++operations_;
  return true;
}

absl::StatusOr<std::unique_ptr<env::SequentialFile>> PowerCutFs::NewSequentialFile(
    std::string_view path) {
  return base_->NewSequentialFile(path);
}

absl::StatusOr<std::unique_ptr<env::RandomAccessFile>> PowerCutFs::NewRandomAccessFile(
    std::string_view path) {
  return base_->NewRandomAccessFile(path);
}

absl::StatusOr<std::unique_ptr<env::WritableFile>> PowerCutFs::NewWritableFile(
    std::string_view path) {
  if (!Admit()) return PowerLost();
  absl::StatusOr<std::unique_ptr<env::WritableFile>> file = base_->NewWritableFile(path);
  if (!file.ok()) return file.status();
  return std::unique_ptr<env::WritableFile>(new PowerCutFile(this, *std::move(file)));
}

absl::StatusOr<std::unique_ptr<env::WritableFile>> PowerCutFs::NewAppendableFile(
    std::string_view path) {
  if (!Admit()) return PowerLost();
  absl::StatusOr<std::unique_ptr<env::WritableFile>> file = base_->NewAppendableFile(path);
  if (!file.ok()) return file.status();
  return std::unique_ptr<env::WritableFile>(new PowerCutFile(this, *std::move(file)));
}

absl::Status PowerCutFs::CreateDir(std::string_view path) {
  return Admit() ? base_->CreateDir(path) : PowerLost();
}
absl::Status PowerCutFs::RemoveFile(std::string_view path) {
  return Admit() ? base_->RemoveFile(path) : PowerLost();
}
absl::Status PowerCutFs::RemoveDir(std::string_view path) {
  return Admit() ? base_->RemoveDir(path) : PowerLost();
}
absl::Status PowerCutFs::Rename(std::string_view from, std::string_view to) {
  return Admit() ? base_->Rename(from, to) : PowerLost();
}
absl::Status PowerCutFs::Truncate(std::string_view path, uint64_t size) {
  return Admit() ? base_->Truncate(path, size) : PowerLost();
}
absl::Status PowerCutFs::SyncDir(std::string_view dir) {
  return Admit() ? base_->SyncDir(dir) : PowerLost();
}

}  // namespace keel::storage::testing
