// Behaviour of the Wal on a fault-free simulated disk: replay, group commit, truncation
// semantics, segment cuts, snapshot markers, segment removal, refusal rules.
#include "storage/wal.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "storage/file_util.h"
#include "storage/testing/sim_fs.h"

namespace keel::storage {
namespace {

using testing::Completions;
using testing::MakeEntry;
using testing::MakeHardState;
using testing::SimFs;

constexpr char kDir[] = "/wal";

std::vector<uint64_t> Indexes(const std::vector<raftpb::Entry>& entries) {
  std::vector<uint64_t> out;
  for (const raftpb::Entry& e : entries) out.push_back(e.index());
  return out;
}

std::vector<uint64_t> Range(uint64_t first, uint64_t last) {
  std::vector<uint64_t> out;
  for (uint64_t i = first; i <= last; ++i) out.push_back(i);
  return out;
}

class WalTest : public ::testing::Test {
 protected:
  std::unique_ptr<Wal> CreateWal(WalOptions options = {}) {
    absl::StatusOr<std::unique_ptr<Wal>> wal = Wal::Create(sim_.fs(), kDir, "meta", options);
    EXPECT_TRUE(wal.ok()) << wal.status();
    return wal.ok() ? *std::move(wal) : nullptr;
  }

  // Saves and waits; returns the callback's status.
  absl::Status SaveAndWait(Wal* wal, const raftpb::HardState& hs,
                           const std::vector<raftpb::Entry>& entries) {
    Completions completions;
    absl::Status s = wal->Save(hs, entries, completions.Track(0));
    if (!s.ok()) return s;
    sim_.RunUntilIdle();
    EXPECT_EQ(completions.done().size(), 1u);
    return completions.done().empty() ? absl::UnknownError("no callback")
                                      : completions.done()[0].status;
  }

  absl::Status SaveEntries(Wal* wal, uint64_t first, uint64_t last, uint64_t term,
                           std::string_view data = "x") {
    std::vector<raftpb::Entry> entries;
    for (uint64_t i = first; i <= last; ++i) entries.push_back(MakeEntry(i, term, data));
    return SaveAndWait(wal, MakeHardState(term, 1, first > 1 ? first - 1 : 0), entries);
  }

  absl::StatusOr<WalContents> Reopen(WalSnapshot snapshot = {}, WalOptions options = {},
                                     std::unique_ptr<Wal>* out = nullptr) {
    absl::StatusOr<std::unique_ptr<Wal>> wal = Wal::Open(sim_.fs(), kDir, snapshot, options);
    if (!wal.ok()) return wal.status();
    absl::StatusOr<WalContents> contents = (*wal)->ReadAll();
    if (out != nullptr) *out = *std::move(wal);
    return contents;
  }

  std::vector<std::string> SegmentFiles() {
    std::vector<std::string> names;
    absl::StatusOr<std::vector<std::string>> children = sim_.fs()->GetChildren(kDir);
    EXPECT_TRUE(children.ok()) << children.status();
    if (!children.ok()) return names;
    for (const std::string& name : *children) {
      if (HasSuffix(name, ".wal")) names.push_back(name);
    }
    return names;
  }

