#include "raft/testing/safety_checker.h"

#include "absl/strings/str_format.h"

namespace keel::raft::testing {

uint64_t HashData(const std::string& data) {
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a: stable across runs and platforms.
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

void SafetyChecker::Fail(std::string what) {
  if (violation_.empty()) violation_ = std::move(what);
}

void SafetyChecker::ObserveLeader(uint64_t node, uint64_t term, const RaftLog& log) {
  auto [it, inserted] = leader_of_term_.emplace(term, node);
  if (!inserted && it->second != node) {
    Fail(absl::StrFormat("election safety: nodes %d and %d both leader in term %d", it->second,
                         node, term));
    return;
  }
  const uint64_t last = log.LastIndex();
  auto term_at = [&](uint64_t i) { return log.TermOrZero(i); };
  auto hash_at = [&](uint64_t i) -> uint64_t {
    auto es = log.Slice(i, i + 1, UINT64_MAX);
    return es.ok() && !es->empty() ? HashData((*es)[0].data()) : 0;
  };
  auto mark = leader_mark_.find(node);
  if (mark != leader_mark_.end() && mark->second.term == term) {
    const LeaderMark& m = mark->second;
    if (last < m.last_index) {
      Fail(absl::StrFormat("leader append-only: leader %d (term %d) log shrank from %d to %d",
                           node, term, m.last_index, last));
      return;
    }
    if (m.last_index >= log.FirstIndex() &&
        (term_at(m.last_index) != m.last_term || hash_at(m.last_index) != m.last_hash)) {
      Fail(absl::StrFormat("leader append-only: leader %d (term %d) rewrote index %d", node,
                           term, m.last_index));
      return;
    }
  } else {
    // First sighting of this leadership: it must hold every committed entry.
    for (const auto& [index, id] : applied_) {
      if (index < log.FirstIndex()) continue;  // Covered by its snapshot.
      if (index > last || term_at(index) != id.term || hash_at(index) != id.data_hash) {
        Fail(absl::StrFormat(
            "leader completeness: leader %d (term %d) lacks committed entry %d (term %d)", node,
            term, index, id.term));
        return;
      }
    }
  }
  leader_mark_[node] = LeaderMark{term, last, term_at(last), hash_at(last)};
}

void SafetyChecker::ObservePersisted(uint64_t node, const raftpb::Entry& e, uint64_t prev_term) {
  const auto key = std::make_pair(e.index(), e.term());
  const auto value = std::make_pair(HashData(e.data()), prev_term);
  auto [it, inserted] = persisted_.emplace(key, value);
  if (!inserted && it->second != value) {
    Fail(absl::StrFormat(
        "log matching: node %d persisted entry %d/%d that differs from another node's "
        "(data or preceding term)", node, e.term(), e.index()));
  }
}

void SafetyChecker::ObserveApplied(uint64_t node, const raftpb::Entry& e) {
  const EntryId id{e.term(), HashData(e.data())};
  auto [it, inserted] = applied_.emplace(e.index(), id);
  if (!inserted && (it->second.term != id.term || it->second.data_hash != id.data_hash)) {
    Fail(absl::StrFormat("state machine safety: node %d applied %d/%d, another node applied "
                         "term %d at that index", node, e.term(), e.index(), it->second.term));
  }
}

}  // namespace keel::raft::testing
