#include "sim/checkers/kv_model.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/check.h"

namespace keel::sim::checkers {
namespace {

void AddState(const KeyState& s, KeyStateSet* out) { out->push_back(s); }

KeyState Written(const KeyState& before, const KeyOp& op) {
  KeyState after;
  after.value_id = op.write_value_id;
  after.version = before.exists() ? before.version + 1 : 1;
  after.mod_revision = op.header_revision;  // 0 (unknown) if not recorded
  return after;
}

// A get: the state must match every recorded output; an unknown mod_revision is refined.
void StepGet(const KeyState& s, const KeyOp& op, KeyStateSet* out) {
  if (op.outcome_unknown) {
    AddState(s, out);
    return;
  }
  if (op.found != s.exists()) return;
  if (!op.found) {
    AddState(s, out);
    return;
  }
  if (op.read_value_id != s.value_id) return;
  if (op.read_version != 0 && op.read_version != s.version) return;
  KeyState refined = s;
  if (op.read_mod_revision != 0) {
    if (s.mod_revision != kUnknownModRevision && s.mod_revision != op.read_mod_revision) return;
    refined.mod_revision = op.read_mod_revision;
  }
  AddState(refined, out);
}

void StepDelete(const KeyState& s, const KeyOp& op, KeyStateSet* out) {
  if (!op.outcome_unknown && op.deleted != s.exists()) return;
  AddState(KeyState{}, out);
}

// Whether the CAS compare holds in `s`: true, false, or (mod_revision unknown) either.
enum class Tristate { kFalse, kTrue, kEither };

Tristate CasCompare(const KeyState& s, const KeyOp& op) {
  switch (op.cas_target) {
    case CasTarget::kValue:
      return s.exists() && s.value_id == op.cas_expected_value_id ? Tristate::kTrue
                                                                  : Tristate::kFalse;
    case CasTarget::kVersion:
      return s.version == op.cas_expected_number ? Tristate::kTrue : Tristate::kFalse;
    case CasTarget::kModRevision:
      if (!s.exists()) return op.cas_expected_number == 0 ? Tristate::kTrue : Tristate::kFalse;
      if (s.mod_revision == kUnknownModRevision) return Tristate::kEither;
      return s.mod_revision == op.cas_expected_number ? Tristate::kTrue : Tristate::kFalse;
  }
  return Tristate::kFalse;
}

void StepCas(const KeyState& s, const KeyOp& op, KeyStateSet* out) {
  const Tristate holds = CasCompare(s, op);
  const bool may_succeed = holds != Tristate::kFalse && (op.outcome_unknown || op.cas_succeeded);
  const bool may_fail = holds != Tristate::kTrue && (op.outcome_unknown || !op.cas_succeeded);
  if (may_succeed) {
    KeyState before = s;
    // Succeeding on an unknown mod_revision teaches us what it was.
    if (holds == Tristate::kEither) before.mod_revision = op.cas_expected_number;
    AddState(Written(before, op), out);
  }
  if (may_fail) AddState(s, out);
}

}  // namespace

KeyStateSet StepKeyModel(const KeyStateSet& from, const KeyOp& op) {
  KEEL_CHECK(op.kind != OpKind::kRange);
  KeyStateSet out;
  for (const KeyState& s : from) {
    switch (op.kind) {
      case OpKind::kPut:
        AddState(Written(s, op), &out);
        break;
      case OpKind::kGet:
        StepGet(s, op, &out);
        break;
      case OpKind::kDelete:
        StepDelete(s, op, &out);
        break;
      case OpKind::kCas:
        StepCas(s, op, &out);
        break;
      case OpKind::kRange:
        break;
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string DescribeKeyStates(const KeyStateSet& states,
                              const std::vector<std::string>& values) {
  std::string out;
  for (const KeyState& s : states) {
    if (!out.empty()) absl::StrAppend(&out, " | ");
    if (!s.exists()) {
      absl::StrAppend(&out, "absent");
      continue;
    }
    KEEL_CHECK(static_cast<size_t>(s.value_id) < values.size());
    absl::StrAppendFormat(&out, "%s (version %d, mod_rev %s)", values[s.value_id], s.version,
                          s.mod_revision == kUnknownModRevision
                              ? std::string("unknown")
                              : absl::StrCat(s.mod_revision));
  }
  return out.empty() ? "no state" : out;
}

}  // namespace keel::sim::checkers
