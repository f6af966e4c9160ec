// Fast checks of a history against etcd's revision semantics, O(n log n).
//
// etcd numbers every write that changes the store with the next revision, and every response
// carries the revision it observed (see history.h). That gives facts a search over values
// alone cannot see, and they are cheap to check. For acknowledged operations with recorded
// revisions this catches:
//   - "duplicate-revision": two acknowledged writes that changed the store share a revision.
//   - "revision-real-time": an operation that started after another completed observed an
//     older revision (a read going back in time), or a write that started after another
//     operation completed got a revision not greater than what that operation saw.
//   - "read-future-revision": a read returned a key whose mod_revision exceeds the read's
//     own header revision.
//   - "read-wrong-write": a read returned mod_revision r, but the acknowledged write at r
//     was to another key, was a delete, or wrote another value.
//   - "read-never-written": a read returned a value at a revision no write could have
//     produced (no acknowledged write at r, and no unrecorded/unknown write of that value).
//   - "stale-read": a read at header revision h missed an acknowledged write to the key
//     with a revision in (its mod_revision, h] (or, for not-found, a later put that no
//     unknown delete could explain).
// Applied to each key of a multi-key Range result, these also check that the range was an
// atomic snapshot at its revision, which the per-key search (linearizability.h) cannot.
// They never report a linearizable etcd history as broken: every fact used is one etcd
// guarantees for linearizable requests.
#ifndef KEEL_SIM_CHECKERS_REVISION_CHECK_H_
#define KEEL_SIM_CHECKERS_REVISION_CHECK_H_

#include <optional>

#include "sim/checkers/history.h"
#include "sim/checkers/violation.h"

namespace keel::sim::checkers {

// The first violation found, or nullopt. Ignores operations without recorded revisions.
std::optional<Violation> CheckRevisions(const History& history);

}  // namespace keel::sim::checkers

#endif  // KEEL_SIM_CHECKERS_REVISION_CHECK_H_
