#include "sim/checkers/raft_safety.h"

#include <string>

#include "gtest/gtest.h"

namespace keel::sim::checkers {
namespace {

constexpr RaftRole kLeader = RaftRole::kLeader;
constexpr RaftRole kFollower = RaftRole::kFollower;

RaftObservation Obs(uint64_t node, uint64_t term, RaftRole role, uint64_t commit,
                    uint64_t last_index, std::vector<EntryDigest> appended = {},
                    std::vector<EntryDigest> applied = {}) {
  RaftObservation o;
  o.node = node;
  o.term = term;
  o.role = role;
  o.leader_id = role == kLeader ? node : 0;
  o.commit_index = commit;
  o.last_index = last_index;
  o.appended = std::move(appended);
  o.applied = std::move(applied);
  return o;
}

std::string PropertyOf(const std::optional<Violation>& v) { return v ? v->property : "ok"; }

// Node 1 leads term 1, replicates entries 1 and 2 to nodes 2 and 3, commits and applies them.
void HealthyTerm1(RaftSafetyChecker& c) {
  const std::vector<EntryDigest> log = {{1, 1, 0xa1}, {2, 1, 0xa2}};
  ASSERT_EQ(PropertyOf(c.Observe(Obs(1, 1, kLeader, 0, 2, log))), "ok");
  ASSERT_EQ(PropertyOf(c.Observe(Obs(2, 1, kFollower, 0, 2, log))), "ok");
  ASSERT_EQ(PropertyOf(c.Observe(Obs(3, 1, kFollower, 0, 2, log))), "ok");
  ASSERT_EQ(PropertyOf(c.Observe(Obs(1, 1, kLeader, 2, 2, {}, log))), "ok");
  ASSERT_EQ(PropertyOf(c.Observe(Obs(2, 1, kFollower, 2, 2, {}, log))), "ok");
}

TEST(RaftSafety, HealthyRunPasses) {
  RaftSafetyChecker c;
  HealthyTerm1(c);
  // Node 2 wins term 2 with the full log and appends.
  EXPECT_EQ(PropertyOf(c.Observe(Obs(2, 2, kLeader, 2, 3, {{3, 2, 0xb3}}))), "ok");
  EXPECT_EQ(PropertyOf(c.Observe(Obs(3, 2, kFollower, 3, 3, {{3, 2, 0xb3}}, {{1, 1, 0xa1}}))),
            "ok");
  EXPECT_EQ(c.observations(), 7u);
}

TEST(RaftSafety, ElectionSafetyAtMostOneLeaderPerTerm) {
  RaftSafetyChecker c;
  HealthyTerm1(c);
  std::optional<Violation> v = c.Observe(Obs(3, 1, kLeader, 2, 2));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->property, "election-safety");
  EXPECT_NE(v->message.find("nodes 1 and 3"), std::string::npos) << v->message;
  // Sticky: later observations keep reporting the first violation.
  EXPECT_EQ(PropertyOf(c.Observe(Obs(3, 5, kFollower, 2, 2))), "election-safety");
}

// raft-forget-vote's signature: the two leaders of one term need not overlap. Node 1 leads
// term 2 and crashes (observed as follower, then down); node 2 wins the same term later.
TEST(RaftSafety, ElectionSafetyTwoLeadersOfOneTermThatNeverOverlap) {
  RaftSafetyChecker c;
  HealthyTerm1(c);
  ASSERT_EQ(PropertyOf(c.Observe(Obs(1, 2, kLeader, 2, 2))), "ok");
  ASSERT_EQ(PropertyOf(c.Observe(Obs(1, 2, kFollower, 2, 2))), "ok");
  ASSERT_EQ(PropertyOf(c.Observe(Obs(3, 2, kFollower, 2, 2))), "ok");
  std::optional<Violation> v = c.Observe(Obs(2, 2, kLeader, 2, 2));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->property, "election-safety");
  EXPECT_NE(v->message.find("term 2"), std::string::npos) << v->message;
}

TEST(RaftSafety, LeaderAppendOnlyNeverOverwritesOrDrops) {
  RaftSafetyChecker c;
  HealthyTerm1(c);
  EXPECT_EQ(PropertyOf(c.Observe(Obs(1, 1, kLeader, 2, 2, {{2, 1, 0xff}}))), "leader-append-only");

  RaftSafetyChecker d;
  HealthyTerm1(d);
  EXPECT_EQ(PropertyOf(d.Observe(Obs(1, 1, kLeader, 1, 1))), "leader-append-only");

  // A follower may have its uncommitted tail replaced.
  RaftSafetyChecker e;
  HealthyTerm1(e);
  EXPECT_EQ(PropertyOf(e.Observe(Obs(3, 1, kFollower, 2, 3, {{3, 1, 0xa3}}))), "ok");
}

