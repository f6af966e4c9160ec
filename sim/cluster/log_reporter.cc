#include "sim/cluster/log_reporter.h"

#include <cstddef>
#include <limits>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "xxhash.h"

namespace keel::sim {

checkers::RaftRole ToRole(raft::StateType s) {
  switch (s) {
    case raft::StateType::kLeader: return checkers::RaftRole::kLeader;
    case raft::StateType::kCandidate: return checkers::RaftRole::kCandidate;
    case raft::StateType::kPreCandidate: return checkers::RaftRole::kPreCandidate;
    case raft::StateType::kFollower: return checkers::RaftRole::kFollower;
  }
  return checkers::RaftRole::kFollower;
}

uint64_t EntryHash(const raftpb::Entry& e) {
  return XXH3_64bits_withSeed(e.data().data(), e.data().size(),
                              static_cast<uint64_t>(e.type()) + 1);
}

bool LogReporter::CaughtUp(const raft::MemoryStorage& storage) const {
  const uint64_t first = storage.FirstIndex().value_or(1);
  const uint64_t last = storage.LastIndex().value_or(0);
  return log_.empty() ? last < first : log_.back().first == last;
}

absl::Status LogReporter::Report(const raft::MemoryStorage& storage,
                                 checkers::RaftObservation& o) {
  const uint64_t first = storage.FirstIndex().value_or(1);
  o.snapshot_index = first - 1;
  o.snapshot_term = storage.Term(first - 1).value_or(0);
  o.last_index = storage.LastIndex().value_or(0);
  std::vector<std::pair<uint64_t, uint64_t>>& log = log_;
  // Drop what the log no longer holds, then report everything after the last entry that
  // still matches (same index and term) what we reported before.
  while (!log.empty() && (log.back().first > o.last_index ||
                          storage.Term(log.back().first).value_or(0) != log.back().second)) {
    log.pop_back();
  }
  if (o.snapshot_index != snapshot_index_ || o.snapshot_term != snapshot_term_) {
    snapshot_index_ = o.snapshot_index;
    snapshot_term_ = o.snapshot_term;
    // The checker keeps its entries after the new snapshot only if it holds the snapshot's
    // entry; else it restarts the log at the snapshot (RaftSafetyChecker::InstallSnapshot).
    const bool held = !log.empty() && log.front().first <= o.snapshot_index &&
                      o.snapshot_index <= log.back().first &&
                      log[o.snapshot_index - log.front().first].second == o.snapshot_term;
    if (held) {
      log.erase(log.begin(), log.begin() + static_cast<std::ptrdiff_t>(
                                               o.snapshot_index - log.front().first + 1));
    } else {
      log.clear();
    }
  }
  const uint64_t from = log.empty() ? first : log.back().first + 1;
  if (from <= o.last_index) {
    absl::StatusOr<std::vector<raftpb::Entry>> entries =
        storage.Entries(from, o.last_index + 1, std::numeric_limits<uint64_t>::max());
    if (!entries.ok()) {
      return absl::InternalError(absl::StrCat("storage holds (", o.snapshot_index, ", ",
                                              o.last_index, "] but Entries(", from, ", ",
                                              o.last_index + 1, ") failed: ",
                                              entries.status().ToString()));
    }
    for (const raftpb::Entry& e : *entries) {
      o.appended.push_back({e.index(), e.term(), EntryHash(e)});
      log.emplace_back(e.index(), e.term());
    }
  }
  return absl::OkStatus();
}

}  // namespace keel::sim
