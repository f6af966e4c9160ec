// CRC-32C (Castagnoli), as Go's crc32.MakeTable(crc32.Castagnoli) computes it; etcd's HashKV
// uses it, and replicas compare HashKV values, so ours must be bit-identical. zlib only
// offers the IEEE polynomial and Debian's Abseil predates absl/crc.
#ifndef KEEL_KV_CRC32C_H_
#define KEEL_KV_CRC32C_H_

#include <cstdint>
#include <string_view>

namespace keel::kv {

// Incremental: Crc32c c; c.Update(a); c.Update(b); c.value() == CRC-32C of a+b.
class Crc32c {
 public:
  void Update(std::string_view data);
  uint32_t value() const { return ~state_; }

 private:
  uint32_t state_ = 0xffffffffu;
};

}  // namespace keel::kv

#endif  // KEEL_KV_CRC32C_H_
