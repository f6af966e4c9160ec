// The sequential specification of ONE etcd key, used by the linearizability search.
//
// Linearizability is P-compositional (Herlihy & Wing): a history is linearizable iff each
// key's sub-history is. So the search runs one key at a time on KeyOps, which are the
// history's operations projected onto that key, with values interned to small integers so a
// state is a few machine words and cheap to hash and memoize.
//
// The model is nondeterministic in one place: after a write whose outcome is unknown, the
// key's mod_revision is unknown (we never saw that write's revision). A later read that
// reports a mod_revision refines it; a CAS on mod_revision whose own outcome is unknown may go
// either way. So a model "state" is a small set of KeyStates (the powerset construction that
// Porcupine uses for nondeterministic models).
#ifndef KEEL_SIM_CHECKERS_KV_MODEL_H_
#define KEEL_SIM_CHECKERS_KV_MODEL_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "sim/checkers/history.h"

namespace keel::sim::checkers {

inline constexpr int32_t kAbsentValueId = -1;
inline constexpr int64_t kUnknownModRevision = 0;

struct KeyState {
  int32_t value_id = kAbsentValueId;           // kAbsentValueId: key does not exist
  int64_t version = 0;                         // 0 when absent
  int64_t mod_revision = kUnknownModRevision;  // kUnknownModRevision when absent or unknown

  bool exists() const { return value_id != kAbsentValueId; }
  friend bool operator==(const KeyState& a, const KeyState& b) {
    return a.value_id == b.value_id && a.version == b.version &&
           a.mod_revision == b.mod_revision;
  }
  friend bool operator<(const KeyState& a, const KeyState& b) {
    if (a.value_id != b.value_id) return a.value_id < b.value_id;
    if (a.version != b.version) return a.version < b.version;
    return a.mod_revision < b.mod_revision;
  }
};

// Sorted, duplicate-free. Empty means "no legal state": the operation cannot go here.
using KeyStateSet = absl::InlinedVector<KeyState, 2>;

// A history operation projected onto one key. Range operations become a get per key.
struct KeyOp {
  size_t history_index = 0;
  OpKind kind = OpKind::kGet;  // never kRange
  bool outcome_unknown = false;  // outputs unconstrained, completes at +infinity
  // An unknown-outcome write that certainly took effect: a read saw the value only it wrote.
  // Its complete_ns is then that read's completion (see key_projection.h).
  bool observed = false;
  // For observed unknown writes: the mod_revision a read reported for its value (0 = none).
  // Only orders the search; never affects its verdict.
  int64_t inferred_revision = 0;
  int64_t invoke_ns = 0;
  int64_t complete_ns = 0;

  int32_t write_value_id = kAbsentValueId;  // kPut, kCas
  int64_t header_revision = 0;              // 0 = not recorded
  CasTarget cas_target = CasTarget::kValue;
  int32_t cas_expected_value_id = kAbsentValueId;
  int64_t cas_expected_number = 0;

  bool found = false;             // kGet
  int32_t read_value_id = kAbsentValueId;
  int64_t read_mod_revision = 0;  // 0 = not recorded
  int64_t read_version = 0;       // 0 = not recorded
  bool deleted = false;           // kDelete
  bool cas_succeeded = false;     // kCas
};

// Every state reachable by applying `op` to some state in `from` that agrees with op's
// recorded output. Returns the empty set if none does.
KeyStateSet StepKeyModel(const KeyStateSet& from, const KeyOp& op);

// "absent" or "value#3 version 2 mod_rev 17" with the value spelled out via `values`.
std::string DescribeKeyStates(const KeyStateSet& states, const std::vector<std::string>& values);

}  // namespace keel::sim::checkers

#endif  // KEEL_SIM_CHECKERS_KV_MODEL_H_