TEST(RaftSafety, LogMatchingSameIndexAndTermMeansSamePrefix) {
  RaftSafetyChecker c;
  HealthyTerm1(c);
  // Node 4 holds (2, term 1) but a different entry at index 1.
  std::optional<Violation> v =
      c.Observe(Obs(4, 1, kFollower, 0, 2, {{1, 1, 0xee}, {2, 1, 0xa2}}));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->property, "log-matching");

  RaftSafetyChecker d;
  HealthyTerm1(d);
  EXPECT_EQ(PropertyOf(d.Observe(Obs(4, 1, kFollower, 0, 1, {{1, 1, 0xa1}}))), "ok");
  // Same index and term, different payload.
  EXPECT_EQ(PropertyOf(d.Observe(Obs(4, 1, kFollower, 0, 2, {{2, 1, 0xbad}}))), "log-matching");
}

TEST(RaftSafety, LeaderCompletenessCommittedEntriesInEveryLaterLeader) {
  RaftSafetyChecker c;
  HealthyTerm1(c);
  // Node 3 lost index 2 (say, an unsynced tail) and still became leader of term 2.
  ASSERT_EQ(PropertyOf(c.Observe(Obs(3, 2, kFollower, 1, 1))), "ok");
  std::optional<Violation> v = c.Observe(Obs(3, 2, kLeader, 1, 1));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->property, "leader-completeness");

  RaftSafetyChecker d;
  HealthyTerm1(d);
  // Same length, wrong content: index 2 replaced by a term-2 entry.
  ASSERT_EQ(PropertyOf(d.Observe(Obs(3, 2, kFollower, 1, 2, {{2, 2, 0xc2}}))), "ok");
  EXPECT_EQ(PropertyOf(d.Observe(Obs(3, 2, kLeader, 1, 2))), "leader-completeness");
}

TEST(RaftSafety, StaleLeaderOfAnOlderTermIsNotHeldToLaterCommits) {
  // Entry (1, term 2) from node 1 is committed only in term 4 by node 3. Node 2, leader of
  // term 3 without it, is still observed afterwards: legal, it can commit nothing.
  RaftSafetyChecker c;
  ASSERT_EQ(PropertyOf(c.Observe(Obs(1, 2, kLeader, 0, 1, {{1, 2, 0xa}}))), "ok");
  ASSERT_EQ(PropertyOf(c.Observe(Obs(3, 2, kFollower, 0, 1, {{1, 2, 0xa}}))), "ok");
  ASSERT_EQ(PropertyOf(c.Observe(Obs(2, 3, kLeader, 0, 1, {{1, 3, 0xb}}))), "ok");
  ASSERT_EQ(PropertyOf(c.Observe(Obs(3, 4, kLeader, 0, 2, {{2, 4, 0xc}}))), "ok");
  ASSERT_EQ(PropertyOf(c.Observe(Obs(1, 4, kFollower, 0, 2, {{2, 4, 0xc}}))), "ok");
  ASSERT_EQ(PropertyOf(c.Observe(Obs(3, 4, kLeader, 2, 2))), "ok");
  EXPECT_EQ(PropertyOf(c.Observe(Obs(2, 3, kLeader, 0, 1))), "ok");
  // But a leader of term 5 must have them.
  EXPECT_EQ(PropertyOf(c.Observe(Obs(2, 5, kLeader, 0, 1))), "leader-completeness");
}

TEST(RaftSafety, StateMachineSafetyNoTwoNodesApplyDifferentEntries) {
  RaftSafetyChecker c;
  HealthyTerm1(c);
  // Node 3 claims to apply a different entry at index 1.
  std::optional<Violation> v = c.Observe(Obs(3, 1, kFollower, 2, 2, {}, {{1, 1, 0xdead}}));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->property, "state-machine-safety");

  RaftSafetyChecker d;
  HealthyTerm1(d);
  // Applying beyond the commit index.
  EXPECT_EQ(PropertyOf(d.Observe(Obs(3, 1, kFollower, 1, 2, {}, {{1, 1, 0xa1}, {2, 1, 0xa2}}))),
            "state-machine-safety");
}

