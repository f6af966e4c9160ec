#include "raft/log_unstable.h"

#include <utility>

#include "base/check.h"

namespace keel::raft {

std::optional<uint64_t> UnstableLog::MaybeFirstIndex() const {
  if (snapshot_) return snapshot_->metadata().index() + 1;
  return std::nullopt;
}

std::optional<uint64_t> UnstableLog::MaybeLastIndex() const {
  if (!entries_.empty()) return offset_ + entries_.size() - 1;
  if (snapshot_) return snapshot_->metadata().index();
  return std::nullopt;
}

std::optional<uint64_t> UnstableLog::MaybeTerm(uint64_t i) const {
  if (i < offset_) {
    if (snapshot_ && snapshot_->metadata().index() == i) return snapshot_->metadata().term();
    return std::nullopt;
  }
  auto last = MaybeLastIndex();
  if (!last || i > *last) return std::nullopt;
  if (entries_.empty()) return snapshot_->metadata().term();  // i == snapshot index.
  return entries_[i - offset_].term();
}

void UnstableLog::StableTo(uint64_t i, uint64_t t) {
  auto gt = MaybeTerm(i);
  if (!gt || *gt != t || i < offset_) return;
  const size_t n = i + 1 - offset_;
  entries_.erase(entries_.begin(), entries_.begin() + n);
  offset_ = i + 1;
  // A vector that once held a huge burst keeps its capacity; release it when drained.
  if (entries_.empty() && entries_.capacity() > 4096) entries_.shrink_to_fit();
}

void UnstableLog::StableSnapTo(uint64_t i) {
  if (snapshot_ && snapshot_->metadata().index() == i) snapshot_.reset();
}

void UnstableLog::Restore(raftpb::Snapshot snapshot) {
  offset_ = snapshot.metadata().index() + 1;
  entries_.clear();
  snapshot_ = std::move(snapshot);
}

void UnstableLog::TruncateAndAppend(std::vector<raftpb::Entry> entries) {
  if (entries.empty()) return;
  const uint64_t after = entries[0].index();
  if (after == offset_ + entries_.size()) {
    // The common case: a direct continuation.
  } else if (after <= offset_) {
    // Replaces everything held here; the log is now anchored at `after`.
    offset_ = after;
    entries_.clear();
  } else {
    // Keep [offset_, after) and replace the rest.
    KEEL_CHECK_MSG(after <= offset_ + entries_.size(), "gap in unstable log");
    entries_.resize(after - offset_);
  }
  if (entries_.empty()) {
    entries_ = std::move(entries);
    return;
  }
  for (auto& e : entries) entries_.push_back(std::move(e));
}

std::vector<raftpb::Entry> UnstableLog::Slice(uint64_t lo, uint64_t hi) const {
  KEEL_CHECK_MSG(lo <= hi && lo >= offset_ && hi <= offset_ + entries_.size(),
                  "unstable slice out of bounds");
  return std::vector<raftpb::Entry>(entries_.begin() + (lo - offset_),
                                    entries_.begin() + (hi - offset_));
}

}  // namespace keel::raft
