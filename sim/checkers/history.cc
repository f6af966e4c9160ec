#include "sim/checkers/history.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/check.h"

namespace keel::sim::checkers {

bool IsEffectiveWrite(const Operation& op) {
  KEEL_CHECK(op.outcome == Outcome::kOk);
  switch (op.kind) {
    case OpKind::kPut:
      return true;
    case OpKind::kDelete:
      return op.deleted;
    case OpKind::kCas:
      return op.cas_succeeded;
    case OpKind::kGet:
    case OpKind::kRange:
      return false;
  }
  return false;
}

bool IsWriteKind(OpKind kind) {
  return kind == OpKind::kPut || kind == OpKind::kDelete || kind == OpKind::kCas;
}

namespace {

std::string DescribeInput(const Operation& op) {
  switch (op.kind) {
    case OpKind::kPut:
      return absl::StrFormat("put(%s, %s)", op.key, op.value);
    case OpKind::kGet:
      return absl::StrFormat("get(%s)", op.key);
    case OpKind::kDelete:
      return absl::StrFormat("delete(%s)", op.key);
    case OpKind::kRange:
      return absl::StrFormat("range[%s, %s)", op.key, op.range_end);
    case OpKind::kCas: {
      std::string expected;
      switch (op.cas_target) {
        case CasTarget::kValue:
          expected = absl::StrCat("value==", op.cas_expected_value);
          break;
        case CasTarget::kVersion:
          expected = absl::StrCat("version==", op.cas_expected_number);
          break;
        case CasTarget::kModRevision:
          expected = absl::StrCat("mod_revision==", op.cas_expected_number);
          break;
      }
      return absl::StrFormat("cas(%s if %s then put %s)", op.key, expected, op.value);
    }
  }
  return "?";
}

std::string DescribeOutput(const Operation& op) {
  if (op.outcome == Outcome::kFailed) return "failed";
  if (op.outcome == Outcome::kUnknown) return "unknown";
  std::string out = "ok";
  switch (op.kind) {
    case OpKind::kGet:
      if (op.found) {
        absl::StrAppendFormat(&out, " %s (mod_rev %d)", op.read_value, op.read_mod_revision);
      } else {
        absl::StrAppend(&out, " not-found");
      }
      break;
    case OpKind::kDelete:
      absl::StrAppend(&out, op.deleted ? " deleted" : " nothing-deleted");
      break;
    case OpKind::kCas:
      absl::StrAppend(&out, op.cas_succeeded ? " succeeded" : " not-succeeded");
      break;
    case OpKind::kRange:
      absl::StrAppend(&out, " {");
      for (const KeyValue& kv : op.range_result) {
        absl::StrAppendFormat(&out, " %s=%s@%d", kv.key, kv.value, kv.mod_revision);
      }
      absl::StrAppend(&out, " }");
      break;
    case OpKind::kPut:
      break;
  }
  absl::StrAppendFormat(&out, " rev %d", op.header_revision);
  return out;
}

}  // namespace

std::string DescribeOperation(const History& history, size_t index) {
  KEEL_CHECK(index < history.size());
  const Operation& op = history[index];
  std::string end = op.outcome == Outcome::kUnknown ? std::string("inf")
                                                    : absl::StrCat(op.complete_ns);
  return absl::StrFormat("#%d client %d %s -> %s [%d, %s]", index, op.client_id,
                         DescribeInput(op), DescribeOutput(op), op.invoke_ns, end);
}

}  // namespace keel::sim::checkers
