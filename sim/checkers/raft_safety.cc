#include "sim/checkers/raft_safety.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace keel::sim::checkers {
namespace {

uint64_t Mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

uint64_t ChainPrefix(uint64_t previous, uint64_t term, uint64_t hash) {
  return Mix(previous ^ Mix(term * 0x9e3779b97f4a7c15ULL ^ Mix(hash)));
}

}  // namespace

std::optional<Violation> RaftSafetyChecker::Fail(std::string property, std::string message) {
  first_violation_ = Violation{std::move(property), std::move(message), {}};
  return first_violation_;
}

const RaftSafetyChecker::Slot* RaftSafetyChecker::SlotAt(const NodeLog& log, uint64_t index) {
  if (index <= log.snapshot_index || index > log.last_index()) return nullptr;
  return &log.slots[index - log.snapshot_index - 1];
}

std::optional<uint64_t> RaftSafetyChecker::PrefixAt(const NodeLog& log, uint64_t index) {
  if (!log.anchored) return std::nullopt;
  if (index == log.snapshot_index) return log.snapshot_prefix;
  const Slot* slot = SlotAt(log, index);
  if (slot == nullptr) return std::nullopt;
  return slot->prefix;
}

std::optional<Violation> RaftSafetyChecker::Observe(const RaftObservation& o) {
  if (first_violation_) return first_violation_;
  ++observations_;
  NodeState& node = nodes_[o.node];
  const bool stays_leader = o.role == RaftRole::kLeader && node.leader_term == o.term;
  if (auto v = CheckElection(o, node)) return v;
  if (auto v = ApplyLogDelta(o, node, stays_leader)) return v;
  if (auto v = CheckCommit(o, node)) return v;
  if (o.role == RaftRole::kLeader) {
    if (auto v = CheckLeaderCompleteness(o, node)) return v;
  }
  return CheckApplied(o);
}

std::optional<Violation> RaftSafetyChecker::CheckElection(const RaftObservation& o,
                                                          NodeState& node) {
  node.leader_term = o.role == RaftRole::kLeader ? o.term : 0;
  if (o.role != RaftRole::kLeader) return std::nullopt;
  auto [it, inserted] = leader_of_term_.emplace(o.term, o.node);
  if (!inserted && it->second != o.node) {
    return Fail("election-safety", absl::StrFormat("nodes %d and %d are both leader of term %d",
                                                   it->second, o.node, o.term));
  }
  return std::nullopt;
}

std::optional<Violation> RaftSafetyChecker::InstallSnapshot(const RaftObservation& o,
                                                            NodeLog& log) {
  const Slot* held = SlotAt(log, o.snapshot_index);
  if (held != nullptr && held->term == o.snapshot_term) {
    // Compaction of entries the node holds: keep the suffix, whether or not the log is
    // anchored (the observer reports only what follows the entries it reported, so the
    // suffix is never sent again).
    const uint64_t prefix = held->prefix;
    log.slots.erase(log.slots.begin(),
                    log.slots.begin() + static_cast<ptrdiff_t>(o.snapshot_index - log.snapshot_index));
    log.snapshot_index = o.snapshot_index;
    log.snapshot_term = o.snapshot_term;
    if (log.anchored) {
      log.snapshot_prefix = prefix;
      return std::nullopt;
    }
    // An unanchored log whose new snapshot entry is known elsewhere: anchor there and chain
    // the kept entries again, checking them against every other log.
    auto known = prefix_of_.find({o.snapshot_index, o.snapshot_term});
    if (known == prefix_of_.end()) return std::nullopt;
    std::vector<Slot> kept = std::move(log.slots);
    log.slots.clear();
    log.anchored = true;
    log.snapshot_prefix = known->second;
    for (size_t k = 0; k < kept.size(); ++k) {
      const EntryDigest e{o.snapshot_index + 1 + k, kept[k].term, kept[k].hash};
      if (auto v = AppendEntry(o, e, log)) return v;
    }
    return std::nullopt;
  } else {
    log.slots.clear();
    auto known = prefix_of_.find({o.snapshot_index, o.snapshot_term});
    log.anchored = o.snapshot_index == 0 || known != prefix_of_.end();
    log.snapshot_prefix = o.snapshot_index == 0 ? 0 : (log.anchored ? known->second : 0);
  }
  log.snapshot_index = o.snapshot_index;
  log.snapshot_term = o.snapshot_term;
  return std::nullopt;
}

