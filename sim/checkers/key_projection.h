// Splits a History into one sub-history per key (P-compositionality), in the form the
// search works on: operations as KeyOps with values interned per key.
#ifndef KEEL_SIM_CHECKERS_KEY_PROJECTION_H_
#define KEEL_SIM_CHECKERS_KEY_PROJECTION_H_

#include <optional>
#include <string>
#include <vector>

#include "sim/checkers/history.h"
#include "sim/checkers/kv_model.h"
#include "sim/checkers/violation.h"

namespace keel::sim::checkers {

struct KeySubHistory {
  std::string key;
  std::vector<KeyOp> ops;           // in history order
  std::vector<std::string> values;  // value_id -> value
};

struct Projection {
  std::vector<KeySubHistory> keys;  // sorted by key
  // Set if the history is malformed in a way no projection can express (a range returning
  // a key outside the range, or the same key twice).
  std::optional<Violation> malformed;
};

// Drops failed operations and reads with unknown outcome (neither had any effect).
// Projects each kRange onto every key of the history inside it.
//
// Pins observed unknown writes: if an unknown-outcome write is the only write of its value
// to its key, and an acknowledged read returned that value (or a CAS on that value
// succeeded), the write took effect before that read completed. Every linearization of the
// history places it so; marking it `observed` with that completion time therefore loses no
// linearization, and spares the search from guessing where it went.
Projection ProjectByKey(const History& history);

}  // namespace keel::sim::checkers

#endif  // KEEL_SIM_CHECKERS_KEY_PROJECTION_H_
