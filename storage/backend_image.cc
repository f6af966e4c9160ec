#include "storage/backend_image.h"

#include <utility>

#include "absl/strings/str_format.h"
#include "base/check.h"
#include "storage/coding.h"
#include "storage/format.h"
#include "storage/snapshot_file.h"

namespace keel::storage {

absl::StatusOr<std::unique_ptr<BackendImageWriter>> BackendImageWriter::Create(
    env::FileSystem* fs, std::string path) {
  absl::StatusOr<std::unique_ptr<env::WritableFile>> file = fs->NewWritableFile(path);
  if (!file.ok()) return file.status();
  auto writer = std::unique_ptr<BackendImageWriter>(
      new BackendImageWriter(fs, std::move(path), *std::move(file)));
  writer->buffer_.append(kImageMagic);
  return writer;
}

BackendImageWriter::BackendImageWriter(env::FileSystem* fs, std::string path,
                                       std::unique_ptr<env::WritableFile> f)
    : fs_(fs), path_(std::move(path)), file_(std::move(f)) {}

BackendImageWriter::~BackendImageWriter() {
  if (finished_) return;
  file_->Close().IgnoreError();
  fs_->RemoveFile(path_).IgnoreError();
}

absl::Status BackendImageWriter::Flush() {
  if (buffer_.empty()) return absl::OkStatus();
  absl::Status s = file_->Append(buffer_);
  if (!s.ok()) {
    error_ = s;
    return s;
  }
  crc_ = ExtendCrc(crc_, buffer_);
  size_bytes_ += buffer_.size();
  buffer_.clear();
  return absl::OkStatus();
}

absl::Status BackendImageWriter::Add(std::string_view key, std::string_view value) {
  if (!error_.ok()) return error_;
  KEEL_CHECK(!finished_);
  if (key.size() > kMaxImageRecordBytes || value.size() > kMaxImageRecordBytes) {
    error_ = absl::InvalidArgumentError(
        absl::StrFormat("storage/image: %s: record of %d+%d bytes is too large", path_,
                        key.size(), value.size()));
    return error_;
  }
  PutFixed32(&buffer_, static_cast<uint32_t>(key.size()));
  PutFixed32(&buffer_, static_cast<uint32_t>(value.size()));
  buffer_.append(key.data(), key.size());
  buffer_.append(value.data(), value.size());
  ++records_;
  return buffer_.size() >= kImageWriteBufferBytes ? Flush() : absl::OkStatus();
}

absl::StatusOr<BackendImageInfo> BackendImageWriter::Finish() {
  if (!error_.ok()) return error_;
  KEEL_CHECK(!finished_);
  absl::Status s = Flush();
  if (!s.ok()) return s;
  std::string trailer;
  PutFixed32(&trailer, kImageTrailerMarker);
  PutFixed32(&trailer, 0);
  PutFixed64(&trailer, records_);
  PutFixed32(&trailer, crc_);
  PutFixed32(&trailer, ExtendCrc(0, trailer));
  KEEL_CHECK(trailer.size() == kImageTrailerBytes);
  buffer_ = trailer;
  s = Flush();
  if (s.ok()) s = file_->Sync();
  absl::Status closed = file_->Close();
  if (s.ok()) s = closed;
  if (!s.ok()) {
    error_ = s;
    return s;
  }
  finished_ = true;
  return BackendImageInfo{size_bytes_, crc_, records_};
}

absl::StatusOr<std::unique_ptr<BackendImageReader>> BackendImageReader::Open(env::FileSystem* fs,
                                                                             std::string path) {
  absl::StatusOr<std::unique_ptr<env::SequentialFile>> file = fs->NewSequentialFile(path);
  if (!file.ok()) return file.status();
  auto reader =
      std::unique_ptr<BackendImageReader>(new BackendImageReader(*std::move(file), std::move(path)));
  std::string magic;
  absl::Status s = reader->ReadExactly(kImageMagic.size(), &magic, true);
  if (!s.ok()) return s;
  if (magic != kImageMagic) return reader->Corrupt("bad magic");
  return reader;
}

absl::Status BackendImageReader::Corrupt(std::string_view what) const {
  return absl::DataLossError(
      absl::StrFormat("storage/image: %s: %s at offset %d", path_, std::string(what), offset_));
}

absl::Status BackendImageReader::ReadExactly(size_t n, std::string* out, bool count_in_crc) {
  out->clear();
  // Bounded: n <= kMaxImageRecordBytes (checked by the caller), read in one call.
  absl::Status s = file_->Read(n, out);
  if (!s.ok()) return s;
  if (out->size() != n) return Corrupt("truncated");
  if (count_in_crc) crc_ = ExtendCrc(crc_, *out);
  offset_ += n;
  return absl::OkStatus();
}

absl::StatusOr<bool> BackendImageReader::Next(std::string* key, std::string* value) {
  if (done_) return false;
  const uint32_t crc_before = crc_;
  std::string lengths;
  absl::Status s = ReadExactly(8, &lengths, true);
  if (!s.ok()) return s;
  const uint32_t key_bytes = GetFixed32(lengths.data());
  const uint32_t value_bytes = GetFixed32(lengths.data() + 4);
  if (key_bytes == kImageTrailerMarker) {
    std::string rest;
    s = ReadExactly(kImageTrailerBytes - 8, &rest, false);
    if (!s.ok()) return s;
    const std::string trailer = lengths + rest;
    if (GetFixed32(trailer.data() + 20) != ExtendCrc(0, std::string_view(trailer).substr(0, 20))) {
      return Corrupt("trailer checksum mismatch");
    }
    if (value_bytes != 0 || GetFixed64(trailer.data() + 8) != records_) {
      return Corrupt("trailer record count mismatch");
    }
    if (GetFixed32(trailer.data() + 16) != crc_before) return Corrupt("checksum mismatch");
    std::string extra;
    s = file_->Read(1, &extra);
    if (!s.ok()) return s;
    if (!extra.empty()) return Corrupt("bytes after the trailer");
    done_ = true;
    return false;
  }
  if (key_bytes > kMaxImageRecordBytes || value_bytes > kMaxImageRecordBytes) {
    return Corrupt("record length out of range");
  }
  s = ReadExactly(key_bytes, key, true);
  if (s.ok()) s = ReadExactly(value_bytes, value, true);
  if (!s.ok()) return s;
  ++records_;
  return true;
}

}  // namespace keel::storage