std::optional<Violation> RaftSafetyChecker::AppendEntry(const RaftObservation& o,
                                                        const EntryDigest& e, NodeLog& log) {
  const uint64_t previous_term = log.slots.empty() ? log.snapshot_term : log.slots.back().term;
  if (e.term < previous_term) {
    return Fail("log-matching", absl::StrFormat("node %d: entry %d has term %d below the "
                                                "previous entry's term %d",
                                                o.node, e.index, e.term, previous_term));
  }
  const uint64_t previous_prefix = log.slots.empty() ? log.snapshot_prefix : log.slots.back().prefix;
  const uint64_t prefix = ChainPrefix(previous_prefix, e.term, e.hash);
  log.slots.push_back(Slot{e.term, e.hash, prefix});
  if (!log.anchored) return std::nullopt;
  auto [it, inserted] = prefix_of_.emplace(std::make_pair(e.index, e.term), prefix);
  if (!inserted && it->second != prefix) {
    return Fail("log-matching",
                absl::StrFormat("node %d holds entry (index %d, term %d) but its log up to that "
                                "index differs from another log holding the same entry",
                                o.node, e.index, e.term));
  }
  return std::nullopt;
}

std::optional<Violation> RaftSafetyChecker::ApplyLogDelta(const RaftObservation& o,
                                                          NodeState& node, bool stays_leader) {
  NodeLog& log = node.log;
  const uint64_t last_before = log.last_index();
  if (o.snapshot_index != log.snapshot_index || o.snapshot_term != log.snapshot_term) {
    if (auto v = InstallSnapshot(o, log)) return v;
  }
  if (!o.appended.empty()) {
    const uint64_t first = o.appended.front().index;
    if (first <= log.snapshot_index || first > log.last_index() + 1) {
      return Fail("malformed-observation",
                  absl::StrFormat("node %d appended from index %d to a log covering (%d, %d]",
                                  o.node, first, log.snapshot_index, log.last_index()));
    }
    if (stays_leader && first <= last_before) {
      return Fail("leader-append-only",
                  absl::StrFormat("node %d, leader of term %d, overwrote its entries from index "
                                  "%d (its log ended at %d)",
                                  o.node, o.term, first, last_before));
    }
    log.slots.resize(first - log.snapshot_index - 1);
    for (size_t i = 0; i < o.appended.size(); ++i) {
      const EntryDigest& e = o.appended[i];
      if (e.index != first + i) {
        return Fail("malformed-observation",
                    absl::StrFormat("node %d: appended entries not contiguous at %d", o.node,
                                    e.index));
      }
      if (auto v = AppendEntry(o, e, log)) return v;
    }
  }
  if (o.last_index > log.last_index() || o.last_index < log.snapshot_index) {
    return Fail("malformed-observation",
                absl::StrFormat("node %d reports last index %d, its reported log covers (%d, %d]",
                                o.node, o.last_index, log.snapshot_index, log.last_index()));
  }
  if (o.last_index < log.last_index()) {
    if (stays_leader) {
      return Fail("leader-append-only",
                  absl::StrFormat("node %d, leader of term %d, dropped entries after index %d",
                                  o.node, o.term, o.last_index));
    }
    log.slots.resize(o.last_index - log.snapshot_index);
  }
  return std::nullopt;
}

