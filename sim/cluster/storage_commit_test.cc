#include "sim/cluster/storage_commit.h"

#include <map>

#include "gtest/gtest.h"
#include "sim/checkers/raft_safety.h"

namespace keel::sim {
namespace {

using checkers::EntryDigest;

// Storage as a map index -> digest.
auto Storage(const std::map<uint64_t, EntryDigest>& held) {
  return [held](uint64_t i) -> std::optional<EntryDigest> {
    auto it = held.find(i);
    if (it == held.end()) return std::nullopt;
    return it->second;
  };
}

// keelsim seed 1478: a follower's write of entries 18300-18301 (committed, so the Ready
// also carries them to apply) is in flight; reported commit is 18299 (the stable prefix).
// A snapshot at 18320 arrives and Raft restores it. Then the write completes: storage
// holds 18300-18301 and the server applies them. The commitment over storage must cover
// them, or the checker sees "applied index 18300 beyond its commit index 18299".
TEST(StorageCommit, InFlightCommittedWriteCompletingBeforeTheSnapshotInstalls) {
  const std::vector<EntryDigest> claimed = {{18300, 7, 0xa0}, {18301, 7, 0xa1}, {18302, 7, 0xa2}};
  std::map<uint64_t, EntryDigest> storage = {{18299, {18299, 7, 0x99}}};
  // Before the write completes, storage holds nothing more to vouch for.
  EXPECT_EQ(CommitOverClaimedEntries(18299, claimed, 0, Storage(storage)), 18299u);
  storage[18300] = {18300, 7, 0xa0};
  storage[18301] = {18301, 7, 0xa1};
  EXPECT_EQ(CommitOverClaimedEntries(18299, claimed, 0, Storage(storage)), 18301u);
}

TEST(StorageCommit, NeverVouchesForAnEntryRaftDidNotCommitThere) {
  const std::vector<EntryDigest> claimed = {{11, 3, 0xb1}, {12, 3, 0xb2}};
  // Storage holds a different entry at 12 (another term, or the same term and other data):
  // commitment stops before it.
  EXPECT_EQ(CommitOverClaimedEntries(10, claimed, 0,
                                     Storage({{11, {11, 3, 0xb1}}, {12, {12, 2, 0xb2}}})),
            11u);
  EXPECT_EQ(CommitOverClaimedEntries(10, claimed, 0,
                                     Storage({{11, {11, 3, 0xb1}}, {12, {12, 3, 0xff}}})),
            11u);
  // Nothing claimed: what was reported.
  EXPECT_EQ(CommitOverClaimedEntries(10, {}, 0, Storage({{11, {11, 3, 0xb1}}})), 10u);
  // A claim that does not start right after the reported index vouches for nothing: the
  // entries in between were never counted committed over storage.
  EXPECT_EQ(CommitOverClaimedEntries(9, claimed, 0,
                                     Storage({{10, {10, 3, 0xb0}}, {11, {11, 3, 0xb1}}})),
            9u);
  // Claims at or below the reported index change nothing.
  EXPECT_EQ(CommitOverClaimedEntries(12, claimed, 0, Storage({})), 12u);
}

// keelsim seed 18523: a slow disk held a restarted follower's write of entries 6..39
// (committed) while a snapshot at 44 arrived. When the write completed, the server applied
// 6..38 and took its own snapshot at 38 (keeping 19.. for catch-up) in the same event:
// storage no longer holds 6..18 to compare, yet they were durably stored and applied.
TEST(StorageCommit, EntriesCompactedIntoTheMembersOwnSnapshotCountAsHeld) {
  std::vector<EntryDigest> claimed;
  std::map<uint64_t, EntryDigest> storage;
  for (uint64_t i = 6; i <= 44; ++i) claimed.push_back({i, 2, 0x100 + i});
  for (uint64_t i = 19; i <= 39; ++i) storage[i] = {i, 2, 0x100 + i};
  EXPECT_EQ(CommitOverClaimedEntries(5, claimed, 18, Storage(storage)), 39u);
  // Without the compaction, a missing entry still stops it; a mismatch after the
  // compacted prefix too.
  EXPECT_EQ(CommitOverClaimedEntries(5, claimed, 0, Storage(storage)), 5u);
  storage[25] = {25, 2, 0xbad};
  EXPECT_EQ(CommitOverClaimedEntries(5, claimed, 18, Storage(storage)), 24u);
}

// keelsim seed 30099: a follower's write of 62..65 (term 5, commit 64) was in flight when a
// term-6 leader replaced 65 alone. The write completed, storage holds 62..65 of term 5, and
// Raft's Advance could not mark them stable (its entry at 65 is now of term 6): Raft's
// stable prefix ends at 61. The observer extends it over the unstable committed entries
// storage holds identically (62..64), never over 65.
TEST(StorageCommit, StablePrefixExtendsOverUnstableEntriesStorageHoldsIdentically) {
  const std::vector<EntryDigest> unstable_committed = {{62, 5, 0x62}, {63, 5, 0x63}, {64, 5, 0x64}};
  std::map<uint64_t, EntryDigest> storage = {{61, {61, 5, 0x61}}, {62, {62, 5, 0x62}},
                                             {63, {63, 5, 0x63}}, {64, {64, 5, 0x64}},
                                             {65, {65, 5, 0x65}}};
  EXPECT_EQ(CommitOverClaimedEntries(61, unstable_committed, 0, Storage(storage)), 64u);
  // Before the write completes storage holds none of them: the stable prefix it is.
  storage.erase(62);
  storage.erase(63);
  storage.erase(64);
  EXPECT_EQ(CommitOverClaimedEntries(61, unstable_committed, 0, Storage(storage)), 61u);
}

}  // namespace
}  // namespace keel::sim
