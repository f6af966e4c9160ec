#include "kv/revision.h"

#include "base/check.h"

namespace keel::kv {
namespace {

void PutBigEndian64(uint64_t v, char* out) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}

uint64_t GetBigEndian64(const char* in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

}  // namespace

std::string EncodeRevision(Revision rev, bool tombstone) {
  KEEL_CHECK(rev.main >= 0 && rev.sub >= 0);
  std::string out(tombstone ? kMarkedRevisionBytes : kRevisionBytes, '\0');
  PutBigEndian64(static_cast<uint64_t>(rev.main), &out[0]);
  out[8] = '_';
  PutBigEndian64(static_cast<uint64_t>(rev.sub), &out[9]);
  if (tombstone) out[kRevisionBytes] = kTombstoneMark;
  return out;
}

std::optional<DecodedRevision> DecodeRevision(std::string_view bytes) {
  if (bytes.size() != kRevisionBytes && bytes.size() != kMarkedRevisionBytes) {
    return std::nullopt;
  }
  if (bytes[8] != '_') return std::nullopt;
  const bool tombstone = bytes.size() == kMarkedRevisionBytes;
  if (tombstone && bytes[kRevisionBytes] != kTombstoneMark) return std::nullopt;
  const uint64_t main = GetBigEndian64(bytes.data());
  const uint64_t sub = GetBigEndian64(bytes.data() + 9);
  if (main > static_cast<uint64_t>(INT64_MAX) || sub > static_cast<uint64_t>(INT64_MAX)) {
    return std::nullopt;
  }
  return DecodedRevision{{static_cast<int64_t>(main), static_cast<int64_t>(sub)}, tombstone};
}

}  // namespace keel::kv
