// Storage: how Raft reads the *stable* part of its log (what the caller has persisted).
//
// Raft never writes through this interface. The caller persists what each Ready hands it
// (entries, HardState, snapshot) into its own durable store and makes it visible here
// before calling RawNode::Advance(). Reads must then reflect it.
//
// Index space: the log is a snapshot (covering [1, snapshot.index]) followed by entries
// (snapshot.index, LastIndex()]. FirstIndex() is snapshot.index + 1. Term(snapshot.index)
// must still be answerable, since it anchors the consistency check of the next entry.
//
// Errors: ErrCompacted for indexes below FirstIndex()-1, ErrUnavailable for indexes above
// LastIndex(), ErrSnapshotTemporarilyUnavailable if Snapshot() is still being built. Any
// other error is treated as fatal by Raft (storage is broken; nothing safe remains to do).
//
// Threading: single-threaded, like the rest of raft/ (called from the node's event loop).
#ifndef KEEL_RAFT_STORAGE_H_
#define KEEL_RAFT_STORAGE_H_

#include <cstdint>
#include <deque>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "raft/raftpb/raft.pb.h"

namespace keel::raft {

struct InitialState {
  raftpb::HardState hard_state;
  raftpb::ConfState conf_state;
};

class Storage {
 public:
  virtual ~Storage() = default;

  // The persisted HardState and the configuration as of the latest snapshot/conf change.
  virtual absl::StatusOr<InitialState> GetInitialState() const = 0;
  // Entries in [lo, hi), at most max_size_bytes in total but at least one if lo < hi.
  virtual absl::StatusOr<std::vector<raftpb::Entry>> Entries(uint64_t lo, uint64_t hi,
                                                             uint64_t max_size_bytes) const = 0;
  // Term of entry i, for i in [FirstIndex()-1, LastIndex()].
  virtual absl::StatusOr<uint64_t> Term(uint64_t i) const = 0;
  virtual absl::StatusOr<uint64_t> LastIndex() const = 0;
  virtual absl::StatusOr<uint64_t> FirstIndex() const = 0;
  // The most recent snapshot, to send to a follower that lags behind compaction.
  virtual absl::StatusOr<raftpb::Snapshot> Snapshot() const = 0;
};

// An in-memory Storage. A real node keeps one in front of its WAL (as etcd does); tests
// and the simulator use it alone. entries_[0] is a dummy entry carrying the snapshot's
// index and term, so Term(FirstIndex()-1) always works.
class MemoryStorage final : public Storage {
 public:
  MemoryStorage();

  absl::StatusOr<InitialState> GetInitialState() const override;
  absl::StatusOr<std::vector<raftpb::Entry>> Entries(uint64_t lo, uint64_t hi,
                                                     uint64_t max_size_bytes) const override;
  absl::StatusOr<uint64_t> Term(uint64_t i) const override;
  absl::StatusOr<uint64_t> LastIndex() const override;
  absl::StatusOr<uint64_t> FirstIndex() const override;
  absl::StatusOr<raftpb::Snapshot> Snapshot() const override;

  void SetHardState(const raftpb::HardState& hs) { hard_state_ = hs; }
  const raftpb::HardState& hard_state() const { return hard_state_; }
  // Bootstrap: the configuration a brand-new cluster starts with (the conf state of the
  // empty initial snapshot). Only valid before anything else was stored.
  void SetInitialConfState(const raftpb::ConfState& cs);
  // Replaces the whole log with `snapshot`. ErrSnapOutOfDate if it is not newer.
  absl::Status ApplySnapshot(const raftpb::Snapshot& snapshot);
  // Records a snapshot at index i (<= LastIndex()) with the given state, for later
  // Compact() and for sending to lagging followers. `cs` may be null to keep the old one.
  absl::StatusOr<raftpb::Snapshot> CreateSnapshot(uint64_t i, const raftpb::ConfState* cs,
                                                  std::string data);
  // Discards entries before compact_index (which must be <= LastIndex()).
  absl::Status Compact(uint64_t compact_index);
  // Appends entries, replacing any existing suffix they overlap. Entries must be
  // contiguous and must not leave a gap after LastIndex().
  absl::Status Append(std::vector<raftpb::Entry> entries);

 private:
  uint64_t FirstIndexUnchecked() const { return entries_[0].index() + 1; }
  uint64_t LastIndexUnchecked() const { return entries_[0].index() + entries_.size() - 1; }

  raftpb::HardState hard_state_;
  raftpb::Snapshot snapshot_;
  // Invariant: !entries_.empty(); entries_[0] is the dummy at the snapshot's index/term.
  // A deque: appends never move existing entries and compaction pops from the front.
  std::deque<raftpb::Entry> entries_;
};

}  // namespace keel::raft

#endif  // KEEL_RAFT_STORAGE_H_
