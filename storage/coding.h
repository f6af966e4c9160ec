// Fixed-width little-endian integer encoding for the formats in storage/format.h.
// Written byte by byte so the result does not depend on the host's byte order.
#ifndef KEEL_STORAGE_CODING_H_
#define KEEL_STORAGE_CODING_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace keel::storage {

inline void PutFixed32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

inline void PutFixed64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// Requires at least 4 (resp. 8) readable bytes at `p`.
inline uint32_t GetFixed32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

inline uint64_t GetFixed64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

}  // namespace keel::storage

#endif  // KEEL_STORAGE_CODING_H_
