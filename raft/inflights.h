// Inflights: a bounded window of MsgApp sent to one follower but not yet acknowledged.
//
// The leader pipelines appends while a follower is in StateReplicate; this window stops it
// once max_count messages or max_bytes of entries are in flight (flow control), and frees
// slots as acknowledgements arrive. A ring buffer: no allocation after the first fill.
#ifndef KEEL_RAFT_INFLIGHTS_H_
#define KEEL_RAFT_INFLIGHTS_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace keel::raft {

class Inflights {
 public:
  // max_bytes == kNoLimit disables the byte budget.
  Inflights(size_t max_count, uint64_t max_bytes);

  // Records a MsgApp whose last entry is `index`, carrying `bytes` of entries. Indexes must
  // increase. Requires !Full().
  void Add(uint64_t index, uint64_t bytes);
  // Frees every message whose last index is <= to (they were acknowledged).
  void FreeLE(uint64_t to);
  // Frees the oldest message (a heartbeat response proves the follower is alive).
  void FreeFirstOne();
  bool Full() const { return count_ == max_count_ || (max_bytes_ != 0 && bytes_ >= max_bytes_); }
  size_t Count() const { return count_; }
  uint64_t Bytes() const { return bytes_; }
  void Reset();

 private:
  struct Slot {
    uint64_t index;
    uint64_t bytes;
  };
  size_t start_ = 0;  // Ring position of the oldest message.
  size_t count_ = 0;
  uint64_t bytes_ = 0;
  size_t max_count_;
  uint64_t max_bytes_;  // 0 means no byte limit (normalised from kNoLimit).
  std::vector<Slot> buffer_;  // Grows up to max_count_.
};

}  // namespace keel::raft

#endif  // KEEL_RAFT_INFLIGHTS_H_
