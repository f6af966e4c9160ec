// The backend image: the whole MVCC backend as one file of raw records, the data a leader
// streams to a lagging follower beside Raft's MsgSnap (InstallSnapshot), as etcd streams
// its bolt file. Byte layout in storage/format.h ("Backend image files").
//
// Both ends are bounded in memory: the writer buffers at most kImageWriteBufferBytes, the
// reader holds one record. The reader verifies the whole-file crc and the record count in
// the trailer before it reports the end, so a caller that applies records as they come
// must treat the image as unusable until Next returned false (the server reads the whole
// image before touching its backend).
#ifndef KEEL_STORAGE_BACKEND_IMAGE_H_
#define KEEL_STORAGE_BACKEND_IMAGE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "env/env.h"

namespace keel::storage {

// What a finished image is: the transfer announces these so the receiver can verify the
// bytes as they stream in, before the file is even complete.
struct BackendImageInfo {
  uint64_t size_bytes = 0;  // the whole file, trailer included
  uint32_t crc = 0;         // crc32(0, whole file)
  uint64_t records = 0;
};

class BackendImageWriter {
 public:
  // Creates (truncates) `path`. Nothing is durable until Finish.
  static absl::StatusOr<std::unique_ptr<BackendImageWriter>> Create(env::FileSystem* fs,
                                                                    std::string path);
  ~BackendImageWriter();  // an unfinished image is removed
  BackendImageWriter(const BackendImageWriter&) = delete;
  BackendImageWriter& operator=(const BackendImageWriter&) = delete;

  // kInvalidArgument for a record above kMaxImageRecordBytes. Errors are sticky.
  absl::Status Add(std::string_view key, std::string_view value);
  // Writes the trailer, syncs and closes. The file stays (the caller removes it).
  absl::StatusOr<BackendImageInfo> Finish();

 private:
  BackendImageWriter(env::FileSystem* fs, std::string path, std::unique_ptr<env::WritableFile> f);
  absl::Status Flush();

  env::FileSystem* const fs_;
  const std::string path_;
  std::unique_ptr<env::WritableFile> file_;
  std::string buffer_;
  uint64_t size_bytes_ = 0;  // flushed
  uint32_t crc_ = 0;         // of the flushed bytes
  uint64_t records_ = 0;
  bool finished_ = false;
  absl::Status error_;
};

class BackendImageReader {
 public:
  static absl::StatusOr<std::unique_ptr<BackendImageReader>> Open(env::FileSystem* fs,
                                                                  std::string path);
  // The next record into *key/*value: true; false once the trailer verified (crc, count,
  // nothing after it). kDataLoss (naming the file and offset) for anything else.
  absl::StatusOr<bool> Next(std::string* key, std::string* value);

 private:
  BackendImageReader(std::unique_ptr<env::SequentialFile> file, std::string path)
      : file_(std::move(file)), path_(std::move(path)) {}
  absl::Status ReadExactly(size_t n, std::string* out, bool count_in_crc);
  absl::Status Corrupt(std::string_view what) const;

  const std::unique_ptr<env::SequentialFile> file_;
  const std::string path_;
  uint64_t offset_ = 0;
  uint32_t crc_ = 0;
  uint64_t records_ = 0;
  bool done_ = false;
};

}  // namespace keel::storage

#endif  // KEEL_STORAGE_BACKEND_IMAGE_H_
