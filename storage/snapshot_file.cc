#include "storage/snapshot_file.h"

#include <zlib.h>

#include <algorithm>

#include "absl/strings/str_format.h"
#include "base/check.h"
#include "storage/coding.h"
#include "storage/format.h"

namespace keel::storage {

uint32_t ExtendCrc(uint32_t seed, std::string_view bytes) {
  // zlib takes a uInt length: feed huge inputs in pieces.
  constexpr size_t kPieceBytes = size_t{1} << 30;
  uLong crc = seed;
  for (size_t done = 0; done < bytes.size(); done += kPieceBytes) {
    const size_t n = std::min(kPieceBytes, bytes.size() - done);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(bytes.data() + done), static_cast<uInt>(n));
  }
  return static_cast<uint32_t>(crc);
}

std::string SnapshotFileName(uint64_t term, uint64_t index) {
  return absl::StrFormat("%016x-%016x%s", term, index, kSnapSuffix);
}

std::string EncodeSnapshotHeader(const SnapshotHeader& header) {
  std::string out(kSnapMagic);
  PutFixed64(&out, header.term);
  PutFixed64(&out, header.index);
  PutFixed64(&out, header.payload_size_bytes);
  PutFixed32(&out, header.payload_crc);
  PutFixed32(&out, 0);
  PutFixed32(&out, 0);
  PutFixed32(&out, ExtendCrc(0, out));
  KEEL_CHECK(out.size() == kSnapshotHeaderBytes);
  return out;
}

absl::StatusOr<SnapshotHeader> DecodeSnapshotHeader(std::string_view bytes, std::string_view what) {
  auto corrupt = [what](std::string_view reason) {
    return absl::DataLossError(absl::StrFormat("storage/snapshot: %s: %s", what, reason));
  };
  if (bytes.size() < kSnapshotHeaderBytes) {
    return corrupt(absl::StrFormat("%d bytes, shorter than the %d-byte header", bytes.size(),
                                   kSnapshotHeaderBytes));
  }
  const char* p = bytes.data();
  if (bytes.substr(0, kSnapMagic.size()) != kSnapMagic) return corrupt("bad magic");
  if (ExtendCrc(0, bytes.substr(0, 44)) != GetFixed32(p + 44)) {
    return corrupt("header checksum mismatch");
  }
  if (GetFixed32(p + 36) != 0 || GetFixed32(p + 40) != 0) {
    return corrupt("non-zero reserved header bytes");
  }
  SnapshotHeader header;
  header.term = GetFixed64(p + 8);
  header.index = GetFixed64(p + 16);
  header.payload_size_bytes = GetFixed64(p + 24);
  header.payload_crc = GetFixed32(p + 32);
  return header;
}

}  // namespace keel::storage
