#include "storage/testing/power_cut_fs.h"

#include <utility>

namespace keel::storage::testing {
namespace {

// Appends and syncs are mutations; after the cut nothing reaches the disk, and an
// asynchronous operation's callback is dropped, as in a process that no longer exists.
class PowerCutFile final : public env::WritableFileWrapper {
 public:
  PowerCutFile(PowerCutFs* fs, std::unique_ptr<env::WritableFile> base)
      : env::WritableFileWrapper(std::move(base)), fs_(fs) {}

  absl::Status Append(std::string_view data) override {
    return fs_->AdmitMutation() ? target()->Append(data) : PowerCutFs::PowerLost();
  }
  absl::Status Flush() override {
    return fs_->cut() ? PowerCutFs::PowerLost() : target()->Flush();
  }
  absl::Status Sync() override {
    return fs_->AdmitMutation() ? target()->Sync() : PowerCutFs::PowerLost();
  }
  absl::Status Close() override {
    return fs_->cut() ? PowerCutFs::PowerLost() : target()->Close();
  }
  void AppendAsync(std::string data, env::StatusCallback done) override {
    if (fs_->AdmitMutation()) target()->AppendAsync(std::move(data), std::move(done));
  }
  void SyncAsync(env::StatusCallback done) override {
    if (fs_->AdmitMutation()) target()->SyncAsync(std::move(done));
  }

 private:
  PowerCutFs* const fs_;
};

absl::StatusOr<std::unique_ptr<env::WritableFile>> WrapForCut(
    PowerCutFs* fs, absl::StatusOr<std::unique_ptr<env::WritableFile>> file) {
  if (!file.ok()) return file.status();
  return std::unique_ptr<env::WritableFile>(new PowerCutFile(fs, *std::move(file)));
}

}  // namespace

absl::Status PowerCutFs::PowerLost() { return absl::DataLossError("power cut (test)"); }

bool PowerCutFs::AdmitMutation() {
  if (cut_) return false;
  if (budget_ >= 0 && operations_ >= budget_) {
    cut_ = true;
    if (on_cut_) on_cut_();
    return false;
  }
  ++operations_;
  return true;
}

absl::Status PowerCutFs::Admit(Access access) {
  if (access == Access::kRead) return absl::OkStatus();
  return AdmitMutation() ? absl::OkStatus() : PowerLost();
}

absl::StatusOr<std::unique_ptr<env::WritableFile>> PowerCutFs::NewWritableFile(
    std::string_view path) {
  return WrapForCut(this, env::FileSystemWrapper::NewWritableFile(path));
}

absl::StatusOr<std::unique_ptr<env::WritableFile>> PowerCutFs::NewAppendableFile(
    std::string_view path) {
  return WrapForCut(this, env::FileSystemWrapper::NewAppendableFile(path));
}

}  // namespace keel::storage::testing
