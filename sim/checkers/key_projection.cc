#include "sim/checkers/key_projection.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_format.h"
#include "base/check.h"

namespace keel::sim::checkers {
namespace {

class ValueTable {
 public:
  explicit ValueTable(std::vector<std::string>* values) : values_(values) {}
  int32_t Intern(const std::string& value) {
    auto [it, inserted] = ids_.emplace(value, static_cast<int32_t>(values_->size()));
    if (inserted) values_->push_back(value);
    return it->second;
  }

 private:
  std::vector<std::string>* values_;
  absl::flat_hash_map<std::string, int32_t> ids_;
};

bool Relevant(const Operation& op) {
  if (op.outcome == Outcome::kFailed) return false;
  // A read whose answer never arrived constrains nothing.
  if (op.outcome == Outcome::kUnknown && !IsWriteKind(op.kind)) return false;
  return true;
}

bool InRange(const Operation& range, const std::string& key) {
  return key >= range.key && (range.range_end.empty() || key < range.range_end);
}

KeyOp BaseKeyOp(const Operation& op, size_t index) {
  KeyOp k;
  k.history_index = index;
  k.kind = op.kind == OpKind::kRange ? OpKind::kGet : op.kind;
  k.outcome_unknown = op.outcome == Outcome::kUnknown;
  k.invoke_ns = op.invoke_ns;
  k.complete_ns = k.outcome_unknown ? kNeverCompletedNs : op.complete_ns;
  KEEL_CHECK(k.invoke_ns <= k.complete_ns);
  k.header_revision = k.outcome_unknown ? 0 : op.header_revision;
  return k;
}

KeyOp ProjectSingleKey(const Operation& op, size_t index, ValueTable* values) {
  KeyOp k = BaseKeyOp(op, index);
  if (op.kind == OpKind::kPut || op.kind == OpKind::kCas) {
    k.write_value_id = values->Intern(op.value);
  }
  if (op.kind == OpKind::kCas) {
    k.cas_target = op.cas_target;
    k.cas_expected_number = op.cas_expected_number;
    if (op.cas_target == CasTarget::kValue) {
      k.cas_expected_value_id = values->Intern(op.cas_expected_value);
    }
  }
  k.found = op.found;
  if (op.kind == OpKind::kGet && op.found) k.read_value_id = values->Intern(op.read_value);
  k.read_mod_revision = op.read_mod_revision;
  k.read_version = op.read_version;
  k.deleted = op.deleted;
  k.cas_succeeded = op.cas_succeeded;
  return k;
}

struct Observation {
  int64_t first_ns = kNeverCompletedNs;  // completion of the earliest op that saw the value
  int64_t mod_revision = 0;              // the value's mod_revision as some read reported it
};

// Acknowledged ops that saw `value_id` in the store.
Observation Observe(const std::vector<KeyOp>& ops, int32_t value_id) {
  Observation seen;
  for (const KeyOp& k : ops) {
    if (k.outcome_unknown) continue;
    const bool read_it = k.kind == OpKind::kGet && k.found && k.read_value_id == value_id;
    const bool compared_it = k.kind == OpKind::kCas && k.cas_succeeded &&
                             k.cas_target == CasTarget::kValue &&
                             k.cas_expected_value_id == value_id;
    if (!read_it && !compared_it) continue;
    seen.first_ns = std::min(seen.first_ns, k.complete_ns);
    if (read_it && k.read_mod_revision > 0) seen.mod_revision = k.read_mod_revision;
  }
  return seen;
}

void PinObservedUnknownWrites(KeySubHistory* sub) {
  std::vector<int> writers(sub->values.size(), 0);
  for (const KeyOp& k : sub->ops) {
    if (k.write_value_id != kAbsentValueId) ++writers[k.write_value_id];
  }
  for (KeyOp& k : sub->ops) {
    if (!k.outcome_unknown || k.write_value_id == kAbsentValueId) continue;
    if (writers[k.write_value_id] != 1) continue;
    const Observation seen = Observe(sub->ops, k.write_value_id);
    // A read before the invocation is a violation the search will report; don't pin.
    if (seen.first_ns == kNeverCompletedNs || seen.first_ns < k.invoke_ns) continue;
    k.observed = true;
    k.complete_ns = seen.first_ns;
    k.inferred_revision = seen.mod_revision;
  }
}

}  // namespace

Projection ProjectByKey(const History& history) {
  Projection projection;
  // Every key the history names: written, read, or returned by a range.
  std::set<std::string> keys;
  for (const Operation& op : history) {
    if (!Relevant(op)) continue;
    if (op.kind != OpKind::kRange) keys.insert(op.key);
    for (const KeyValue& kv : op.range_result) keys.insert(kv.key);
  }
  std::map<std::string, size_t> slot;
  for (const std::string& key : keys) {
    slot[key] = projection.keys.size();
    projection.keys.push_back(KeySubHistory{key, {}, {}});
  }
  std::vector<ValueTable> tables;
  tables.reserve(projection.keys.size());
  for (KeySubHistory& sub : projection.keys) tables.emplace_back(&sub.values);

  for (size_t i = 0; i < history.size(); ++i) {
    const Operation& op = history[i];
    if (!Relevant(op)) continue;
    if (op.kind != OpKind::kRange) {
      const size_t s = slot.at(op.key);
      projection.keys[s].ops.push_back(ProjectSingleKey(op, i, &tables[s]));
      continue;
    }
    std::map<std::string, const KeyValue*> returned;
    for (const KeyValue& kv : op.range_result) {
      if (!InRange(op, kv.key) || !returned.emplace(kv.key, &kv).second) {
        projection.malformed = Violation{
            "range-key-outside-range",
            absl::StrFormat("range returned key %s outside [%s, %s) or twice:\n  %s", kv.key,
                            op.key, op.range_end, DescribeOperation(history, i)),
            {i}};
        return projection;
      }
    }
    for (auto it = slot.lower_bound(op.key); it != slot.end() && InRange(op, it->first); ++it) {
      KeyOp k = BaseKeyOp(op, i);
      auto found = returned.find(it->first);
      k.found = found != returned.end();
      if (k.found) {
        k.read_value_id = tables[it->second].Intern(found->second->value);
        k.read_mod_revision = found->second->mod_revision;
        k.read_version = found->second->version;
      }
      projection.keys[it->second].ops.push_back(k);
    }
  }
  for (KeySubHistory& sub : projection.keys) PinObservedUnknownWrites(&sub);
  return projection;
}

}  // namespace keel::sim::checkers
