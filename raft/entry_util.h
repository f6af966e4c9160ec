// Small helpers over raftpb records shared by the log, the storage and the state machine.
#ifndef KEEL_RAFT_ENTRY_UTIL_H_
#define KEEL_RAFT_ENTRY_UTIL_H_

#include <cstdint>
#include <limits>
#include <vector>

#include "raft/raftpb/raft.pb.h"

namespace keel::raft {

inline constexpr uint64_t kNoLimit = std::numeric_limits<uint64_t>::max();
// Node id 0 means "nobody": no leader known, no vote cast.
inline constexpr uint64_t kNone = 0;

// Size of an entry as counted against max_size_per_msg and friends: its encoded size.
inline uint64_t EntrySizeBytes(const raftpb::Entry& e) {
  // Three small varints plus framing rarely exceed 24 bytes; computing the exact proto size
  // for every entry costs more than it buys for a flow-control budget.
  return e.data().size() + 24;
}

// Size counted against max_uncommitted_entries_size: the payload only, so that empty
// entries (the leader's first entry, auto-leave conf changes) are never refused.
inline uint64_t PayloadSizeBytes(const raftpb::Entry& e) { return e.data().size(); }

// Keeps the longest prefix of `entries` whose total size is <= max_size_bytes, but always
// at least one entry so that progress is possible with a single oversize entry.
inline void LimitSize(std::vector<raftpb::Entry>* entries, uint64_t max_size_bytes) {
  if (entries->empty() || max_size_bytes == kNoLimit) return;
  uint64_t size_bytes = EntrySizeBytes((*entries)[0]);
  size_t keep = 1;
  for (; keep < entries->size(); ++keep) {
    size_bytes += EntrySizeBytes((*entries)[keep]);
    if (size_bytes > max_size_bytes) break;
  }
  entries->resize(keep);
}

inline bool IsEmptySnapshot(const raftpb::Snapshot& s) { return s.metadata().index() == 0; }

inline bool IsEmptyHardState(const raftpb::HardState& hs) {
  return hs.term() == 0 && hs.vote() == 0 && hs.commit() == 0;
}

inline bool HardStateEqual(const raftpb::HardState& a, const raftpb::HardState& b) {
  return a.term() == b.term() && a.vote() == b.vote() && a.commit() == b.commit();
}

}  // namespace keel::raft

#endif  // KEEL_RAFT_ENTRY_UTIL_H_
