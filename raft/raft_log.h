// RaftLog: the node's whole log as Raft sees it, stable part (Storage) + unstable tail.
//
// Invariants (checked):  first_index - 1 <= applied <= committed <= last_index.
// Indexes at or below the snapshot's index are "compacted": only their last term is known.
#ifndef KEEL_RAFT_RAFT_LOG_H_
#define KEEL_RAFT_RAFT_LOG_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "raft/log_unstable.h"
#include "raft/raftpb/raft.pb.h"
#include "raft/storage.h"

namespace keel::raft {

class RaftLog {
 public:
  // `storage` is not owned and must outlive the log. max_applying_size_bytes bounds the
  // committed entries handed out in one Ready.
  RaftLog(Storage* storage, uint64_t max_applying_size_bytes);

  uint64_t FirstIndex() const;
  uint64_t LastIndex() const;
  uint64_t LastTerm() const;
  // Term of entry i; ErrCompacted / ErrUnavailable outside the known range.
  absl::StatusOr<uint64_t> Term(uint64_t i) const;
  // Term of i, or 0 if i is compacted or not yet known.
  uint64_t TermOrZero(uint64_t i) const;
  bool MatchTerm(uint64_t i, uint64_t term) const;
  // §5.4.1: is a log ending at (last_index, term) at least as up to date as ours?
  bool IsUpToDate(uint64_t last_index, uint64_t term) const;

  // Follower side of AppendEntries. If our entry at `index` has term `log_term`, appends
  // `entries` (dropping ours from the first conflict on), advances commit to
  // min(committed, index of last new entry) and returns that last new index.
  std::optional<uint64_t> MaybeAppend(uint64_t index, uint64_t log_term, uint64_t committed,
                                      std::vector<raftpb::Entry> entries);
  // Appends to the unstable tail (truncating a conflicting suffix); returns LastIndex().
  uint64_t Append(std::vector<raftpb::Entry> entries);
  // First index in `entries` whose term differs from ours or that we lack; 0 if none.
  uint64_t FindConflict(const std::vector<raftpb::Entry>& entries) const;
  // The largest index <= `index` whose term is <= `term` (or the first unknown one):
  // where the leader should probe next after a rejection (fast log back-off).
  uint64_t FindConflictByTerm(uint64_t index, uint64_t term) const;

  // Entries from i on, at most max_size_bytes (but at least one). Empty past the end.
  absl::StatusOr<std::vector<raftpb::Entry>> EntriesFrom(uint64_t i,
                                                         uint64_t max_size_bytes) const;
  // Entries [lo, hi) limited to max_size_bytes. ErrCompacted if lo is compacted.
  absl::StatusOr<std::vector<raftpb::Entry>> Slice(uint64_t lo, uint64_t hi,
                                                   uint64_t max_size_bytes) const;
  std::vector<raftpb::Entry> AllEntries() const;  // For tests and tools.

  const std::vector<raftpb::Entry>& UnstableEntries() const { return unstable_.entries(); }
  const std::optional<raftpb::Snapshot>& UnstableSnapshot() const {
    return unstable_.snapshot();
  }
  // Entries up to here are in Storage (persisted); the rest is in the unstable tail.
  uint64_t StableLastIndex() const { return unstable_.offset() - 1; }
  bool HasPendingSnapshot() const { return unstable_.snapshot().has_value(); }
  // The snapshot to send a lagging follower: the unstable one, else storage's.
  absl::StatusOr<raftpb::Snapshot> Snapshot() const;

  // Committed entries not yet handed out for applying (bounded by size).
  std::vector<raftpb::Entry> NextCommittedEntries() const;
  bool HasNextCommittedEntries() const;

  void CommitTo(uint64_t to_commit);
  // Leader: advance commit to max_index if that entry is from `term` (Figure 8 rule).
  bool MaybeCommit(uint64_t max_index, uint64_t term);
  void AppliedTo(uint64_t i);
  void StableTo(uint64_t i, uint64_t t) { unstable_.StableTo(i, t); }
  void StableSnapTo(uint64_t i) { unstable_.StableSnapTo(i); }
  // Replaces the log with a snapshot received from the leader.
  void Restore(raftpb::Snapshot snapshot);

  uint64_t committed() const { return committed_; }
  uint64_t applied() const { return applied_; }

 private:
  // Fails with ErrCompacted if lo is compacted; CHECKs lo <= hi <= LastIndex()+1.
  absl::Status CheckOutOfBounds(uint64_t lo, uint64_t hi) const;

  Storage* storage_;
  UnstableLog unstable_;
  uint64_t committed_ = 0;
  uint64_t applied_ = 0;
  uint64_t max_applying_size_bytes_;
};

}  // namespace keel::raft

#endif  // KEEL_RAFT_RAFT_LOG_H_
