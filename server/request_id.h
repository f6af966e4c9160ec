// Request IDs as etcd generates them (pkg/idutil): the low 16 bits of the member ID, then
// 40 bits of milliseconds at start-up, then an 8-bit counter that carries into the time
// bits. IDs are unique per member across restarts as long as a member does not issue more
// than 256 IDs per millisecond on average over its lifetime, and unique across members by
// the prefix. They match a committed proposal to the client waiting for it.
#ifndef KEEL_SERVER_REQUEST_ID_H_
#define KEEL_SERVER_REQUEST_ID_H_

#include <cstdint>

namespace keel::server {

class RequestIdGenerator {
 public:
  // `now_ms`: milliseconds on a clock that does not repeat across restarts of the member:
  // env::Env::WallClockMillis, never the Loop's clock (keeld's starts over with each
  // process, so every life of a member issued the same IDs).
  RequestIdGenerator(uint64_t member_id, uint64_t now_ms)
      : prefix_((member_id & 0xffff) << kSuffixBits),
        suffix_((now_ms & ((uint64_t{1} << kTimeBits) - 1)) << kCounterBits) {}

  uint64_t Next() {
    suffix_ = (suffix_ + 1) & kSuffixMask;
    return prefix_ | suffix_;
  }

 private:
  static constexpr int kTimeBits = 40;
  static constexpr int kCounterBits = 8;
  static constexpr int kSuffixBits = kTimeBits + kCounterBits;
  static constexpr uint64_t kSuffixMask = (uint64_t{1} << kSuffixBits) - 1;

  const uint64_t prefix_;
  uint64_t suffix_;
};

}  // namespace keel::server

#endif  // KEEL_SERVER_REQUEST_ID_H_
