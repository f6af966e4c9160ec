#include "raft/inflights.h"

#include <algorithm>

#include "base/check.h"
#include "raft/entry_util.h"

namespace keel::raft {

Inflights::Inflights(size_t max_count, uint64_t max_bytes)
    : max_count_(max_count), max_bytes_(max_bytes == kNoLimit ? 0 : max_bytes) {
  KEEL_CHECK_MSG(max_count > 0, "inflight window must hold at least one message");
}

void Inflights::Add(uint64_t index, uint64_t bytes) {
  KEEL_CHECK_MSG(!Full(), "cannot add into a full inflights window");
  size_t next = start_ + count_;
  if (next >= max_count_) next -= max_count_;
  if (next >= buffer_.size()) {
    // Grow lazily (doubling) so idle followers cost nothing.
    buffer_.resize(std::min(max_count_, std::max<size_t>(buffer_.size() * 2, 1)));
    KEEL_CHECK_MSG(next < buffer_.size(), "inflights ring out of range");
  }
  buffer_[next] = Slot{index, bytes};
  ++count_;
  bytes_ += bytes;
}

void Inflights::FreeLE(uint64_t to) {
  if (count_ == 0 || to < buffer_[start_].index) return;
  size_t idx = start_;
  size_t freed = 0;
  uint64_t freed_bytes = 0;
  for (; freed < count_; ++freed) {
    if (to < buffer_[idx].index) break;
    freed_bytes += buffer_[idx].bytes;
    if (++idx >= max_count_) idx -= max_count_;
  }
  count_ -= freed;
  bytes_ -= freed_bytes;
  start_ = count_ == 0 ? 0 : idx;
}

void Inflights::FreeFirstOne() {
  if (count_ > 0) FreeLE(buffer_[start_].index);
}

void Inflights::Reset() {
  start_ = 0;
  count_ = 0;
  bytes_ = 0;
}

}  // namespace keel::raft
