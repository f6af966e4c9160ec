#include "sim/checkers/lowe_search.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "base/check.h"

namespace keel::sim::checkers {
namespace {

// One call or return in the doubly linked list. Index 0 is the head sentinel; kNil ends it.
constexpr size_t kNil = static_cast<size_t>(-1);

struct Entry {
  bool is_call = false;
  size_t op = 0;       // position in ops
  size_t match = kNil;  // for a call: its return entry
  size_t prev = kNil;
  size_t next = kNil;
};

class EntryList {
 public:
  explicit EntryList(const std::vector<KeyOp>& ops) {
    struct Event {
      int64_t time_ns;
      bool is_return;
      size_t op;
    };
    std::vector<Event> events;
    events.reserve(2 * ops.size());
    for (size_t i = 0; i < ops.size(); ++i) {
      events.push_back({ops[i].invoke_ns, false, i});
      events.push_back({ops[i].complete_ns, true, i});
    }
    // Calls before returns at equal times: touching intervals count as concurrent, which
    // only ever allows more linearizations (never a false violation).
    std::stable_sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
      if (a.time_ns != b.time_ns) return a.time_ns < b.time_ns;
      return !a.is_return && b.is_return;
    });
    entries_.resize(events.size() + 1);
    std::vector<size_t> call_entry(ops.size(), kNil);
    for (size_t i = 0; i < events.size(); ++i) {
      Entry& e = entries_[i + 1];
      e.is_call = !events[i].is_return;
      e.op = events[i].op;
      e.prev = i;
      e.next = i + 2 < entries_.size() ? i + 2 : kNil;
      if (e.is_call) {
        call_entry[e.op] = i + 1;
      } else {
        KEEL_CHECK(call_entry[e.op] != kNil);
        entries_[call_entry[e.op]].match = i + 1;
      }
    }
    entries_[0].next = entries_.size() > 1 ? 1 : kNil;
  }

  const Entry& at(size_t i) const { return entries_[i]; }
  size_t first() const { return entries_[0].next; }

  // Removes a call and its return. Undo with Unlift in reverse order (dancing links).
  void Lift(size_t call) {
    Unlink(call);
    Unlink(entries_[call].match);
  }
  void Unlift(size_t call) {
    Relink(entries_[call].match);
    Relink(call);
  }

 private:
  void Unlink(size_t i) {
    Entry& e = entries_[i];
    entries_[e.prev].next = e.next;
    if (e.next != kNil) entries_[e.next].prev = e.prev;
  }
  void Relink(size_t i) {
    Entry& e = entries_[i];
    entries_[e.prev].next = i;
    if (e.next != kNil) entries_[e.next].prev = i;
  }

  std::vector<Entry> entries_;
};

class Bitset {
 public:
  explicit Bitset(size_t n) : words_((n + 63) / 64, 0) {}
  void Set(size_t i) { words_[i / 64] |= uint64_t{1} << (i % 64); }
  void Clear(size_t i) { words_[i / 64] &= ~(uint64_t{1} << (i % 64)); }
  const std::vector<uint64_t>& words() const { return words_; }

 private:
  std::vector<uint64_t> words_;
};

// Ops that certainly took effect: the search is done when all of them are linearized.
bool MustLinearize(const KeyOp& op) { return !op.outcome_unknown || op.observed; }

// The memo. A configuration is (must-ops linearized, optional ops linearized, state), where
// optional ops are the unknown-outcome ones that may never have taken effect. Beyond
// Porcupine's exact-match memo, a configuration is also pruned if one with the same
// must-ops and state but a SUBSET of its optional ops was already reached: from there, every
// completion is still available (an optional op can always be left out, or linearized at
// the very end where nothing observes it). Without this, each subset of lost writes that
// leaves the state unchanged would be explored again.
//
// Each entry holds a bitset over the key's whole history, so the memo grows with
// (history length)^2 / 64 bytes along one search path: 10 GB for a 272k-operation
// single-key history (simulator seed 4842, one member, five clients with no think time).
// Past kMaxBytes (1 GiB) it stops remembering: the memo only prunes repeated work, so the
// search stays exact (its step budget still bounds the time), it just may revisit
// configurations, and a history that needed more memo may end "inconclusive".
class Memo {
 public:
  static constexpr size_t kMaxBytes = size_t{1} << 30;

