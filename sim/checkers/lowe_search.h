// The linearizability search for ONE key's sub-history: Wing & Gong's algorithm with Lowe's
// memoization, as in Porcupine's checker.go (see linearizability.h for the idea).
#ifndef KEEL_SIM_CHECKERS_LOWE_SEARCH_H_
#define KEEL_SIM_CHECKERS_LOWE_SEARCH_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "sim/checkers/kv_model.h"

namespace keel::sim::checkers {

enum class SearchOutcome { kLinearizable, kNotLinearizable, kBudgetExhausted };

struct KeySearchResult {
  SearchOutcome outcome = SearchOutcome::kLinearizable;
  int64_t steps = 0;
  // Only for kNotLinearizable: positions in `ops` (not history indices).
  std::vector<size_t> longest_prefix;  // in linearization order
  std::vector<size_t> blocked;         // pending ops none of which could extend it
  KeyStateSet state_after_prefix;
};

// Searches for a linearization of `ops` starting from the absent key. Stops after
// `max_steps` loop iterations with kBudgetExhausted.
KeySearchResult SearchKeyLinearization(const std::vector<KeyOp>& ops, int64_t max_steps);

}  // namespace keel::sim::checkers

#endif  // KEEL_SIM_CHECKERS_LOWE_SEARCH_H_