TEST(RaftSafety, CommittingADifferentEntryAtACommittedIndexIsCaught) {
  RaftSafetyChecker c;
  HealthyTerm1(c);
  ASSERT_EQ(PropertyOf(c.Observe(Obs(4, 2, kFollower, 0, 2, {{1, 1, 0xa1}, {2, 2, 0xf2}}))), "ok");
  EXPECT_EQ(PropertyOf(c.Observe(Obs(4, 2, kFollower, 2, 2))), "state-machine-safety");
}

TEST(RaftSafety, SnapshotsAnchorOnKnownEntries) {
  RaftSafetyChecker c;
  HealthyTerm1(c);
  // Node 3 compacts its log to a snapshot at 2; node 4 installs the same snapshot.
  RaftObservation compact = Obs(3, 1, kFollower, 2, 2);
  compact.snapshot_index = 2;
  compact.snapshot_term = 1;
  ASSERT_EQ(PropertyOf(c.Observe(compact)), "ok");
  RaftObservation install = Obs(4, 1, kFollower, 2, 2);
  install.snapshot_index = 2;
  install.snapshot_term = 1;
  ASSERT_EQ(PropertyOf(c.Observe(install)), "ok");
  install.appended = {{3, 1, 0xa3}};
  install.last_index = 3;
  ASSERT_EQ(PropertyOf(c.Observe(install)), "ok");
  // Its entry 3 chains from the snapshot's prefix, so a conflicting (3, term 1) elsewhere
  // is still caught.
  EXPECT_EQ(PropertyOf(c.Observe(Obs(1, 1, kLeader, 2, 3, {{3, 1, 0x33}}))), "log-matching");
}

// An unanchored log (installed from a snapshot whose entry no observed log held) that
// compacts to an entry it holds keeps the entries after it: the observer reports only what
// follows what it reported, so they are never sent again.
TEST(RaftSafety, CompactingAnUnanchoredLogKeepsItsEntries) {
  RaftSafetyChecker c;
  RaftObservation install = Obs(5, 3, kFollower, 0, 12, {{11, 3, 0xb1}, {12, 3, 0xb2}});
  install.snapshot_index = 10;
  install.snapshot_term = 3;
  ASSERT_EQ(PropertyOf(c.Observe(install)), "ok");
  RaftObservation compact = Obs(5, 3, kFollower, 0, 12);
  compact.snapshot_index = 11;
  compact.snapshot_term = 3;
  EXPECT_EQ(PropertyOf(c.Observe(compact)), "ok");
}

// When its new snapshot entry is known from another log, the compacted log anchors there
// and its kept entries take part in log matching again.
TEST(RaftSafety, CompactionAnchorsAnUnanchoredLogOnAKnownEntry) {
  RaftSafetyChecker c;
  HealthyTerm1(c);
  RaftObservation install = Obs(4, 1, kFollower, 0, 5, {{4, 1, 0xa4}, {5, 1, 0xa5}});
  install.snapshot_index = 3;  // (3, 1) not reported by anyone yet: unanchored
  install.snapshot_term = 1;
  ASSERT_EQ(PropertyOf(c.Observe(install)), "ok");
  ASSERT_EQ(PropertyOf(c.Observe(Obs(1, 1, kLeader, 2, 4, {{3, 1, 0xa3}, {4, 1, 0xa4}}))), "ok");
  RaftObservation compact = Obs(4, 1, kFollower, 0, 5);
  compact.snapshot_index = 4;
  compact.snapshot_term = 1;
  ASSERT_EQ(PropertyOf(c.Observe(compact)), "ok");
  // Node 4's entry (5, term 1) is chained from node 1's prefix at 4: a different (5, 1)
  // on node 1 breaks log matching.
  EXPECT_EQ(PropertyOf(c.Observe(Obs(1, 1, kLeader, 2, 5, {{5, 1, 0x55}}))), "log-matching");
}

TEST(RaftSafety, MalformedObservationsAreReported) {
  RaftSafetyChecker c;
  EXPECT_EQ(PropertyOf(c.Observe(Obs(1, 1, kFollower, 0, 2, {{2, 1, 0x1}}))), "malformed-observation");
  RaftSafetyChecker d;
  EXPECT_EQ(PropertyOf(d.Observe(Obs(1, 1, kFollower, 3, 1, {{1, 1, 0x1}}))), "malformed-observation");
}

}  // namespace
}  // namespace keel::sim::checkers
