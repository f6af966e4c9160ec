#include "sim/checkers/linearizability.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/check.h"
#include "sim/checkers/key_projection.h"
#include "sim/checkers/lowe_search.h"
#include "sim/checkers/revision_check.h"

namespace keel::sim::checkers {
namespace {

LinearizabilityResult FromViolation(Violation v) {
  LinearizabilityResult result;
  result.verdict = Verdict::kViolation;
  result.property = std::move(v.property);
  result.involved_ops = std::move(v.ops);
  result.explanation = std::move(v.message);
  return result;
}

std::vector<size_t> ToHistoryIndices(const KeySubHistory& sub,
                                     const std::vector<size_t>& positions) {
  std::vector<size_t> indices;
  indices.reserve(positions.size());
  for (size_t p : positions) indices.push_back(sub.ops[p].history_index);
  return indices;
}

// Spells out a failed key: the deepest linearizable prefix and the ops stuck after it.
std::string ExplainFailure(const History& history, const KeySubHistory& sub,
                           const KeySearchResult& search) {
  std::string out = absl::StrFormat(
      "key %s is not linearizable (%d operations on it). Longest linearizable prefix found "
      "(%d ops), in order:",
      sub.key, sub.ops.size(), search.longest_prefix.size());
  for (size_t p : search.longest_prefix) {
    absl::StrAppend(&out, "\n  ", DescribeOperation(history, sub.ops[p].history_index));
  }
  absl::StrAppend(&out, "\nthen the key is ",
                  DescribeKeyStates(search.state_after_prefix, sub.values),
                  ", and none of these pending operations can be linearized next:");
  for (size_t p : search.blocked) {
    absl::StrAppend(&out, "\n  ", DescribeOperation(history, sub.ops[p].history_index));
  }
  return out;
}

}  // namespace

LinearizabilityResult CheckLinearizability(const History& history,
                                           const LinearizabilityOptions& options) {
  KEEL_CHECK(options.max_search_steps > 0);
  if (options.revision_precheck) {
    if (std::optional<Violation> v = CheckRevisions(history)) return FromViolation(*v);
  }
  Projection projection = ProjectByKey(history);
  if (projection.malformed) return FromViolation(*projection.malformed);

  LinearizabilityResult result;
  std::string inconclusive_keys;
  for (const KeySubHistory& sub : projection.keys) {
    const int64_t budget_left = options.max_search_steps - result.search_steps;
    if (budget_left <= 0) {
      absl::StrAppend(&inconclusive_keys, inconclusive_keys.empty() ? "" : ", ", sub.key);
      continue;
    }
    KeySearchResult search = SearchKeyLinearization(sub.ops, budget_left);
    result.search_steps += search.steps;
    ++result.keys_checked;
    switch (search.outcome) {
      case SearchOutcome::kLinearizable:
        break;
      case SearchOutcome::kBudgetExhausted:
        absl::StrAppend(&inconclusive_keys, inconclusive_keys.empty() ? "" : ", ", sub.key);
        break;
      case SearchOutcome::kNotLinearizable:
        result.verdict = Verdict::kViolation;
        result.property = "linearizability";
        result.key = sub.key;
        result.involved_ops = ToHistoryIndices(sub, search.blocked);
        result.longest_prefix = ToHistoryIndices(sub, search.longest_prefix);
        result.explanation = ExplainFailure(history, sub, search);
        return result;
    }
  }
  if (!inconclusive_keys.empty()) {
    result.verdict = Verdict::kInconclusive;
    result.property = "budget";
    result.explanation = absl::StrFormat(
        "search budget of %d steps exhausted; not checked to the end: %s",
        options.max_search_steps, inconclusive_keys);
  }
  return result;
}

}  // namespace keel::sim::checkers
