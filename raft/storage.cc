#include "raft/storage.h"

#include <utility>

#include "absl/strings/str_format.h"
#include "base/check.h"
#include "raft/entry_util.h"
#include "raft/errors.h"

namespace keel::raft {

MemoryStorage::MemoryStorage() : entries_(1) {}

absl::StatusOr<InitialState> MemoryStorage::GetInitialState() const {
  return InitialState{hard_state_, snapshot_.metadata().conf_state()};
}

void MemoryStorage::SetInitialConfState(const raftpb::ConfState& cs) {
  KEEL_CHECK_MSG(snapshot_.metadata().index() == 0 && entries_.size() == 1,
                  "SetInitialConfState on a non-empty storage");
  *snapshot_.mutable_metadata()->mutable_conf_state() = cs;
}

absl::StatusOr<std::vector<raftpb::Entry>> MemoryStorage::Entries(
    uint64_t lo, uint64_t hi, uint64_t max_size_bytes) const {
  const uint64_t offset = entries_[0].index();
  if (lo <= offset) return ErrCompacted();
  if (hi > LastIndexUnchecked() + 1) {
    return absl::OutOfRangeError(absl::StrFormat(
        "raft: entries' hi(%d) is out of bound lastindex(%d)", hi, LastIndexUnchecked()));
  }
  if (entries_.size() == 1) return ErrUnavailable();  // Only the dummy entry.
  std::vector<raftpb::Entry> out;
  uint64_t size_bytes = 0;
  for (uint64_t i = lo; i < hi; ++i) {
    const raftpb::Entry& e = entries_[i - offset];
    size_bytes += EntrySizeBytes(e);
    if (!out.empty() && size_bytes > max_size_bytes) break;
    out.push_back(e);
  }
  return out;
}

absl::StatusOr<uint64_t> MemoryStorage::Term(uint64_t i) const {
  const uint64_t offset = entries_[0].index();
  if (i < offset) return ErrCompacted();
  if (i - offset >= entries_.size()) return ErrUnavailable();
  return entries_[i - offset].term();
}

absl::StatusOr<uint64_t> MemoryStorage::LastIndex() const { return LastIndexUnchecked(); }
absl::StatusOr<uint64_t> MemoryStorage::FirstIndex() const { return FirstIndexUnchecked(); }
absl::StatusOr<raftpb::Snapshot> MemoryStorage::Snapshot() const { return snapshot_; }

absl::Status MemoryStorage::ApplySnapshot(const raftpb::Snapshot& snapshot) {
  if (snapshot_.metadata().index() >= snapshot.metadata().index()) return ErrSnapOutOfDate();
  snapshot_ = snapshot;
  entries_.clear();
  entries_.emplace_back();
  entries_[0].set_index(snapshot.metadata().index());
  entries_[0].set_term(snapshot.metadata().term());
  return absl::OkStatus();
}

absl::StatusOr<raftpb::Snapshot> MemoryStorage::CreateSnapshot(uint64_t i,
                                                               const raftpb::ConfState* cs,
                                                               std::string data) {
  if (i <= snapshot_.metadata().index()) return ErrSnapOutOfDate();
  if (i > LastIndexUnchecked()) {
    return absl::OutOfRangeError(absl::StrFormat(
        "raft: snapshot %d is out of bound lastindex(%d)", i, LastIndexUnchecked()));
  }
  const uint64_t offset = entries_[0].index();
  snapshot_.mutable_metadata()->set_index(i);
  snapshot_.mutable_metadata()->set_term(entries_[i - offset].term());
  if (cs != nullptr) *snapshot_.mutable_metadata()->mutable_conf_state() = *cs;
  snapshot_.set_data(std::move(data));
  return snapshot_;
}

absl::Status MemoryStorage::Compact(uint64_t compact_index) {
  const uint64_t offset = entries_[0].index();
  if (compact_index <= offset) return ErrCompacted();
  if (compact_index > LastIndexUnchecked()) {
    return absl::OutOfRangeError(absl::StrFormat(
        "raft: compact %d is out of bound lastindex(%d)", compact_index, LastIndexUnchecked()));
  }
  const uint64_t i = compact_index - offset;
  // The new dummy keeps index and term of the last compacted entry, without its payload.
  entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(i));
  entries_[0].clear_data();
  entries_[0].clear_type();
  return absl::OkStatus();
}

absl::Status MemoryStorage::Append(std::vector<raftpb::Entry> entries) {
  if (entries.empty()) return absl::OkStatus();
  const uint64_t first = FirstIndexUnchecked();
  const uint64_t last_new = entries.back().index();
  if (last_new < first) return absl::OkStatus();  // Entirely compacted already.
  size_t skip = 0;
  if (first > entries[0].index()) skip = first - entries[0].index();
  const uint64_t start = entries[skip].index();
  const uint64_t offset = start - entries_[0].index();
  if (offset > entries_.size()) {
    return absl::OutOfRangeError(absl::StrFormat(
        "raft: missing log entry [last: %d, append at: %d]", LastIndexUnchecked(), start));
  }
  entries_.resize(offset);  // Drop the conflicting suffix, if any.
  for (size_t j = skip; j < entries.size(); ++j) entries_.push_back(std::move(entries[j]));
  return absl::OkStatus();
}

}  // namespace keel::raft
