// The unstable tail of the Raft log: entries (and possibly an incoming snapshot) that Raft
// has accepted but the caller has not yet persisted. They are handed out in Ready and
// become stable when Advance() confirms the write.
#ifndef KEEL_RAFT_LOG_UNSTABLE_H_
#define KEEL_RAFT_LOG_UNSTABLE_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "raft/raftpb/raft.pb.h"

namespace keel::raft {

class UnstableLog {
 public:
  explicit UnstableLog(uint64_t offset) : offset_(offset) {}

  // Index of the first entry the snapshot makes available, if there is a snapshot.
  std::optional<uint64_t> MaybeFirstIndex() const;
  // Last index held here (last entry, else the snapshot's index).
  std::optional<uint64_t> MaybeLastIndex() const;
  // Term of entry i if this tail knows it.
  std::optional<uint64_t> MaybeTerm(uint64_t i) const;

  // Entries up to (i, t) were persisted. Ignored if the entry at i no longer has term t
  // (it was replaced while the write was in flight).
  void StableTo(uint64_t i, uint64_t t);
  void StableSnapTo(uint64_t i);
  void Restore(raftpb::Snapshot snapshot);
  // Appends entries, truncating any existing suffix they conflict with.
  void TruncateAndAppend(std::vector<raftpb::Entry> entries);
  // Entries [lo, hi). Requires offset() <= lo <= hi <= offset() + entries().size().
  std::vector<raftpb::Entry> Slice(uint64_t lo, uint64_t hi) const;

  const std::vector<raftpb::Entry>& entries() const { return entries_; }
  const std::optional<raftpb::Snapshot>& snapshot() const { return snapshot_; }
  uint64_t offset() const { return offset_; }

 private:
  std::optional<raftpb::Snapshot> snapshot_;
  // entries_[i] has index offset_ + i.
  std::vector<raftpb::Entry> entries_;
  uint64_t offset_;
};

}  // namespace keel::raft

#endif  // KEEL_RAFT_LOG_UNSTABLE_H_
