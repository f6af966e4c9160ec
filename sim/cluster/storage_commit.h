// The commit index the Raft observer (runner.cc) reports over a member's storage while a
// received snapshot waits to be installed.
//
// Raft restores a received snapshot at once: its commit index jumps to the snapshot's and
// its own log becomes that snapshot alone, while storage still holds the entries the
// snapshot will replace until the server installs it. Raft then no longer says which of
// those entries are committed. What it said before the snapshot still holds, commitment
// being permanent: `claimed` are the entries Raft counted committed beyond its stable
// prefix at its last observation without a pending snapshot (entries whose write was in
// flight; a Ready's committed entries were all counted when the Ready was taken). Such a
// write may complete before the snapshot is installed: storage then holds those entries
// and the server applies the committed ones, so the commitment vouched for over storage
// must cover them too, exactly the ones storage holds as Raft committed them.
#ifndef KEEL_SIM_CLUSTER_STORAGE_COMMIT_H_
#define KEEL_SIM_CLUSTER_STORAGE_COMMIT_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "sim/checkers/raft_safety.h"

namespace keel::sim {

//
// The same write may also let the server apply those entries and take its own snapshot
// over them before the observer looks again (all in one simulated event, seed 18523):
// storage has then compacted them away. A claimed entry at or below storage's own
// snapshot index counts as held: the server compacts only entries it applied, which
// storage held durably first (and CheckApplied compares every applied entry's digest
// with every other member's).

// Extends `reported` (the commit index reported over storage before the snapshot arrived)
// over the storage entries reported + 1, reported + 2, ... as long as each is the entry
// `claimed` holds at its index (same term and digest) or storage compacted it into its
// snapshot at `compacted_through`. `claimed` is in index order; `storage_entry(i)` is
// storage's entry at i, nullopt if storage does not hold i.
template <typename StorageEntryFn>
uint64_t CommitOverClaimedEntries(uint64_t reported,
                                  const std::vector<checkers::EntryDigest>& claimed,
                                  uint64_t compacted_through, StorageEntryFn storage_entry) {
  uint64_t commit = reported;
  for (const checkers::EntryDigest& c : claimed) {
    if (c.index <= commit) continue;
    if (c.index != commit + 1) break;  // a gap: storage's entry there was never vouched for
    if (c.index > compacted_through) {
      const std::optional<checkers::EntryDigest> held = storage_entry(c.index);
      if (!held.has_value() || held->term != c.term || held->hash != c.hash) break;
    }
    commit = c.index;
  }
  return commit;
}

}  // namespace keel::sim

#endif  // KEEL_SIM_CLUSTER_STORAGE_COMMIT_H_
