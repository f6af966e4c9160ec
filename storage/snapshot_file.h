// The snapshot file header (layout in storage/format.h): encoding and verification.
// Shared by the Snapshotter (whole files) and the streaming reader/writer (chunks).
#ifndef KEEL_STORAGE_SNAPSHOT_FILE_H_
#define KEEL_STORAGE_SNAPSHOT_FILE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace keel::storage {

struct SnapshotHeader {
  uint64_t term = 0;
  uint64_t index = 0;
  uint64_t payload_size_bytes = 0;
  uint32_t payload_crc = 0;
};

// "%016x-%016x.snap" of (term, index).
std::string SnapshotFileName(uint64_t term, uint64_t index);

std::string EncodeSnapshotHeader(const SnapshotHeader& header);

// Checks magic, version, reserved bytes and the header crc of the first
// kSnapshotHeaderBytes of `bytes`. kDataLoss (message: `what` and the failed check) if
// any fails or `bytes` is shorter than a header.
absl::StatusOr<SnapshotHeader> DecodeSnapshotHeader(std::string_view bytes, std::string_view what);

// crc32(seed, bytes), zlib's polynomial; seed 0 starts a new checksum.
uint32_t ExtendCrc(uint32_t seed, std::string_view bytes);

}  // namespace keel::storage

#endif  // KEEL_STORAGE_SNAPSHOT_FILE_H_
