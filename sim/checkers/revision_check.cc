#include "sim/checkers/revision_check.h"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_format.h"
#include "base/check.h"

namespace keel::sim::checkers {
namespace {

bool Acked(const Operation& op) { return op.outcome == Outcome::kOk; }
bool HasRevision(const Operation& op) { return Acked(op) && op.header_revision > 0; }

Violation MakeViolation(const History& h, std::string property, std::string why,
                        std::vector<size_t> ops) {
  std::string message = std::move(why);
  for (size_t i : ops) absl::StrAppend(&message, "\n  ", DescribeOperation(h, i));
  return Violation{std::move(property), std::move(message), std::move(ops)};
}

std::optional<Violation> CheckUniqueWriteRevisions(
    const History& h, absl::flat_hash_map<int64_t, size_t>* write_at_revision) {
  for (size_t i = 0; i < h.size(); ++i) {
    if (!HasRevision(h[i]) || !IsEffectiveWrite(h[i])) continue;
    auto [it, inserted] = write_at_revision->emplace(h[i].header_revision, i);
    if (!inserted) {
      return MakeViolation(h, "duplicate-revision",
                           absl::StrFormat("two acknowledged writes at revision %d",
                                           h[i].header_revision),
                           {it->second, i});
    }
  }
  return std::nullopt;
}

// Sweep: ops in invocation order; before each, absorb every op that completed strictly
// earlier and remember the largest revision among them.
std::optional<Violation> CheckRealTimeOrder(const History& h) {
  std::vector<size_t> by_invoke, by_complete;
  for (size_t i = 0; i < h.size(); ++i) {
    if (!HasRevision(h[i])) continue;
    by_invoke.push_back(i);
    by_complete.push_back(i);
  }
  std::stable_sort(by_invoke.begin(), by_invoke.end(),
                   [&](size_t a, size_t b) { return h[a].invoke_ns < h[b].invoke_ns; });
  std::stable_sort(by_complete.begin(), by_complete.end(),
                   [&](size_t a, size_t b) { return h[a].complete_ns < h[b].complete_ns; });
  size_t next_completed = 0;
  int64_t max_seen = 0;
  size_t max_seen_op = 0;
  for (size_t b : by_invoke) {
    while (next_completed < by_complete.size() &&
           h[by_complete[next_completed]].complete_ns < h[b].invoke_ns) {
      const size_t a = by_complete[next_completed++];
      if (h[a].header_revision > max_seen) {
        max_seen = h[a].header_revision;
        max_seen_op = a;
      }
    }
    if (max_seen == 0) continue;
    const bool writes = IsEffectiveWrite(h[b]);
    if (h[b].header_revision < max_seen || (writes && h[b].header_revision == max_seen)) {
      return MakeViolation(
          h, "revision-real-time",
          absl::StrFormat("operation #%d started after #%d completed at revision %d, but %s "
                          "revision %d",
                          b, max_seen_op, max_seen, writes ? "was written at" : "observed",
                          h[b].header_revision),
          {max_seen_op, b});
    }
  }
  return std::nullopt;
}

// Per key, the acknowledged effective writes with revisions, sorted by revision.
using WritesByKey = std::map<std::string, std::vector<size_t>>;

WritesByKey IndexWritesByKey(const History& h) {
  WritesByKey writes;
  for (size_t i = 0; i < h.size(); ++i) {
    if (HasRevision(h[i]) && IsEffectiveWrite(h[i])) writes[h[i].key].push_back(i);
  }
  for (auto& [key, ops] : writes) {
    std::sort(ops.begin(), ops.end(), [&](size_t a, size_t b) {
      return h[a].header_revision < h[b].header_revision;
    });
  }
  return writes;
}

// Per key, the writes whose revision we do not know: unknown outcome, or acknowledged
// without a recorded revision. Any of them may explain an observation.
using UnrecordedWrites = std::map<std::string, std::vector<size_t>>;

UnrecordedWrites IndexUnrecordedWrites(const History& h) {
  UnrecordedWrites writes;
  for (size_t i = 0; i < h.size(); ++i) {
    const Operation& w = h[i];
    if (!IsWriteKind(w.kind) || w.outcome == Outcome::kFailed || HasRevision(w)) continue;
    writes[w.key].push_back(i);
  }
  return writes;
}

// Could one of those writes to `key`, started before `read` completed, have produced this
// observation? `value` nullptr means "a delete".
bool UnrecordedWriteCouldExplain(const History& h, const UnrecordedWrites& unrecorded,
                                 const Operation& read, const std::string& key,
                                 const std::string* value) {
  auto it = unrecorded.find(key);
  if (it == unrecorded.end()) return false;
  for (size_t i : it->second) {
    const Operation& w = h[i];
    if (w.invoke_ns > read.complete_ns) continue;
    if (value == nullptr ? w.kind == OpKind::kDelete
                         : (w.kind != OpKind::kDelete && w.value == *value)) {
      return true;
    }
  }
  return false;
}

// Latest acknowledged write to `key` with revision in (after, upto], or nullopt.
std::optional<size_t> LatestWriteIn(const History& h, const WritesByKey& writes,
                                    const std::string& key, int64_t after, int64_t upto) {
  auto it = writes.find(key);
  if (it == writes.end()) return std::nullopt;
  const std::vector<size_t>& ops = it->second;
  auto pos = std::upper_bound(ops.begin(), ops.end(), upto, [&](int64_t rev, size_t op) {
    return rev < h[op].header_revision;
  });
  if (pos == ops.begin()) return std::nullopt;
  const size_t latest = *(pos - 1);
  if (h[latest].header_revision <= after) return std::nullopt;
  return latest;
}

// One key as seen by a read at revision `read.header_revision`.
std::optional<Violation> CheckObservedKey(
    const History& h, size_t read_index, const std::string& key, bool found,
    const std::string& value, int64_t mod_revision, const WritesByKey& writes,
    const UnrecordedWrites& unrecorded,
    const absl::flat_hash_map<int64_t, size_t>& write_at_revision) {
  const Operation& read = h[read_index];
  const int64_t at = read.header_revision;
  if (!found) {
    std::optional<size_t> latest = LatestWriteIn(h, writes, key, 0, at);
    if (latest && h[*latest].kind != OpKind::kDelete &&
        !UnrecordedWriteCouldExplain(h, unrecorded, read, key, nullptr)) {
      return MakeViolation(h, "stale-read",
                           absl::StrFormat("read of %s at revision %d found nothing, but it was "
                                           "written at revision %d",
                                           key, at, h[*latest].header_revision),
                           {*latest, read_index});
    }
    return std::nullopt;
  }
  if (mod_revision == 0) return std::nullopt;
  if (mod_revision > at) {
    return MakeViolation(h, "read-future-revision",
                         absl::StrFormat("read at revision %d returned %s with mod_revision %d",
                                         at, key, mod_revision),
                         {read_index});
  }
  auto writer = write_at_revision.find(mod_revision);
  if (writer != write_at_revision.end()) {
    const Operation& w = h[writer->second];
    if (w.key != key || w.kind == OpKind::kDelete || w.value != value) {
      return MakeViolation(h, "read-wrong-write",
                           absl::StrFormat("read returned %s=%s at mod_revision %d, which is "
                                           "not what the write at that revision did",
                                           key, value, mod_revision),
                           {writer->second, read_index});
    }
  } else if (!UnrecordedWriteCouldExplain(h, unrecorded, read, key, &value)) {
    return MakeViolation(h, "read-never-written",
                         absl::StrFormat("read returned %s=%s at mod_revision %d; no write could "
                                         "have produced it",
                                         key, value, mod_revision),
                         {read_index});
  }
  if (std::optional<size_t> missed = LatestWriteIn(h, writes, key, mod_revision, at)) {
    return MakeViolation(h, "stale-read",
                         absl::StrFormat("read at revision %d returned %s from revision %d but "
                                         "missed the write at revision %d",
                                         at, key, mod_revision, h[*missed].header_revision),
                         {*missed, read_index});
  }
  return std::nullopt;
}

bool InRange(const Operation& range, const std::string& key) {
  return key >= range.key && (range.range_end.empty() || key < range.range_end);
}

std::optional<Violation> CheckReads(const History& h,
                                    const absl::flat_hash_map<int64_t, size_t>& write_at_revision) {
  const WritesByKey writes = IndexWritesByKey(h);
  const UnrecordedWrites unrecorded = IndexUnrecordedWrites(h);
  for (size_t i = 0; i < h.size(); ++i) {
    const Operation& op = h[i];
    if (!HasRevision(op)) continue;
    std::optional<Violation> v;
    if (op.kind == OpKind::kGet) {
      v = CheckObservedKey(h, i, op.key, op.found, op.read_value, op.read_mod_revision, writes,
                           unrecorded, write_at_revision);
    } else if (op.kind == OpKind::kRange) {
      // Keys the range returned must be current at its revision; every written key in the
      // range that it did not return must be absent at that revision.
      std::map<std::string, const KeyValue*> returned;
      for (const KeyValue& kv : op.range_result) returned[kv.key] = &kv;
      for (const auto& [key, kv] : returned) {
        v = CheckObservedKey(h, i, key, true, kv->value, kv->mod_revision, writes,
                             unrecorded, write_at_revision);
        if (v) return v;
      }
      for (const auto& [key, unused] : writes) {
        if (!InRange(op, key) || returned.count(key) > 0) continue;
        v = CheckObservedKey(h, i, key, false, "", 0, writes, unrecorded, write_at_revision);
        if (v) return v;
      }
    }
    if (v) return v;
  }
  return std::nullopt;
}

}  // namespace

std::optional<Violation> CheckRevisions(const History& history) {
  absl::flat_hash_map<int64_t, size_t> write_at_revision;
  if (auto v = CheckUniqueWriteRevisions(history, &write_at_revision)) return v;
  if (auto v = CheckRealTimeOrder(history)) return v;
  return CheckReads(history, write_at_revision);
}

}  // namespace keel::sim::checkers
