// Linearizability of a client history against etcd's key-value semantics.
//
// Two stages:
//  1. CheckRevisions (revision_check.h): O(n log n) checks of etcd's revision facts. Catches
//     revision order vs real time, duplicate revisions, reads of the wrong/never-written write,
//     stale reads, and non-atomic multi-key ranges, with a short, precise message.
//  2. A search for a linearization, one key at a time (linearizability is P-compositional),
//     with Wing & Gong's algorithm as improved by Lowe and implemented in Porcupine
//     (anishathalye/porcupine, checker.go): call/return entries in a doubly linked list
//     sorted by time; repeatedly try to linearize a pending call whose model step is legal,
//     lifting it out of the list; on reaching a return whose call was not linearized,
//     backtrack. Every (set of linearized ops as a bitset, model state) reached is memoized
//     so a configuration is never explored twice. This is the authority on linearizability:
//     it needs no revisions at all (it uses them only as mod_revision values when recorded).
//
// Operations with unknown outcome complete at +infinity and their outputs are unconstrained,
// so the search may linearize them anywhere after their invocation. "Never took effect" is
// the same as "took effect after everything else": nothing observes it. The search therefore
// succeeds as soon as every operation with a known completion is linearized.
//
// Multi-key Range: each key in [key, range_end) that appears anywhere in the history becomes
// a single-key get on that key's sub-history (found or not found per the result). This is
// sound (a linearization of the whole history projects to one of each key) but forgets that
// the keys were read atomically; stage 1 checks that atomicity through the revision.
//
// Both stages assume the history starts from an empty store and contains every write to the
// keys it touches (no lease expiry deleting them, no other writers).
//
// Never a false OK: if the step budget runs out the verdict is kInconclusive.
#ifndef KEEL_SIM_CHECKERS_LINEARIZABILITY_H_
#define KEEL_SIM_CHECKERS_LINEARIZABILITY_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "sim/checkers/history.h"

namespace keel::sim::checkers {

struct LinearizabilityOptions {
  bool revision_precheck = true;
  // Budget over all keys of the search loop's iterations (each tries one entry).
  int64_t max_search_steps = 200'000'000;
};

enum class Verdict { kOk, kViolation, kInconclusive };

struct LinearizabilityResult {
  Verdict verdict = Verdict::kOk;
  // The property broken: a revision_check.h name, "linearizability" (search found no
  // linearization), "range-key-outside-range"; or "budget" when inconclusive.
  std::string property;
  std::string key;  // the key whose sub-history failed (search only)
  // The operations that could not be linearized next (history indices).
  std::vector<size_t> involved_ops;
  // The longest linearizable prefix of the key's sub-history found, in linearization order.
  std::vector<size_t> longest_prefix;
  std::string explanation;  // human-readable; lists the operations
  int64_t search_steps = 0;
  size_t keys_checked = 0;
};

LinearizabilityResult CheckLinearizability(const History& history,
                                           const LinearizabilityOptions& options = {});

}  // namespace keel::sim::checkers

#endif  // KEEL_SIM_CHECKERS_LINEARIZABILITY_H_