  SimFs sim_{/*seed=*/7};
};

TEST_F(WalTest, NewLogReplaysMetadataAndNothingElse) {
  ASSERT_NE(CreateWal(), nullptr);
  absl::StatusOr<WalContents> contents = Reopen();
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_EQ(contents->metadata, "meta");
  EXPECT_TRUE(contents->entries.empty());
  EXPECT_EQ(contents->hard_state.term(), 0u);
  EXPECT_EQ(SegmentFiles(), std::vector<std::string>{"0000000000000000-0000000000000000.wal"});
}

TEST_F(WalTest, SavedEntriesAndLatestHardStateAreReplayed) {
  std::unique_ptr<Wal> wal = CreateWal();
  ASSERT_TRUE(SaveEntries(wal.get(), 1, 3, 1).ok());
  ASSERT_TRUE(SaveAndWait(wal.get(), MakeHardState(2, 3, 3), {MakeEntry(4, 2, "four")}).ok());
  wal.reset();
  absl::StatusOr<WalContents> contents = Reopen();
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_EQ(Indexes(contents->entries), Range(1, 4));
  EXPECT_EQ(contents->entries[3].data(), "four");
  EXPECT_EQ(contents->entries[3].term(), 2u);
  EXPECT_EQ(contents->hard_state.term(), 2u);
  EXPECT_EQ(contents->hard_state.vote(), 3u);
  EXPECT_EQ(contents->hard_state.commit(), 3u);
}

TEST_F(WalTest, OneSaveIsOneAppendAndOneSyncHoweverManyEntries) {
  std::unique_ptr<Wal> wal = CreateWal();
  const sim::DiskCounters before = sim_.disk().counters();
  ASSERT_TRUE(SaveEntries(wal.get(), 1, 100, 1).ok());
  EXPECT_EQ(sim_.disk().counters().appends - before.appends, 1u);
  EXPECT_EQ(sim_.disk().counters().syncs - before.syncs, 1u);
}

TEST_F(WalTest, EmptyHardStateIsNotWrittenAndDoesNotReplaceTheLastOne) {
  std::unique_ptr<Wal> wal = CreateWal();
  ASSERT_TRUE(SaveAndWait(wal.get(), MakeHardState(5, 2, 0), {MakeEntry(1, 5, "a")}).ok());
  ASSERT_TRUE(SaveAndWait(wal.get(), raftpb::HardState(), {MakeEntry(2, 5, "b")}).ok());
  wal.reset();
  absl::StatusOr<WalContents> contents = Reopen();
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_EQ(contents->hard_state.term(), 5u);
  EXPECT_EQ(contents->hard_state.vote(), 2u);
  EXPECT_EQ(Indexes(contents->entries), Range(1, 2));
}

TEST_F(WalTest, LaterEntriesOverwriteTheTailLikeRaftLogTruncation) {
  std::unique_ptr<Wal> wal = CreateWal();
  ASSERT_TRUE(SaveEntries(wal.get(), 1, 10, 1).ok());
  ASSERT_TRUE(SaveEntries(wal.get(), 6, 8, 2).ok());  // new leader: 6..10 replaced by 6..8
  EXPECT_EQ(wal->last_index(), 8u);
  wal.reset();
  absl::StatusOr<WalContents> contents = Reopen();
  ASSERT_TRUE(contents.ok()) << contents.status();
  ASSERT_EQ(Indexes(contents->entries), Range(1, 8));
  EXPECT_EQ(contents->entries[4].term(), 1u);
  EXPECT_EQ(contents->entries[5].term(), 2u);
  EXPECT_EQ(contents->entries[7].term(), 2u);
}

TEST_F(WalTest, SaveRefusesEntriesThatWouldLeaveAGapOrAreNotContiguous) {
  std::unique_ptr<Wal> wal = CreateWal();
  ASSERT_TRUE(SaveEntries(wal.get(), 1, 3, 1).ok());
  Completions completions;
  EXPECT_EQ(wal->Save({}, {MakeEntry(5, 1, "")}, completions.Track(0)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(wal->Save({}, {MakeEntry(4, 1, ""), MakeEntry(6, 1, "")}, completions.Track(1)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(wal->Save({}, {MakeEntry(0, 1, "")}, completions.Track(2)).code(),
            absl::StatusCode::kInvalidArgument);
  sim_.RunUntilIdle();
  EXPECT_TRUE(completions.done().empty());  // refused up front: done never runs
  EXPECT_TRUE(wal->status().ok());          // a caller bug is not a disk failure
}

TEST_F(WalTest, SaveBeforeReadAllIsRefused) {
  ASSERT_NE(CreateWal(), nullptr);
  absl::StatusOr<std::unique_ptr<Wal>> wal = Wal::Open(sim_.fs(), kDir, {});
  ASSERT_TRUE(wal.ok());
  Completions completions;
  EXPECT_EQ((*wal)->Save(MakeHardState(1, 1, 0), {}, completions.Track(0)).code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE((*wal)->ReadAll().ok());
  EXPECT_EQ((*wal)->ReadAll().status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(WalTest, CreateRefusesADirectoryThatHoldsALog) {
  ASSERT_NE(CreateWal(), nullptr);
  EXPECT_EQ(Wal::Create(sim_.fs(), kDir, "other").status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST_F(WalTest, OnlyOneWalAtATimeOwnsTheDirectory) {
  std::unique_ptr<Wal> wal = CreateWal();
  EXPECT_EQ(Wal::Open(sim_.fs(), kDir, {}).status().code(), absl::StatusCode::kFailedPrecondition);
  wal.reset();
  EXPECT_TRUE(Wal::Open(sim_.fs(), kDir, {}).ok());
}

TEST_F(WalTest, OpenWithoutALogIsNotFound) {
  ASSERT_TRUE(sim_.fs()->CreateDir(kDir).ok());
  EXPECT_EQ(Wal::Open(sim_.fs(), kDir, {}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(Wal::Exists(sim_.fs(), kDir));
}

TEST_F(WalTest, SegmentsAreCutAtTheSizeLimitAndNamedSeqFirstIndex) {
  WalOptions options;
  options.segment_size_bytes = 1024;
  std::unique_ptr<Wal> wal = CreateWal(options);
  const std::string payload(100, 'p');
  for (uint64_t i = 1; i <= 40; ++i) ASSERT_TRUE(SaveEntries(wal.get(), i, i, 1, payload).ok());
  const std::vector<std::string> files = SegmentFiles();
  ASSERT_GT(files.size(), 3u);
  EXPECT_EQ(files, wal->SegmentNames());
  for (size_t i = 0; i < files.size(); ++i) {
    EXPECT_EQ(files[i].substr(0, 17), absl::StrCat(absl::Hex(i, absl::kZeroPad16), "-"));
    if (i + 1 < files.size()) {
      EXPECT_LE(*sim_.fs()->GetFileSize(JoinPath(kDir, files[i])), 1024u + 256u);
    }
  }
  // The second segment starts after whatever the first one held.
  EXPECT_NE(files[1].substr(17, 16), std::string(16, '0'));
  wal.reset();
  absl::StatusOr<WalContents> contents = Reopen({}, options);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_EQ(Indexes(contents->entries), Range(1, 40));
  EXPECT_EQ(contents->metadata, "meta");
}

TEST_F(WalTest, SavesPipelinedAcrossACutCompleteInIssueOrder) {
  WalOptions options;
  options.segment_size_bytes = 512;
  std::unique_ptr<Wal> wal = CreateWal(options);
  Completions completions;
  const std::string payload(200, 'q');
  for (int i = 1; i <= 20; ++i) {
    // Waves of four Saves without waiting in between: several are in flight when a cut
    // comes due, and the ones after it queue behind it.
    ASSERT_TRUE(
        wal->Save(MakeHardState(1, 1, i - 1), {MakeEntry(i, 1, payload)}, completions.Track(i))
            .ok());
    if (i % 4 == 0) sim_.RunUntilIdle();
  }
  sim_.RunUntilIdle();
  ASSERT_EQ(completions.done().size(), 20u);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(completions.done()[i].tag, i + 1);
    EXPECT_TRUE(completions.done()[i].status.ok()) << completions.done()[i].status;
  }
  EXPECT_GT(SegmentFiles().size(), 3u);
  wal.reset();
  absl::StatusOr<WalContents> contents = Reopen({}, options);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_EQ(Indexes(contents->entries), Range(1, 20));
  EXPECT_EQ(contents->hard_state.commit(), 19u);
}

TEST_F(WalTest, QueueBehindACutIsBounded) {
  WalOptions options;
  options.segment_size_bytes = 64;
  options.max_queued_saves = 2;
  std::unique_ptr<Wal> wal = CreateWal(options);
  Completions completions;
  // The log head already exceeds 64 bytes: the first Save cuts, but only once nothing is
  // in flight; keep one in flight by not running the loop.
  ASSERT_TRUE(wal->Save({}, {MakeEntry(1, 1, "a")}, completions.Track(1)).ok());
  ASSERT_TRUE(wal->Save({}, {MakeEntry(2, 1, "b")}, completions.Track(2)).ok());
  ASSERT_TRUE(wal->Save({}, {MakeEntry(3, 1, "c")}, completions.Track(3)).ok());
  EXPECT_EQ(wal->Save({}, {MakeEntry(4, 1, "d")}, completions.Track(4)).code(),
            absl::StatusCode::kResourceExhausted);
  sim_.RunUntilIdle();
  ASSERT_EQ(completions.done().size(), 3u);
  for (const Completions::Done& d : completions.done()) EXPECT_TRUE(d.status.ok());
}

TEST_F(WalTest, ReplayFromASnapshotMarkerSkipsEntriesItCovers) {
  std::unique_ptr<Wal> wal = CreateWal();
  ASSERT_TRUE(SaveEntries(wal.get(), 1, 10, 1).ok());
  Completions completions;
  ASSERT_TRUE(wal->SaveSnapshotMarker({6, 1}, completions.Track(0)).ok());
  sim_.RunUntilIdle();
  ASSERT_TRUE(completions.done().at(0).status.ok());
  ASSERT_TRUE(SaveEntries(wal.get(), 11, 12, 1).ok());
  wal.reset();

  absl::StatusOr<WalContents> contents = Reopen({6, 1});
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_EQ(Indexes(contents->entries), Range(7, 12));
  EXPECT_EQ(contents->latest_snapshot_marker, (WalSnapshot{6, 1}));

  EXPECT_EQ(Reopen({6, 2}).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Reopen({5, 1}).status().code(), absl::StatusCode::kNotFound);
  absl::StatusOr<std::vector<WalSnapshot>> markers = Wal::ReadSnapshotMarkers(sim_.fs(), kDir);
  ASSERT_TRUE(markers.ok()) << markers.status();
  EXPECT_EQ(*markers, (std::vector<WalSnapshot>{{0, 0}, {6, 1}}));
}

// keelsim seed 1796: a leader of term 25 saved 143; as a follower of term 26 it had 141-143
// replaced by 141-142, committed and applied them and took a snapshot at 142. Replay from
// that snapshot skips the records for 141-142, but they still supersede the older 143:
// resurrecting it would put term 25 behind the snapshot's term 26.
TEST_F(WalTest, EntriesCoveredByTheSnapshotStillDiscardTheTailTheyReplaced) {
  std::unique_ptr<Wal> wal = CreateWal();
  ASSERT_TRUE(SaveEntries(wal.get(), 1, 10, 1).ok());
  ASSERT_TRUE(SaveEntries(wal.get(), 11, 11, 2).ok());
  ASSERT_TRUE(SaveEntries(wal.get(), 9, 10, 3).ok());  // new leader: 9..11 replaced by 9..10
  Completions completions;
  ASSERT_TRUE(wal->SaveSnapshotMarker({10, 3}, completions.Track(0)).ok());
  sim_.RunUntilIdle();
  ASSERT_TRUE(completions.done().at(0).status.ok());
  wal.reset();

  std::unique_ptr<Wal> reopened;
  absl::StatusOr<WalContents> contents = Reopen({10, 3}, {}, &reopened);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_TRUE(contents->entries.empty()) << "resurrected index " << contents->entries[0].index();
  EXPECT_EQ(reopened->last_index(), 10u);
  // The log goes on after the snapshot as usual.
  ASSERT_TRUE(SaveEntries(reopened.get(), 11, 12, 3).ok());
  reopened.reset();
  contents = Reopen({10, 3});
  ASSERT_TRUE(contents.ok()) << contents.status();
  ASSERT_EQ(Indexes(contents->entries), Range(11, 12));
  EXPECT_EQ(contents->entries[0].term(), 3u);
}

// A follower whose log was 1..20 of term 1 installs a snapshot it received from the leader
// at (15, term 2), as ServerImpl::InstallSnapshot records it, and crashes before any new
// append rewrote 16..20. The snapshot replaced the whole log: the old 16..20 (term 1,
// written before the snapshot was installed) must not replay behind (15, term 2), or the
// restarted log has decreasing terms and grants votes it must not. (Before installed
// markers existed the server wrote a plain SaveSnapshotMarker here, and 16..20 replayed.)
TEST_F(WalTest, InstalledSnapshotDiscardsTheLogWrittenBeforeIt) {
  std::unique_ptr<Wal> wal = CreateWal();
  ASSERT_TRUE(SaveEntries(wal.get(), 1, 20, 1).ok());
  Completions completions;
  ASSERT_TRUE(wal->SaveInstalledSnapshotMarker({15, 2}, completions.Track(0)).ok());
  sim_.RunUntilIdle();
  ASSERT_TRUE(completions.done().at(0).status.ok());
  EXPECT_EQ(wal->last_index(), 15u);
  wal.reset();

  std::unique_ptr<Wal> reopened;
  absl::StatusOr<WalContents> contents = Reopen({15, 2}, {}, &reopened);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_TRUE(contents->entries.empty())
      << "replayed " << contents->entries.size() << " entries written before the install, from "
      << contents->entries[0].index() << " (term " << contents->entries[0].term() << ")";
  EXPECT_EQ(reopened->last_index(), 15u);
  EXPECT_EQ(contents->latest_snapshot_marker, (WalSnapshot{15, 2}));

  // The leader's log goes on after the snapshot; entries written after the install replay.
  ASSERT_TRUE(SaveEntries(reopened.get(), 16, 17, 2).ok());
  reopened.reset();
  contents = Reopen({15, 2});
  ASSERT_TRUE(contents.ok()) << contents.status();
  ASSERT_EQ(Indexes(contents->entries), Range(16, 17));
  EXPECT_EQ(contents->entries[0].term(), 2u);
  // Markers list it once, like any other.
  absl::StatusOr<std::vector<WalSnapshot>> markers = Wal::ReadSnapshotMarkers(sim_.fs(), kDir);
  ASSERT_TRUE(markers.ok()) << markers.status();
  EXPECT_EQ(*markers, (std::vector<WalSnapshot>{{0, 0}, {15, 2}}));
}

// Segment heads repeat the latest marker without the installed flag: a cut after the
// install must not discard the entries written since, and a later local snapshot keeps
// today's meaning (its following entries are the live log).
TEST_F(WalTest, InstalledSnapshotThenSegmentCutsAndLocalSnapshotKeepTheNewLog) {
  WalOptions options;
  options.segment_size_bytes = 1024;
  std::unique_ptr<Wal> wal = CreateWal(options);
  const std::string payload(100, 'r');
  for (uint64_t i = 1; i <= 20; ++i) ASSERT_TRUE(SaveEntries(wal.get(), i, i, 1, payload).ok());
  Completions completions;
  ASSERT_TRUE(wal->SaveInstalledSnapshotMarker({15, 2}, completions.Track(0)).ok());
  sim_.RunUntilIdle();
  for (uint64_t i = 16; i <= 40; ++i) ASSERT_TRUE(SaveEntries(wal.get(), i, i, 2, payload).ok());
  ASSERT_TRUE(wal->SaveSnapshotMarker({30, 2}, completions.Track(1)).ok());
  sim_.RunUntilIdle();
  ASSERT_TRUE(SaveEntries(wal.get(), 41, 45, 2, payload).ok());
  EXPECT_GT(SegmentFiles().size(), 3u);
  wal.reset();

  absl::StatusOr<WalContents> contents = Reopen({15, 2}, options);
  ASSERT_TRUE(contents.ok()) << contents.status();
  ASSERT_EQ(Indexes(contents->entries), Range(16, 45));
  for (const raftpb::Entry& e : contents->entries) EXPECT_EQ(e.term(), 2u) << e.index();
  contents = Reopen({30, 2}, options);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_EQ(Indexes(contents->entries), Range(31, 45));
}

// An older snapshot cannot rebuild a log that a received snapshot replaced: the entries
// up to the installed index were never in this WAL. Refused, never the stale old log.
TEST_F(WalTest, ReplayFromASnapshotOlderThanAnInstalledOneIsDataLoss) {
  std::unique_ptr<Wal> wal = CreateWal();
  ASSERT_TRUE(SaveEntries(wal.get(), 1, 10, 1).ok());
  Completions completions;
  ASSERT_TRUE(wal->SaveSnapshotMarker({5, 1}, completions.Track(0)).ok());
  ASSERT_TRUE(wal->SaveInstalledSnapshotMarker({15, 2}, completions.Track(1)).ok());
  sim_.RunUntilIdle();
  ASSERT_TRUE(SaveEntries(wal.get(), 16, 17, 2).ok());
  wal.reset();
  EXPECT_EQ(Reopen({5, 1}).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(Reopen({}).status().code(), absl::StatusCode::kDataLoss);
  absl::StatusOr<WalContents> contents = Reopen({15, 2});
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_EQ(Indexes(contents->entries), Range(16, 17));
}

TEST_F(WalTest, InstalledSnapshotAheadOfTheLogMovesTheNextIndex) {
  std::unique_ptr<Wal> wal = CreateWal();
  ASSERT_TRUE(SaveEntries(wal.get(), 1, 3, 1).ok());
  Completions completions;
  ASSERT_TRUE(wal->SaveSnapshotMarker({100, 4}, completions.Track(0)).ok());
  sim_.RunUntilIdle();
  EXPECT_EQ(wal->last_index(), 100u);
  ASSERT_TRUE(SaveEntries(wal.get(), 101, 102, 4).ok());
  wal.reset();
  absl::StatusOr<WalContents> contents = Reopen({100, 4});
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_EQ(Indexes(contents->entries), Range(101, 102));
}

TEST_F(WalTest, RemoveSegmentsBeforeKeepsWhatReplayFromTheSnapshotNeeds) {
  WalOptions options;
  options.segment_size_bytes = 1024;
  std::unique_ptr<Wal> wal = CreateWal(options);
  const std::string payload(100, 'r');
  for (uint64_t i = 1; i <= 30; ++i) ASSERT_TRUE(SaveEntries(wal.get(), i, i, 1, payload).ok());
  Completions completions;
  ASSERT_TRUE(wal->SaveSnapshotMarker({20, 1}, completions.Track(0)).ok());
  sim_.RunUntilIdle();
  for (uint64_t i = 31; i <= 40; ++i) ASSERT_TRUE(SaveEntries(wal.get(), i, i, 1, payload).ok());
  const size_t before = SegmentFiles().size();
  ASSERT_TRUE(wal->RemoveSegmentsBefore(20).ok());
  const std::vector<std::string> after = SegmentFiles();
  EXPECT_LT(after.size(), before);
  EXPECT_EQ(after, wal->SegmentNames());
  wal.reset();

  absl::StatusOr<WalContents> contents = Reopen({20, 1}, options);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_EQ(Indexes(contents->entries), Range(21, 40));
  // History before the snapshot is gone for good.
  EXPECT_EQ(Reopen({}, options).status().code(), absl::StatusCode::kNotFound);
}

// etcd's --max-wals: covered segments go only while more than the limit remain, oldest
// first; the limit never removes a segment the snapshot still needs.
TEST_F(WalTest, MaxSegmentsKeepsTheNewestCoveredSegmentsUpToTheLimit) {
  WalOptions options;
  options.segment_size_bytes = 1024;
  std::unique_ptr<Wal> wal = CreateWal(options);
  const std::string payload(100, 'm');
  for (uint64_t i = 1; i <= 60; ++i) ASSERT_TRUE(SaveEntries(wal.get(), i, i, 1, payload).ok());
  Completions completions;
  ASSERT_TRUE(wal->SaveSnapshotMarker({50, 1}, completions.Track(0)).ok());
  sim_.RunUntilIdle();
  const std::vector<std::string> before = SegmentFiles();
  ASSERT_GE(before.size(), 6u);
  // A limit above the count removes nothing.
  ASSERT_TRUE(wal->RemoveSegmentsBefore(50, before.size() + 1).ok());
  EXPECT_EQ(SegmentFiles(), before);
  // A limit of 3: exactly the oldest ones beyond it go.
  ASSERT_TRUE(wal->RemoveSegmentsBefore(50, 3).ok());
  const std::vector<std::string> after = SegmentFiles();
  ASSERT_EQ(after.size(), 3u);
  EXPECT_TRUE(std::equal(after.begin(), after.end(), before.end() - 3));
  wal.reset();
  absl::StatusOr<WalContents> contents = Reopen({50, 1}, options);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_EQ(Indexes(contents->entries), Range(51, 60));
}

TEST_F(WalTest, MaxSegmentsNeverRemovesASegmentTheSnapshotNeeds) {
  WalOptions options;
  options.segment_size_bytes = 1024;
  std::unique_ptr<Wal> wal = CreateWal(options);
  const std::string payload(100, 'n');
  for (uint64_t i = 1; i <= 60; ++i) ASSERT_TRUE(SaveEntries(wal.get(), i, i, 1, payload).ok());
  Completions completions;
  ASSERT_TRUE(wal->SaveSnapshotMarker({5, 1}, completions.Track(0)).ok());
  sim_.RunUntilIdle();
  // Limit 1, but the snapshot at 5 needs the log from its first segment on.
  ASSERT_TRUE(wal->RemoveSegmentsBefore(5, 1).ok());
  wal.reset();
  absl::StatusOr<WalContents> contents = Reopen({5, 1}, options);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_EQ(Indexes(contents->entries), Range(6, 60));
}

TEST_F(WalTest, SegmentsOlderThanTheOpeningSnapshotAreRemovedFirstNeverLeavingAGap) {
  // Simulator seeds 4842 and 7592: a member restarted at a snapshot past its oldest
  // segments (the ones before it had not been removed yet), took the next snapshot and
  // removed only the segments after the old ones. The gap made the next start refuse.
  WalOptions options;
  options.segment_size_bytes = 1024;
  std::unique_ptr<Wal> wal = CreateWal(options);
  const std::string payload(100, 'g');
  for (uint64_t i = 1; i <= 30; ++i) ASSERT_TRUE(SaveEntries(wal.get(), i, i, 1, payload).ok());
  Completions marked;
  ASSERT_TRUE(wal->SaveSnapshotMarker({20, 1}, marked.Track(0)).ok());
  sim_.RunUntilIdle();
  wal.reset();  // a crash before RemoveSegmentsBefore(20)
  const size_t before = SegmentFiles().size();

  absl::StatusOr<WalContents> contents = Reopen({20, 1}, options, &wal);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_EQ(SegmentFiles().size(), before) << "opening removes nothing";
  EXPECT_EQ(wal->SegmentNames(), SegmentFiles()) << "the older segments stay known";
  for (uint64_t i = 31; i <= 50; ++i) ASSERT_TRUE(SaveEntries(wal.get(), i, i, 1, payload).ok());
  Completions marked_again;
  ASSERT_TRUE(wal->SaveSnapshotMarker({45, 1}, marked_again.Track(0)).ok());
  sim_.RunUntilIdle();
  ASSERT_TRUE(wal->RemoveSegmentsBefore(45).ok());
  EXPECT_EQ(wal->SegmentNames(), SegmentFiles());
  wal.reset();

  contents = Reopen({45, 1}, options);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_EQ(Indexes(contents->entries), Range(46, 50));
  EXPECT_TRUE(Wal::ReadSnapshotMarkers(sim_.fs(), kDir).ok());
}

TEST_F(WalTest, SegmentsBeforeASequenceGapAreLeftoversNeverReplayed) {
  // A removal that did not finish can leave old segments behind a gap (etcd ignores such
  // files the same way). Replay from a snapshot after the gap works; a snapshot whose
  // segment is behind the gap cannot be replayed.
  WalOptions options;
  options.segment_size_bytes = 1024;
  std::unique_ptr<Wal> wal = CreateWal(options);
  const std::string payload(100, 'h');
  for (uint64_t i = 1; i <= 40; ++i) ASSERT_TRUE(SaveEntries(wal.get(), i, i, 1, payload).ok());
  Completions marked;
  ASSERT_TRUE(wal->SaveSnapshotMarker({30, 1}, marked.Track(0)).ok());
  sim_.RunUntilIdle();
  std::vector<std::string> names = wal->SegmentNames();
  wal.reset();
  ASSERT_GE(names.size(), 4u);
  // Drop the second segment only: the first is now a leftover behind a gap.
  ASSERT_TRUE(sim_.fs()->RemoveFile(std::string(kDir) + "/" + names[1]).ok());
  ASSERT_TRUE(sim_.fs()->SyncDir(kDir).ok());

  absl::StatusOr<std::vector<WalSnapshot>> markers = Wal::ReadSnapshotMarkers(sim_.fs(), kDir);
  ASSERT_TRUE(markers.ok()) << markers.status();
  EXPECT_EQ(markers->back(), (WalSnapshot{30, 1}));
  absl::StatusOr<WalContents> contents = Reopen({30, 1}, options);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_EQ(Indexes(contents->entries), Range(31, 40));
  // From the beginning, the entries in the missing segment are needed: data loss.
  absl::StatusOr<WalContents> from_start = Reopen({}, options);
  EXPECT_EQ(from_start.status().code(), absl::StatusCode::kDataLoss) << from_start.status();
}

TEST_F(WalTest, AppendingResumesAfterReopenAndAcrossCuts) {
  WalOptions options;
  options.segment_size_bytes = 700;
  std::unique_ptr<Wal> wal = CreateWal(options);
  const std::string payload(90, 's');
  for (int round = 0; round < 4; ++round) {
    for (uint64_t i = 1; i <= 5; ++i) {
      const uint64_t index = round * 5 + i;
      ASSERT_TRUE(SaveEntries(wal.get(), index, index, 1, payload).ok());
    }
    wal.reset();
    absl::StatusOr<WalContents> contents = Reopen({}, options, &wal);
    ASSERT_TRUE(contents.ok()) << contents.status();
    ASSERT_EQ(Indexes(contents->entries), Range(1, (round + 1) * 5));
  }
}

TEST_F(WalTest, FailedSyncIsStickyAndNeverRetried) {
  std::unique_ptr<Wal> wal = CreateWal();
  ASSERT_TRUE(SaveEntries(wal.get(), 1, 2, 1).ok());
  sim::DiskFaults faults;
  faults.sync_error_probability = 1.0;
  sim_.disk().set_faults(faults);
  EXPECT_EQ(SaveEntries(wal.get(), 3, 3, 1).code(), absl::StatusCode::kDataLoss);
  sim_.disk().set_faults(sim::DiskFaults{});  // the disk "recovers"; the Wal must not
  EXPECT_EQ(wal->status().code(), absl::StatusCode::kDataLoss);
  const uint64_t appends = sim_.disk().counters().appends;
  Completions completions;
  EXPECT_EQ(wal->Save(MakeHardState(1, 1, 2), {MakeEntry(4, 1, "")}, completions.Track(0)).code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(wal->SaveSnapshotMarker({2, 1}, completions.Track(1)).code(),
            absl::StatusCode::kDataLoss);
  sim_.RunUntilIdle();
  EXPECT_TRUE(completions.done().empty());
  EXPECT_EQ(sim_.disk().counters().appends, appends);
}

TEST_F(WalTest, FailedAppendIsReportedAndSticky) {
  std::unique_ptr<Wal> wal = CreateWal();
  sim::DiskFaults faults;
  faults.write_error_probability = 1.0;
  sim_.disk().set_faults(faults);
  EXPECT_EQ(SaveEntries(wal.get(), 1, 1, 1).code(), absl::StatusCode::kDataLoss);
  sim_.disk().set_faults(sim::DiskFaults{});
  EXPECT_EQ(SaveEntries(wal.get(), 2, 2, 1).code(), absl::StatusCode::kDataLoss);
}

TEST_F(WalTest, FailedSyncFailsEverySaveAlreadyQueuedBehindACut) {
  WalOptions options;
  options.segment_size_bytes = 64;
  std::unique_ptr<Wal> wal = CreateWal(options);
  Completions completions;
  // Save 1 cuts at once (nothing in flight) and is issued; 2..4 queue behind the next
  // cut, which waits for Save 1, whose fsync fails.
  ASSERT_TRUE(wal->Save({}, {MakeEntry(1, 1, "z")}, completions.Track(1)).ok());
  sim::DiskFaults faults;
  faults.sync_error_probability = 1.0;
  sim_.disk().set_faults(faults);
  for (int i = 2; i <= 4; ++i) {
    ASSERT_TRUE(wal->Save({}, {MakeEntry(i, 1, "z")}, completions.Track(i)).ok());
  }
  sim_.RunUntilIdle();
  ASSERT_EQ(completions.done().size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(completions.done()[i].tag, i + 1);
    EXPECT_EQ(completions.done()[i].status.code(), absl::StatusCode::kDataLoss);
  }
}

}  // namespace
}  // namespace keel::storage
