#include "storage/snapshot_stream.h"

#include <algorithm>
#include <cassert>
#include <utility>

#include "absl/strings/str_format.h"
#include "storage/file_util.h"

namespace keel::storage {

absl::StatusOr<std::unique_ptr<SnapshotChunkReader>> SnapshotChunkReader::Open(
    const Snapshotter& snapshotter, std::string_view name, size_t chunk_size_bytes) {
  if (chunk_size_bytes == 0) {
    return absl::InvalidArgumentError("storage/snapshot: chunk size must be positive");
  }
  const std::string path = JoinPath(snapshotter.dir(), name);
  absl::StatusOr<std::unique_ptr<env::SequentialFile>> file =
      snapshotter.fs()->NewSequentialFile(path);
  if (!file.ok()) return file.status();
  std::string header_bytes;
  absl::Status s = (*file)->Read(kSnapshotHeaderBytes, &header_bytes);
  if (!s.ok()) return s;
  absl::StatusOr<SnapshotHeader> header = DecodeSnapshotHeader(header_bytes, path);
  if (!header.ok()) return header.status();
  if (name != SnapshotFileName(header->term, header->index)) {
    return absl::DataLossError(
        absl::StrFormat("storage/snapshot: %s: header and name disagree", path));
  }
  return std::unique_ptr<SnapshotChunkReader>(new SnapshotChunkReader(
      *std::move(file), path, *header, std::move(header_bytes), chunk_size_bytes));
}

SnapshotChunkReader::SnapshotChunkReader(std::unique_ptr<env::SequentialFile> file,
                                         std::string path, SnapshotHeader header,
                                         std::string header_bytes, size_t chunk_size_bytes)
    : file_(std::move(file)),
      path_(std::move(path)),
      header_(header),
      chunk_size_bytes_(chunk_size_bytes),
      pending_header_(std::move(header_bytes)) {
  assert(pending_header_.size() == kSnapshotHeaderBytes);
  assert(chunk_size_bytes_ > 0);
}

absl::StatusOr<bool> SnapshotChunkReader::Next(std::string* chunk) {
  chunk->clear();
  if (done_) return false;
  if (!pending_header_.empty()) {
    const size_t take = std::min(chunk_size_bytes_, pending_header_.size());
    chunk->assign(pending_header_, 0, take);
    pending_header_.erase(0, take);
  }
  const uint64_t want = std::min<uint64_t>(chunk_size_bytes_ - chunk->size(),
                                           header_.payload_size_bytes - payload_read_bytes_);
  if (want > 0) {
    const size_t before = chunk->size();
    absl::Status s = file_->Read(want, chunk);
    if (!s.ok()) return s;
    const size_t got = chunk->size() - before;
    if (got < want) {
      return absl::DataLossError(
          absl::StrFormat("storage/snapshot: %s: ends after %d payload bytes, header says %d",
                          path_, payload_read_bytes_ + got, header_.payload_size_bytes));
    }
    payload_crc_ = ExtendCrc(payload_crc_, std::string_view(*chunk).substr(before));
    payload_read_bytes_ += got;
  }
  if (!chunk->empty()) return true;
  // Everything announced has been handed out: verify before declaring the end.
  std::string extra;
  absl::Status s = file_->Read(1, &extra);
  if (!s.ok()) return s;
  if (!extra.empty()) {
    return absl::DataLossError(
        absl::StrFormat("storage/snapshot: %s: longer than its header says", path_));
  }
  if (payload_crc_ != header_.payload_crc) {
    return absl::DataLossError(
        absl::StrFormat("storage/snapshot: %s: payload checksum mismatch", path_));
  }
  done_ = true;
  return false;
}

absl::StatusOr<std::unique_ptr<SnapshotChunkWriter>> SnapshotChunkWriter::Create(
    Snapshotter* snapshotter) {
  assert(snapshotter != nullptr);
  return std::unique_ptr<SnapshotChunkWriter>(new SnapshotChunkWriter(snapshotter));
}

SnapshotChunkWriter::~SnapshotChunkWriter() {
  if (finished_ || file_ == nullptr) return;
  // An abandoned transfer: nothing was published, drop the partial file.
  file_->Close().IgnoreError();
  snapshotter_->fs()->RemoveFile(tmp_path_).IgnoreError();
}

absl::Status SnapshotChunkWriter::Fail(absl::Status status) {
  assert(!status.ok());
  if (error_.ok()) error_ = status;
  return error_;
}

absl::Status SnapshotChunkWriter::Append(std::string_view chunk) {
  if (!error_.ok()) return error_;
  if (finished_) return absl::FailedPreconditionError("storage/snapshot: writer finished");
  if (!header_.has_value()) {
    const size_t take = std::min(kSnapshotHeaderBytes - header_bytes_.size(), chunk.size());
    header_bytes_.append(chunk.data(), take);
    chunk.remove_prefix(take);
    if (header_bytes_.size() < kSnapshotHeaderBytes) return absl::OkStatus();
    absl::StatusOr<SnapshotHeader> header =
        DecodeSnapshotHeader(header_bytes_, "incoming snapshot");
    if (!header.ok()) return Fail(header.status());
    header_ = *header;
    const std::string path =
        JoinPath(snapshotter_->dir(), SnapshotFileName(header_->term, header_->index));
    if (snapshotter_->fs()->FileExists(path)) {
      return Fail(absl::AlreadyExistsError(absl::StrFormat("storage/snapshot: %s exists", path)));
    }
    tmp_path_ = path + std::string(kTmpSuffix);
    absl::StatusOr<std::unique_ptr<env::WritableFile>> file =
        snapshotter_->fs()->NewWritableFile(tmp_path_);
    if (!file.ok()) return Fail(file.status());
    file_ = *std::move(file);
    absl::Status s = file_->Append(header_bytes_);
    if (!s.ok()) return Fail(s);
  }
  if (chunk.empty()) return absl::OkStatus();
  return AppendPayload(chunk);
}

absl::Status SnapshotChunkWriter::AppendPayload(std::string_view bytes) {
  assert(header_.has_value() && file_ != nullptr);
  if (bytes.size() > header_->payload_size_bytes - payload_written_bytes_) {
    return Fail(absl::DataLossError(
        absl::StrFormat("storage/snapshot: incoming %s: more than the %d payload bytes announced",
                        tmp_path_, header_->payload_size_bytes)));
  }
  absl::Status s = file_->Append(bytes);
  if (!s.ok()) return Fail(s);
  payload_crc_ = ExtendCrc(payload_crc_, bytes);
  payload_written_bytes_ += bytes.size();
  return absl::OkStatus();
}

absl::StatusOr<SnapshotFileInfo> SnapshotChunkWriter::Finish() {
  if (!error_.ok()) return error_;
  if (finished_) return absl::FailedPreconditionError("storage/snapshot: writer finished");
  if (!header_.has_value()) {
    return Fail(absl::DataLossError("storage/snapshot: incoming snapshot ended in its header"));
  }
  if (payload_written_bytes_ != header_->payload_size_bytes) {
    return Fail(absl::DataLossError(
        absl::StrFormat("storage/snapshot: incoming %s: %d of %d payload bytes", tmp_path_,
                        payload_written_bytes_, header_->payload_size_bytes)));
  }
  if (payload_crc_ != header_->payload_crc) {
    return Fail(absl::DataLossError(
        absl::StrFormat("storage/snapshot: incoming %s: payload checksum mismatch", tmp_path_)));
  }
  const std::string name = SnapshotFileName(header_->term, header_->index);
  const std::string path = JoinPath(snapshotter_->dir(), name);
  absl::Status s = file_->Sync();
  absl::Status close = file_->Close();
  if (s.ok()) s = close;
  if (s.ok()) s = snapshotter_->fs()->Rename(tmp_path_, path);
  if (s.ok()) s = snapshotter_->fs()->SyncDir(snapshotter_->dir());
  if (!s.ok()) return Fail(s);
  finished_ = true;
  return SnapshotFileInfo{header_->term, header_->index, name};
}

}  // namespace keel::storage
