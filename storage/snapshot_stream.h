// Streaming a snapshot file between nodes (InstallSnapshot) in bounded chunks.
//
// The bytes on the wire are the file's bytes, header first (storage/format.h), so the
// receiver checks exactly what the sender verified and nothing is re-encoded. Both sides
// verify: the reader refuses to finish a file whose payload crc does not match (the
// leader never ships a corrupt snapshot as good), and the writer publishes only after the
// size and crc match (a follower never loads a damaged or truncated transfer).
#ifndef KEEL_STORAGE_SNAPSHOT_STREAM_H_
#define KEEL_STORAGE_SNAPSHOT_STREAM_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "env/env.h"
#include "storage/format.h"
#include "storage/snapshot_file.h"
#include "storage/snapshotter.h"

namespace keel::storage {

// Yields one snapshot file in chunks of at most chunk_size_bytes.
class SnapshotChunkReader {
 public:
  // Opens `name` in the snapshotter's directory and checks its header.
  static absl::StatusOr<std::unique_ptr<SnapshotChunkReader>> Open(const Snapshotter& snapshotter,
                                                                   std::string_view name,
                                                                   size_t chunk_size_bytes);

  // Replaces `*chunk` with the next bytes (1..chunk_size_bytes). Returns false, with
  // `*chunk` empty, after the last chunk; kDataLoss if the file turns out short, long or
  // with a payload crc mismatch (detected at the end, before reporting completion). A
  // sender must not tell the receiver "done" before Next returned false.
  absl::StatusOr<bool> Next(std::string* chunk);

  const SnapshotHeader& header() const { return header_; }
  uint64_t total_bytes() const { return kSnapshotHeaderBytes + header_.payload_size_bytes; }

 private:
  SnapshotChunkReader(std::unique_ptr<env::SequentialFile> file, std::string path,
                      SnapshotHeader header, std::string header_bytes, size_t chunk_size_bytes);

  const std::unique_ptr<env::SequentialFile> file_;
  const std::string path_;
  const SnapshotHeader header_;
  const size_t chunk_size_bytes_;
  std::string pending_header_;  // sent as (the start of) the first chunk
  uint64_t payload_read_bytes_ = 0;
  uint32_t payload_crc_ = 0;
  bool done_ = false;
};

// Assembles a streamed snapshot into "<name>.tmp" and publishes it as "<name>" (durably)
// once it verifies. Destroying an unfinished writer removes the temp file.
class SnapshotChunkWriter {
 public:
  static absl::StatusOr<std::unique_ptr<SnapshotChunkWriter>> Create(Snapshotter* snapshotter);
  ~SnapshotChunkWriter();
  SnapshotChunkWriter(const SnapshotChunkWriter&) = delete;
  SnapshotChunkWriter& operator=(const SnapshotChunkWriter&) = delete;

  // kDataLoss for a bad header or more bytes than the header announced. Errors are
  // sticky: the transfer must restart from the beginning.
  absl::Status Append(std::string_view chunk);

  // Verifies size and payload crc, then Sync, Rename, SyncDir. Returns the published
  // file. kDataLoss if the transfer is incomplete or corrupt (nothing is published).
  absl::StatusOr<SnapshotFileInfo> Finish();

 private:
  explicit SnapshotChunkWriter(Snapshotter* snapshotter) : snapshotter_(snapshotter) {}
  absl::Status AppendPayload(std::string_view bytes);
  absl::Status Fail(absl::Status status);

  Snapshotter* const snapshotter_;
  std::string header_bytes_;  // collected until a whole header has arrived
  std::optional<SnapshotHeader> header_;
  std::string tmp_path_;
  std::unique_ptr<env::WritableFile> file_;
  uint64_t payload_written_bytes_ = 0;
  uint32_t payload_crc_ = 0;
  bool finished_ = false;
  absl::Status error_;
};

}  // namespace keel::storage

#endif  // KEEL_STORAGE_SNAPSHOT_STREAM_H_