  // Records the configuration; returns false if it (or a dominating one) was seen before.
  bool Insert(const Bitset& must, const Bitset& optional, const KeyStateSet& states) {
    Key key{must.words(), states};
    auto it = seen_.find(key);
    if (it != seen_.end()) {
      for (const std::vector<uint64_t>& earlier : it->second) {
        if (IsSubset(earlier, optional.words())) return false;
      }
    }
    // What this insert adds: the optional set, plus the key if it is new.
    size_t bytes = sizeof(std::vector<uint64_t>) + 8 * optional.words().size();
    if (it == seen_.end()) {
      bytes += sizeof(Key) + 8 * must.words().size() + sizeof(KeyState) * states.size() +
               sizeof(std::vector<std::vector<uint64_t>>);
    }
    if (bytes_ + bytes > kMaxBytes) return true;  // full: remember nothing more
    bytes_ += bytes;
    if (it == seen_.end()) it = seen_.emplace(std::move(key), std::vector<std::vector<uint64_t>>()).first;
    it->second.push_back(optional.words());
    return true;
  }

 private:
  struct Key {
    std::vector<uint64_t> must;
    KeyStateSet states;

    friend bool operator==(const Key& a, const Key& b) {
      return a.must == b.must && a.states == b.states;
    }
    template <typename H>
    friend H AbslHashValue(H h, const Key& k) {
      h = H::combine_contiguous(std::move(h), k.must.data(), k.must.size());
      for (const KeyState& s : k.states) {
        h = H::combine(std::move(h), s.value_id, s.version, s.mod_revision);
      }
      return h;
    }
  };

  static bool IsSubset(const std::vector<uint64_t>& a, const std::vector<uint64_t>& b) {
    for (size_t i = 0; i < a.size(); ++i) {
      if ((a[i] & ~b[i]) != 0) return false;
    }
    return true;
  }

  absl::flat_hash_map<Key, std::vector<std::vector<uint64_t>>> seen_;
  size_t bytes_ = 0;  // roughly what seen_ holds
};

struct Frame {
  size_t call_entry;
  size_t rank;  // position of call_entry among its level's ranked candidates
  KeyStateSet states_before;
};

// The order in which one level tries its candidates. Any order is complete; this one finds
// a linearization of an etcd history almost without backtracking: unknown-outcome ops first
// (cheap to place, and where they belong is unknown), then by revision, writes before the
// reads that observe them, then by invocation.
struct Priority {
  bool known_outcome;
  int64_t revision;
  bool reads;
  size_t entry;
  friend bool operator<(const Priority& a, const Priority& b) {
    return std::tie(a.known_outcome, a.revision, a.reads, a.entry) <
           std::tie(b.known_outcome, b.revision, b.reads, b.entry);
  }
};

Priority PriorityOf(const KeyOp& op, size_t entry) {
  if (!MustLinearize(op)) return Priority{false, 0, false, entry};
  if (op.observed) return Priority{true, op.inferred_revision, false, entry};
  const bool writes = op.kind == OpKind::kPut || (op.kind == OpKind::kDelete && op.deleted) ||
                      (op.kind == OpKind::kCas && op.cas_succeeded);
  return Priority{true, op.header_revision, !writes, entry};
}

// The calls before the first return still in the list, best first.
std::vector<size_t> RankedCandidates(const EntryList& list, const std::vector<KeyOp>& ops) {
  std::vector<Priority> ranked;
  for (size_t e = list.first(); e != kNil && list.at(e).is_call; e = list.at(e).next) {
    ranked.push_back(PriorityOf(ops[list.at(e).op], e));
  }
  std::sort(ranked.begin(), ranked.end());
  std::vector<size_t> entries;
  entries.reserve(ranked.size());
  for (const Priority& p : ranked) entries.push_back(p.entry);
  return entries;
}