std::optional<Violation> RaftSafetyChecker::CheckCommit(const RaftObservation& o,
                                                        NodeState& node) {
  const uint64_t from = node.commit_index + 1;
  node.commit_index = o.commit_index;
  if (o.commit_index > node.log.last_index()) {
    return Fail("malformed-observation",
                absl::StrFormat("node %d: commit index %d beyond its last index %d", o.node,
                                o.commit_index, node.log.last_index()));
  }
  for (uint64_t index = std::max(from, node.log.snapshot_index); index <= o.commit_index;
       ++index) {
    if (index == 0) continue;
    std::optional<uint64_t> prefix = PrefixAt(node.log, index);
    if (!prefix) continue;
    const uint64_t term =
        index == node.log.snapshot_index ? node.log.snapshot_term : SlotAt(node.log, index)->term;
    if (index <= committed_.size()) {
      if (committed_[index - 1].slot.prefix != *prefix) {
        return Fail("state-machine-safety",
                    absl::StrFormat("node %d committed index %d (term %d) with a log that "
                                    "differs from the one already committed there (term %d)",
                                    o.node, index, term, committed_[index - 1].slot.term));
      }
    } else if (index == committed_.size() + 1) {
      const Slot* slot = SlotAt(node.log, index);
      const uint64_t commit_term =
          std::max(o.term, committed_.empty() ? 0 : committed_.back().commit_term);
      committed_.push_back(CommittedEntry{Slot{term, slot ? slot->hash : 0, *prefix}, commit_term});
    }
  }
  return std::nullopt;
}

std::optional<Violation> RaftSafetyChecker::CheckLeaderCompleteness(const RaftObservation& o,
                                                                    const NodeState& node) {
  // Commit terms never decrease along the log, so the entries committed in terms before
  // this one form a prefix; the leader's log must contain exactly that prefix.
  const auto end =
      std::partition_point(committed_.begin(), committed_.end(),
                           [&](const CommittedEntry& c) { return c.commit_term < o.term; });
  const uint64_t k = static_cast<uint64_t>(end - committed_.begin());
  if (k == 0) return std::nullopt;
  if (node.log.last_index() < k) {
    return Fail("leader-completeness",
                absl::StrFormat("node %d leads term %d with last index %d, missing committed "
                                "entries up to %d (term %d)",
                                o.node, o.term, node.log.last_index(), k,
                                committed_[k - 1].slot.term));
  }
  std::optional<uint64_t> prefix = PrefixAt(node.log, k);
  if (prefix && *prefix != committed_[k - 1].slot.prefix) {
    return Fail("leader-completeness",
                absl::StrFormat("node %d leads term %d but its log up to index %d differs from "
                                "the committed entries (committed term at %d: %d)",
                                o.node, o.term, k, k, committed_[k - 1].slot.term));
  }
  return std::nullopt;
}

std::optional<Violation> RaftSafetyChecker::CheckApplied(const RaftObservation& o) {
  for (const EntryDigest& e : o.applied) {
    if (e.index > o.commit_index) {
      return Fail("state-machine-safety",
                  absl::StrFormat("node %d applied index %d beyond its commit index %d", o.node,
                                  e.index, o.commit_index));
    }
    auto [it, inserted] = applied_.emplace(e.index, std::make_pair(e.term, e.hash));
    if (!inserted && it->second != std::make_pair(e.term, e.hash)) {
      return Fail("state-machine-safety",
                  absl::StrFormat("node %d applied (term %d, hash %016x) at index %d where "
                                  "another node applied (term %d, hash %016x)",
                                  o.node, e.term, e.hash, e.index, it->second.first,
                                  it->second.second));
    }
    if (e.index == 0 || e.index > committed_.size()) continue;
    const Slot& committed = committed_[e.index - 1].slot;
    if (committed.term != e.term || (committed.hash != 0 && committed.hash != e.hash)) {
      return Fail("state-machine-safety",
                  absl::StrFormat("node %d applied (term %d) at index %d, but (term %d) was "
                                  "committed there",
                                  o.node, e.term, e.index, committed.term));
    }
  }
  return std::nullopt;
}

}  // namespace keel::sim::checkers
