// Unit tests of the building blocks: MemoryStorage, the unstable tail and RaftLog, quorum
// arithmetic, the inflights window, Progress state transitions and conf-change restore.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "raft/confchange.h"
#include "raft/entry_util.h"
#include "raft/errors.h"
#include "raft/inflights.h"
#include "raft/log_unstable.h"
#include "raft/progress.h"
#include "raft/quorum.h"
#include "raft/raft_log.h"
#include "raft/storage.h"
#include "raft/testing/test_util.h"

namespace keel::raft {
namespace {

using testing::MakeEntry;

std::vector<raftpb::Entry> Ents(std::vector<std::pair<uint64_t, uint64_t>> index_terms) {
  std::vector<raftpb::Entry> out;
  for (const auto& [i, t] : index_terms) out.push_back(MakeEntry(i, t));
  return out;
}

std::vector<uint64_t> Indexes(const std::vector<raftpb::Entry>& es) {
  std::vector<uint64_t> out;
  for (const auto& e : es) out.push_back(e.index());
  return out;
}

// A storage holding a snapshot at 3 (term 3) and entries 4, 5 (terms 4, 5).
MemoryStorage Compacted345() {
  MemoryStorage s;
  EXPECT_TRUE(s.Append(Ents({{1, 1}, {2, 2}, {3, 3}, {4, 4}, {5, 5}})).ok());
  EXPECT_TRUE(s.CreateSnapshot(3, nullptr, "").ok());
  EXPECT_TRUE(s.Compact(3).ok());
  return s;
}

// ---- MemoryStorage ----

TEST(MemoryStorage, TermAcrossCompactionBoundary) {
  MemoryStorage s = Compacted345();
  EXPECT_TRUE(IsErrCompacted(s.Term(2).status()));
  EXPECT_EQ(*s.Term(3), 3u);  // The snapshot's last entry remains answerable.
  EXPECT_EQ(*s.Term(5), 5u);
  EXPECT_TRUE(IsErrUnavailable(s.Term(6).status()));
  EXPECT_EQ(*s.FirstIndex(), 4u);
  EXPECT_EQ(*s.LastIndex(), 5u);
}

TEST(MemoryStorage, EntriesRespectsBoundsAndSizeLimit) {
  MemoryStorage s = Compacted345();
  EXPECT_TRUE(IsErrCompacted(s.Entries(3, 5, kNoLimit).status()));
  EXPECT_EQ(Indexes(*s.Entries(4, 6, kNoLimit)), (std::vector<uint64_t>{4, 5}));
  // A limit smaller than one entry still returns one entry.
  EXPECT_EQ(Indexes(*s.Entries(4, 6, 0)), (std::vector<uint64_t>{4}));
  EXPECT_FALSE(s.Entries(4, 7, kNoLimit).ok());
}

TEST(MemoryStorage, AppendTruncatesConflictsAndIgnoresCompacted) {
  MemoryStorage s = Compacted345();
  ASSERT_TRUE(s.Append(Ents({{2, 2}, {3, 3}, {4, 6}})).ok());  // 2, 3 compacted; 4 replaced.
  EXPECT_EQ(*s.LastIndex(), 4u);
  EXPECT_EQ(*s.Term(4), 6u);
  ASSERT_TRUE(s.Append(Ents({{5, 6}, {6, 6}})).ok());
  EXPECT_EQ(*s.LastIndex(), 6u);
  EXPECT_FALSE(s.Append(Ents({{9, 6}})).ok());  // A gap.
}

TEST(MemoryStorage, CompactAndSnapshotErrors) {
  MemoryStorage s = Compacted345();
  EXPECT_TRUE(IsErrCompacted(s.Compact(3)));
  EXPECT_FALSE(s.Compact(9).ok());
  EXPECT_TRUE(IsErrSnapOutOfDate(s.CreateSnapshot(3, nullptr, "").status()));
  raftpb::Snapshot old;
  old.mutable_metadata()->set_index(2);
  EXPECT_TRUE(IsErrSnapOutOfDate(s.ApplySnapshot(old)));
  raftpb::Snapshot newer;
  newer.mutable_metadata()->set_index(10);
  newer.mutable_metadata()->set_term(7);
  ASSERT_TRUE(s.ApplySnapshot(newer).ok());
  EXPECT_EQ(*s.FirstIndex(), 11u);
  EXPECT_EQ(*s.LastIndex(), 10u);
  EXPECT_EQ(*s.Term(10), 7u);
}

TEST(Errors, EachKindHasItsOwnCode) {
  const std::vector<absl::Status> all = {ErrCompacted(), ErrUnavailable(), ErrSnapOutOfDate(),
                                         ErrSnapshotTemporarilyUnavailable(),
                                         ErrProposalDropped("x"), ErrStepPeerNotFound(),
                                         ErrStepLocalMsg()};
  for (size_t i = 0; i < all.size(); ++i) {
    for (size_t j = i + 1; j < all.size(); ++j) EXPECT_NE(all[i].code(), all[j].code());
  }
  EXPECT_NE(ErrProposalDropped("no leader").message().find("no leader"), std::string::npos);
}

// ---- Unstable log and RaftLog ----

TEST(UnstableLog, StableToIgnoresReplacedEntries) {
  UnstableLog u(5);
  u.TruncateAndAppend(Ents({{5, 1}, {6, 1}}));
  u.TruncateAndAppend(Ents({{6, 2}}));  // Replaced while a write of (6, 1) was in flight.
  u.StableTo(6, 1);
  EXPECT_EQ(u.entries().size(), 2u);
  u.StableTo(5, 1);
  EXPECT_EQ(Indexes(u.entries()), (std::vector<uint64_t>{6}));
  EXPECT_EQ(u.offset(), 6u);
}

TEST(UnstableLog, TruncateBeforeOffsetReanchors) {
  UnstableLog u(5);
  u.TruncateAndAppend(Ents({{5, 1}, {6, 1}}));
  u.TruncateAndAppend(Ents({{4, 2}}));
  EXPECT_EQ(u.offset(), 4u);
  EXPECT_EQ(Indexes(u.entries()), (std::vector<uint64_t>{4}));
}

TEST(RaftLog, FindConflict) {
  MemoryStorage s;
  RaftLog log(&s, kNoLimit);
  log.Append(Ents({{1, 1}, {2, 2}, {3, 3}}));
  EXPECT_EQ(log.FindConflict(Ents({{1, 1}, {2, 2}})), 0u);
  EXPECT_EQ(log.FindConflict(Ents({{2, 2}, {3, 3}, {4, 4}})), 4u);
  EXPECT_EQ(log.FindConflict(Ents({{2, 1}, {3, 4}})), 2u);
}

TEST(RaftLog, FindConflictByTermSkipsHigherTerms) {
  MemoryStorage s;
  RaftLog log(&s, kNoLimit);
  log.Append(Ents({{1, 1}, {2, 2}, {3, 2}, {4, 5}, {5, 5}}));
  EXPECT_EQ(log.FindConflictByTerm(5, 3), 3u);
  EXPECT_EQ(log.FindConflictByTerm(5, 1), 1u);
  EXPECT_EQ(log.FindConflictByTerm(5, 5), 5u);
  EXPECT_EQ(log.FindConflictByTerm(9, 1), 9u);  // Beyond our log: nothing to say.
}

TEST(RaftLog, MaybeAppendChecksPreviousEntryAndCommits) {
  MemoryStorage s;
  RaftLog log(&s, kNoLimit);
  log.Append(Ents({{1, 1}, {2, 2}, {3, 3}}));
  EXPECT_FALSE(log.MaybeAppend(3, 2, 3, Ents({{4, 4}})).has_value());  // Term mismatch.
  auto last = log.MaybeAppend(3, 3, 10, Ents({{4, 4}}));
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(*last, 4u);
  EXPECT_EQ(log.committed(), 4u);  // min(leader commit, last new entry).
  EXPECT_EQ(log.LastIndex(), 4u);
}

TEST(RaftLog, IsUpToDateComparesTermThenIndex) {
  MemoryStorage s;
  RaftLog log(&s, kNoLimit);
  log.Append(Ents({{1, 1}, {2, 2}, {3, 3}}));
  EXPECT_TRUE(log.IsUpToDate(1, 4));
  EXPECT_TRUE(log.IsUpToDate(3, 3));
  EXPECT_TRUE(log.IsUpToDate(4, 3));
  EXPECT_FALSE(log.IsUpToDate(2, 3));
  EXPECT_FALSE(log.IsUpToDate(9, 2));
}

TEST(RaftLog, SliceSpansStorageAndUnstableWithLimit) {
  MemoryStorage s;
  ASSERT_TRUE(s.Append(Ents({{1, 1}, {2, 1}})).ok());
  RaftLog log(&s, kNoLimit);
  log.Append(Ents({{3, 1}, {4, 1}}));
  EXPECT_EQ(Indexes(*log.Slice(1, 5, kNoLimit)), (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(Indexes(*log.Slice(2, 4, kNoLimit)), (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(Indexes(*log.Slice(1, 5, 2 * EntrySizeBytes(MakeEntry(1, 1)))),
            (std::vector<uint64_t>{1, 2}));
}

TEST(RaftLog, CommittedEntriesAreBoundedBySize) {
  MemoryStorage s;
  RaftLog log(&s, 1);  // At most one entry per Ready.
  log.Append(Ents({{1, 1}, {2, 1}, {3, 1}}));
  log.CommitTo(3);
  EXPECT_EQ(Indexes(log.NextCommittedEntries()), (std::vector<uint64_t>{1}));
  log.AppliedTo(1);
  EXPECT_EQ(Indexes(log.NextCommittedEntries()), (std::vector<uint64_t>{2}));
}

TEST(RaftLog, MaybeCommitOnlyCurrentTerm) {
  MemoryStorage s;
  RaftLog log(&s, kNoLimit);
  log.Append(Ents({{1, 1}, {2, 2}}));
  EXPECT_FALSE(log.MaybeCommit(2, 3));
  EXPECT_TRUE(log.MaybeCommit(2, 2));
  EXPECT_EQ(log.committed(), 2u);
  EXPECT_FALSE(log.MaybeCommit(1, 2));  // Never backwards.
}

TEST(RaftLog, RestoreReplacesLog) {
  MemoryStorage s;
  RaftLog log(&s, kNoLimit);
  log.Append(Ents({{1, 1}}));
  raftpb::Snapshot snap;
  snap.mutable_metadata()->set_index(10);
  snap.mutable_metadata()->set_term(3);
  log.Restore(snap);
  EXPECT_EQ(log.committed(), 10u);
  EXPECT_EQ(log.FirstIndex(), 11u);
  EXPECT_EQ(log.LastIndex(), 10u);
  EXPECT_EQ(log.LastTerm(), 3u);
  EXPECT_TRUE(IsErrCompacted(log.Term(9).status()));
}

// ---- Quorum ----

TEST(Quorum, MajorityCommittedIndex) {
  std::map<uint64_t, uint64_t> acked = {{1, 5}, {2, 3}, {3, 9}};
  auto fn = [&](uint64_t id) -> std::optional<uint64_t> {
    auto it = acked.find(id);
    if (it == acked.end()) return std::nullopt;
    return it->second;
  };
  EXPECT_EQ(MajorityConfig({1, 2, 3}).CommittedIndex(fn), 5u);
  EXPECT_EQ(MajorityConfig({1, 2, 3, 4}).CommittedIndex(fn), 3u);  // 4 unknown counts as 0.
  EXPECT_EQ(MajorityConfig({1}).CommittedIndex(fn), 5u);
  EXPECT_EQ(MajorityConfig().CommittedIndex(fn), kNoLimit);
  JointConfig joint{MajorityConfig({1, 2, 3}), MajorityConfig({2, 4})};
  EXPECT_EQ(joint.CommittedIndex(fn), 0u);  // The outgoing half holds it back.
}

TEST(Quorum, VoteResults) {
  MajorityConfig c({1, 2, 3});
  EXPECT_EQ(c.Vote({}), VoteResult::kPending);
  EXPECT_EQ(c.Vote({{1, true}, {2, true}}), VoteResult::kWon);
  EXPECT_EQ(c.Vote({{1, true}, {2, false}}), VoteResult::kPending);
  EXPECT_EQ(c.Vote({{1, false}, {2, false}}), VoteResult::kLost);
  EXPECT_EQ(MajorityConfig().Vote({}), VoteResult::kWon);
  JointConfig j{MajorityConfig({1, 2, 3}), MajorityConfig({3, 4, 5})};
  EXPECT_EQ(j.Vote({{1, true}, {2, true}}), VoteResult::kPending);
  EXPECT_EQ(j.Vote({{1, true}, {2, true}, {4, false}, {5, false}}), VoteResult::kLost);
  EXPECT_EQ(j.Vote({{1, true}, {3, true}, {4, true}}), VoteResult::kWon);
}

// ---- Inflights and Progress ----

TEST(Inflights, CountAndByteLimits) {
  Inflights in(3, kNoLimit);
  in.Add(1, 10);
  in.Add(2, 10);
  EXPECT_FALSE(in.Full());
  in.Add(3, 10);
  EXPECT_TRUE(in.Full());
  in.FreeLE(2);
  EXPECT_EQ(in.Count(), 1u);
  EXPECT_EQ(in.Bytes(), 10u);
  in.Add(4, 1);
  in.Add(5, 1);  // Wraps around the ring.
  EXPECT_TRUE(in.Full());
  in.FreeFirstOne();
  EXPECT_EQ(in.Count(), 2u);
  in.FreeLE(100);
  EXPECT_EQ(in.Count(), 0u);

  Inflights bytes(100, 25);
  bytes.Add(1, 10);
  bytes.Add(2, 10);
  EXPECT_FALSE(bytes.Full());
  bytes.Add(3, 10);
  EXPECT_TRUE(bytes.Full());
}

TEST(Progress, ProbeReplicateSnapshotTransitions) {
  Progress pr(5, 4, kNoLimit, false);
  EXPECT_EQ(pr.state, ProgressState::kProbe);
  pr.probe_sent = true;
  EXPECT_TRUE(pr.IsPaused());
  EXPECT_TRUE(pr.MaybeUpdate(4));
  EXPECT_FALSE(pr.probe_sent);
  pr.BecomeReplicate();
  EXPECT_EQ(pr.next, 5u);
  pr.OptimisticUpdate(9);
  EXPECT_EQ(pr.next, 10u);
  // A stale rejection (at or below match) is ignored; a real one resets next.
  EXPECT_FALSE(pr.MaybeDecrTo(3, 0));
  EXPECT_TRUE(pr.MaybeDecrTo(8, 0));
  EXPECT_EQ(pr.next, 5u);
  pr.BecomeSnapshot(20);
  EXPECT_TRUE(pr.IsPaused());
  pr.BecomeProbe();
  EXPECT_EQ(pr.next, 21u);
}

TEST(Progress, ProbeRejectionUsesHintButNeverGoesBelowMatch) {
  Progress pr(10, 4, kNoLimit, false);
  pr.match = 3;
  EXPECT_FALSE(pr.MaybeDecrTo(5, 1));  // Not our outstanding probe (next-1 = 9).
  EXPECT_TRUE(pr.MaybeDecrTo(9, 6));
  EXPECT_EQ(pr.next, 7u);
  EXPECT_TRUE(pr.MaybeDecrTo(6, 0));
  EXPECT_EQ(pr.next, 4u);  // match + 1.
}

// ---- Conf change restore ----

TEST(ConfChange, RestoreRoundTripsJointConfState) {
  raftpb::ConfState cs;
  for (uint64_t v : {1, 2, 3}) cs.add_voters(v);
  cs.add_learners(5);
  for (uint64_t v : {1, 2, 4, 6}) cs.add_voters_outgoing(v);
  cs.add_learners_next(4);
  cs.set_auto_leave(true);
  ProgressTracker empty(16, kNoLimit);
  auto cp = RestoreConfState(empty, 10, cs);
  ASSERT_TRUE(cp.ok()) << cp.status();
  ProgressTracker t(16, kNoLimit);
  t.config = cp->config;
  t.progress = cp->progress;
  EXPECT_TRUE(ConfStatesEquivalent(t.ConfState(), cs));
  EXPECT_TRUE(CheckConfigInvariants(*cp).ok());
}

TEST(ConfChange, V1AndV2Helpers) {
  raftpb::ConfChange v1;
  v1.set_type(raftpb::ConfChangeAddLearnerNode);
  v1.set_node_id(7);
  raftpb::ConfChangeV2 v2 = ConfChangeAsV2(v1);
  ASSERT_EQ(v2.changes_size(), 1);
  EXPECT_EQ(v2.changes(0).node_id(), 7u);
  EXPECT_FALSE(ConfChangeEntersJoint(v2).has_value());
  EXPECT_FALSE(ConfChangeLeavesJoint(v2));
  EXPECT_TRUE(ConfChangeLeavesJoint(raftpb::ConfChangeV2()));
  v2.add_changes()->set_node_id(8);
  EXPECT_EQ(ConfChangeEntersJoint(v2), std::optional<bool>(true));
  v2.set_transition(raftpb::ConfChangeTransitionJointExplicit);
  EXPECT_EQ(ConfChangeEntersJoint(v2), std::optional<bool>(false));
}

}  // namespace
}  // namespace keel::raft