// Records the deepest point of the search at which it had to backtrack: the ops linearized
// so far, and the pending calls (up to the blocking return) none of which led anywhere.
void RecordDeadEnd(const std::vector<Frame>& stack, const EntryList& list,
                   const KeyStateSet& states, KeySearchResult* result) {
  if (!result->blocked.empty() && stack.size() <= result->longest_prefix.size()) return;
  result->longest_prefix.clear();
  for (const Frame& f : stack) result->longest_prefix.push_back(list.at(f.call_entry).op);
  result->blocked.clear();
  // The first return's own call precedes it, so the op that had to complete is among them.
  for (size_t e = list.first(); e != kNil && list.at(e).is_call; e = list.at(e).next) {
    result->blocked.push_back(list.at(e).op);
  }
  result->state_after_prefix = states;
}

}  // namespace

KeySearchResult SearchKeyLinearization(const std::vector<KeyOp>& ops, int64_t max_steps) {
  KeySearchResult result;
  EntryList list(ops);
  // Each op has a bit in `must` or in `optional`.
  std::vector<size_t> bit(ops.size());
  size_t must_count = 0;
  size_t optional_count = 0;
  for (size_t i = 0; i < ops.size(); ++i) {
    bit[i] = MustLinearize(ops[i]) ? must_count++ : optional_count++;
  }
  Bitset must(must_count);
  Bitset optional(optional_count);
  auto toggle = [&](size_t op, bool on) {
    Bitset& set = MustLinearize(ops[op]) ? must : optional;
    on ? set.Set(bit[op]) : set.Clear(bit[op]);
  };
  Memo memo;
  std::vector<Frame> stack;
  KeyStateSet states = {KeyState{}};
  size_t must_pending = must_count;

  std::vector<size_t> candidates = RankedCandidates(list, ops);
  size_t rank = 0;
  while (must_pending > 0) {
    if (++result.steps > max_steps) {
      result.outcome = SearchOutcome::kBudgetExhausted;
      return result;
    }
    if (rank < candidates.size()) {
      const size_t entry = candidates[rank];
      const size_t op_index = list.at(entry).op;
      const KeyOp& op = ops[op_index];
      KeyStateSet next = StepKeyModel(states, op);
      if (!next.empty()) {
        toggle(op_index, true);
        if (memo.Insert(must, optional, next)) {
          stack.push_back(Frame{entry, rank, std::move(states)});
          states = std::move(next);
          list.Lift(entry);
          must_pending -= MustLinearize(op) ? 1 : 0;
          candidates = RankedCandidates(list, ops);
          rank = 0;
          continue;
        }
        toggle(op_index, false);
      }
      ++rank;
      continue;
    }
    // No candidate extends this prefix: an op that had to complete cannot. Backtrack.
    RecordDeadEnd(stack, list, states, &result);
    if (stack.empty()) {
      result.outcome = SearchOutcome::kNotLinearizable;
      return result;
    }
    Frame top = std::move(stack.back());
    stack.pop_back();
    const size_t op = list.at(top.call_entry).op;
    states = std::move(top.states_before);
    toggle(op, false);
    list.Unlift(top.call_entry);
    must_pending += MustLinearize(ops[op]) ? 1 : 0;
    // The list is as it was when this level ranked its candidates, so the ranking is too.
    candidates = RankedCandidates(list, ops);
    KEEL_CHECK(top.rank < candidates.size() && candidates[top.rank] == top.call_entry);
    rank = top.rank + 1;
  }
  result.outcome = SearchOutcome::kLinearizable;
  result.longest_prefix.clear();
  result.blocked.clear();
  return result;
}

}  // namespace keel::sim::checkers
