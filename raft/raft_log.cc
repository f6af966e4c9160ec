#include "raft/raft_log.h"

#include <algorithm>
#include <string>
#include <utility>

#include "base/check.h"
#include "raft/entry_util.h"
#include "raft/errors.h"

namespace keel::raft {
namespace {

// Storage errors other than "compacted"/"unavailable" mean the disk lost data we relied on.
template <typename T>
T MustOk(absl::StatusOr<T> v, const char* what) {
  if (!v.ok()) {
    std::string msg = std::string(what) + ": " + std::string(v.status().message());
    KEEL_CHECK_MSG(v.ok(), msg.c_str());
  }
  return *std::move(v);
}

}  // namespace

RaftLog::RaftLog(Storage* storage, uint64_t max_applying_size_bytes)
    : storage_(storage),
      unstable_(MustOk(storage->LastIndex(), "storage LastIndex") + 1),
      max_applying_size_bytes_(max_applying_size_bytes) {
  const uint64_t first = MustOk(storage->FirstIndex(), "storage FirstIndex");
  // Everything up to the snapshot is committed and applied by definition.
  committed_ = first - 1;
  applied_ = first - 1;
}

uint64_t RaftLog::FirstIndex() const {
  if (auto i = unstable_.MaybeFirstIndex()) return *i;
  return MustOk(storage_->FirstIndex(), "storage FirstIndex");
}

uint64_t RaftLog::LastIndex() const {
  if (auto i = unstable_.MaybeLastIndex()) return *i;
  return MustOk(storage_->LastIndex(), "storage LastIndex");
}

uint64_t RaftLog::LastTerm() const {
  auto t = Term(LastIndex());
  KEEL_CHECK_MSG(t.ok(), "term of last index unavailable");
  return *t;
}

absl::StatusOr<uint64_t> RaftLog::Term(uint64_t i) const {
  // Valid range is [FirstIndex()-1, LastIndex()]: the dummy entry anchors the snapshot.
  const uint64_t dummy_index = FirstIndex() - 1;
  if (i < dummy_index) return ErrCompacted();
  if (i > LastIndex()) return ErrUnavailable();
  if (auto t = unstable_.MaybeTerm(i)) return *t;
  absl::StatusOr<uint64_t> t = storage_->Term(i);
  if (t.ok() || IsErrCompacted(t.status()) || IsErrUnavailable(t.status())) return t;
  return MustOk(std::move(t), "storage Term");
}

uint64_t RaftLog::TermOrZero(uint64_t i) const {
  auto t = Term(i);
  return t.ok() ? *t : 0;
}

bool RaftLog::MatchTerm(uint64_t i, uint64_t term) const {
  auto t = Term(i);
  return t.ok() && *t == term;
}

bool RaftLog::IsUpToDate(uint64_t last_index, uint64_t term) const {
  const uint64_t our_term = LastTerm();
  return term > our_term || (term == our_term && last_index >= LastIndex());
}

std::optional<uint64_t> RaftLog::MaybeAppend(uint64_t index, uint64_t log_term,
                                             uint64_t committed,
                                             std::vector<raftpb::Entry> entries) {
  if (!MatchTerm(index, log_term)) return std::nullopt;
  const uint64_t last_new = index + entries.size();
  const uint64_t conflict = FindConflict(entries);
  if (conflict != 0) {
    KEEL_CHECK_MSG(conflict > committed_, "entry conflicts with a committed entry");
    const size_t skip = conflict - (index + 1);
    entries.erase(entries.begin(), entries.begin() + skip);
    Append(std::move(entries));
  }
  CommitTo(std::min(committed, last_new));
  return last_new;
}

uint64_t RaftLog::Append(std::vector<raftpb::Entry> entries) {
  if (entries.empty()) return LastIndex();
  const uint64_t after = entries[0].index() - 1;
  KEEL_CHECK_MSG(after >= committed_, "append would overwrite committed entries");
  unstable_.TruncateAndAppend(std::move(entries));
  return LastIndex();
}

uint64_t RaftLog::FindConflict(const std::vector<raftpb::Entry>& entries) const {
  for (const auto& e : entries) {
    if (!MatchTerm(e.index(), e.term())) return e.index();
  }
  return 0;
}

uint64_t RaftLog::FindConflictByTerm(uint64_t index, uint64_t term) const {
  if (index > LastIndex()) return index;
  // Walks back at most `index` steps; each step moves to a strictly smaller index.
  while (index > 0) {
    auto t = Term(index);
    if (!t.ok() || *t <= term) break;
    --index;
  }
  return index;
}

absl::Status RaftLog::CheckOutOfBounds(uint64_t lo, uint64_t hi) const {
  KEEL_CHECK_MSG(lo <= hi, "invalid slice: lo > hi");
  if (lo < FirstIndex()) return ErrCompacted();
  KEEL_CHECK_MSG(hi <= LastIndex() + 1, "slice beyond the last index");
  return absl::OkStatus();
}

absl::StatusOr<std::vector<raftpb::Entry>> RaftLog::EntriesFrom(uint64_t i,
                                                                uint64_t max_size_bytes) const {
  if (i > LastIndex()) return std::vector<raftpb::Entry>();
  return Slice(i, LastIndex() + 1, max_size_bytes);
}

absl::StatusOr<std::vector<raftpb::Entry>> RaftLog::Slice(uint64_t lo, uint64_t hi,
                                                          uint64_t max_size_bytes) const {
  if (absl::Status s = CheckOutOfBounds(lo, hi); !s.ok()) return s;
  std::vector<raftpb::Entry> out;
  if (lo == hi) return out;
  const uint64_t unstable_lo = unstable_.offset();
  if (lo < unstable_lo) {
    auto stored = storage_->Entries(lo, std::min(hi, unstable_lo), max_size_bytes);
    if (!stored.ok()) {
      if (IsErrCompacted(stored.status())) return stored.status();
      KEEL_CHECK_MSG(!IsErrUnavailable(stored.status()), "entries unavailable in storage");
      return MustOk(std::move(stored), "storage Entries");
    }
    out = *std::move(stored);
    // Storage stopped early because of the size limit: do not add unstable entries.
    if (out.size() < std::min(hi, unstable_lo) - lo) return out;
  }
  if (hi > unstable_lo) {
    std::vector<raftpb::Entry> tail = unstable_.Slice(std::max(lo, unstable_lo), hi);
    if (out.empty()) {
      out = std::move(tail);
    } else {
      out.reserve(out.size() + tail.size());
      for (auto& e : tail) out.push_back(std::move(e));
    }
  }
  LimitSize(&out, max_size_bytes);
  return out;
}

std::vector<raftpb::Entry> RaftLog::AllEntries() const {
  auto all = EntriesFrom(FirstIndex(), kNoLimit);
  KEEL_CHECK_MSG(all.ok(), "AllEntries raced with compaction");
  return *std::move(all);
}

absl::StatusOr<raftpb::Snapshot> RaftLog::Snapshot() const {
  if (unstable_.snapshot()) return *unstable_.snapshot();
  return storage_->Snapshot();
}

std::vector<raftpb::Entry> RaftLog::NextCommittedEntries() const {
  const uint64_t lo = std::max(applied_ + 1, FirstIndex());
  if (committed_ + 1 <= lo) return {};
  auto entries = Slice(lo, committed_ + 1, max_applying_size_bytes_);
  KEEL_CHECK_MSG(entries.ok(), "unexpected error reading committed entries");
  return *std::move(entries);
}

bool RaftLog::HasNextCommittedEntries() const {
  return committed_ + 1 > std::max(applied_ + 1, FirstIndex());
}

void RaftLog::CommitTo(uint64_t to_commit) {
  if (to_commit <= committed_) return;  // Commit never decreases.
  KEEL_CHECK_MSG(to_commit <= LastIndex(), "commit beyond the end of the log");
  committed_ = to_commit;
}

bool RaftLog::MaybeCommit(uint64_t max_index, uint64_t term) {
  // Figure 8: only an entry of the leader's own term is committed by counting replicas;
  // earlier entries then commit indirectly because they precede it.
  if (max_index > committed_ && TermOrZero(max_index) == term) {
    CommitTo(max_index);
    return true;
  }
  return false;
}

void RaftLog::AppliedTo(uint64_t i) {
  if (i == 0) return;
  KEEL_CHECK_MSG(committed_ >= i && i >= applied_, "applied out of range");
  applied_ = i;
}

void RaftLog::Restore(raftpb::Snapshot snapshot) {
  committed_ = snapshot.metadata().index();
  unstable_.Restore(std::move(snapshot));
}

}  // namespace keel::raft
