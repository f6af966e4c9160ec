// Damage to a WAL is always reported, never served: every flipped bit in every segment
// stops replay with kDataLoss naming the file and offset; only a torn or zero-filled
// tail of the last segment is truncated, and what remains is a prefix of what was saved.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "storage/file_util.h"
#include "storage/format.h"
#include "storage/testing/sim_fs.h"
#include "storage/wal.h"

namespace keel::storage {
namespace {

using testing::Completions;
using testing::FlipBit;
using testing::MakeEntry;
using testing::MakeHardState;
using testing::SimFs;

constexpr char kDir[] = "/wal";

bool SameEntries(const std::vector<raftpb::Entry>& a, const std::vector<raftpb::Entry>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].SerializeAsString() != b[i].SerializeAsString()) return false;
  }
  return true;
}

class WalCorruptionTest : public ::testing::Test {
 protected:
  // Writes 30 entries in 15 Saves (plus a snapshot marker) over several segments.
  void SetUp() override {
    options_.segment_size_bytes = 600;
    absl::StatusOr<std::unique_ptr<Wal>> wal = Wal::Create(sim_.fs(), kDir, "node-1", options_);
    ASSERT_TRUE(wal.ok()) << wal.status();
    Completions completions;
    for (uint64_t i = 1; i <= 30; i += 2) {
      std::vector<raftpb::Entry> batch = {MakeEntry(i, 1, absl::StrCat("value-", i)),
                                          MakeEntry(i + 1, 1, std::string(i * 3, 'v'))};
      ASSERT_TRUE((*wal)->Save(MakeHardState(1, 1, i), batch, completions.Track(0)).ok());
      expected_.insert(expected_.end(), batch.begin(), batch.end());
      if (i == 15) {
        ASSERT_TRUE((*wal)->SaveSnapshotMarker({10, 1}, completions.Track(0)).ok());
      }
      sim_.RunUntilIdle();
    }
    for (const Completions::Done& d : completions.done()) ASSERT_TRUE(d.status.ok());
    segments_ = (*wal)->SegmentNames();
    ASSERT_GE(segments_.size(), 3u);
  }

  absl::StatusOr<WalContents> Replay(WalSnapshot from = {}) {
    absl::StatusOr<std::unique_ptr<Wal>> wal = Wal::Open(sim_.fs(), kDir, from, options_);
    if (!wal.ok()) return wal.status();
    return (*wal)->ReadAll();
  }

  std::string PathOf(size_t segment) { return JoinPath(kDir, segments_[segment]); }

  std::string Contents(const std::string& path) {
    absl::StatusOr<std::string> data = ReadWholeFile(sim_.fs(), path);
    EXPECT_TRUE(data.ok()) << data.status();
    return data.ok() ? *data : "";
  }

  void Overwrite(const std::string& path, const std::string& data) {
    ASSERT_TRUE(WriteFileSync(sim_.fs(), path, data).ok());
  }

  SimFs sim_{/*seed=*/11};
  WalOptions options_;
  std::vector<raftpb::Entry> expected_;
  std::vector<std::string> segments_;
};

TEST_F(WalCorruptionTest, IntactLogReplaysEverything) {
  absl::StatusOr<WalContents> contents = Replay();
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_TRUE(SameEntries(contents->entries, expected_));
  EXPECT_EQ(contents->truncated_tail_bytes, 0u);
}

TEST_F(WalCorruptionTest, EveryFlippedBitInEverySegmentIsReportedWithFileAndOffset) {
  // Bit granularity over the whole log (a few thousand replays); byte flips are a subset
  // of what this covers in spirit, and SimDisk::CorruptByte is exercised elsewhere.
  size_t flips = 0;
  for (size_t seg = 0; seg < segments_.size(); ++seg) {
    const std::string path = PathOf(seg);
    const std::string original = Contents(path);
    for (uint64_t bit = 0; bit < original.size() * 8; ++bit) {
      ASSERT_TRUE(FlipBit(sim_.fs(), path, bit).ok());
      absl::StatusOr<WalContents> contents = Replay();
      ++flips;
      if (bit / 8 == kWalMagicBytes - 1 && !contents.ok() &&
          contents.status().code() == absl::StatusCode::kFailedPrecondition) {
        // The version digit became another digit: "unsupported version", also a refusal.
        ASSERT_TRUE(FlipBit(sim_.fs(), path, bit).ok());
        continue;
      }
      ASSERT_EQ(contents.status().code(), absl::StatusCode::kDataLoss)
          << segments_[seg] << " bit " << bit << ": " << contents.status();
      EXPECT_TRUE(absl::StrContains(contents.status().message(), path)) << contents.status();
      EXPECT_TRUE(absl::StrContains(contents.status().message(), "offset")) << contents.status();
      ASSERT_TRUE(FlipBit(sim_.fs(), path, bit).ok());
      ASSERT_EQ(Contents(path), original) << "replay modified a corrupt segment";
    }
  }
  EXPECT_GT(flips, 8000u);
  absl::StatusOr<WalContents> contents = Replay();
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_TRUE(SameEntries(contents->entries, expected_));
}

TEST_F(WalCorruptionTest, WholeByteCorruptionOnTheMediumIsReported) {
  const std::string path = PathOf(1);
  const uint64_t size = Contents(path).size();
  for (uint64_t offset = 0; offset < size; offset += 5) {
    ASSERT_TRUE(sim_.disk().CorruptByte(path, offset).ok());
    EXPECT_EQ(Replay().status().code(), absl::StatusCode::kDataLoss) << "offset " << offset;
    ASSERT_TRUE(sim_.disk().CorruptByte(path, offset).ok());  // flips back
  }
}

TEST_F(WalCorruptionTest, TornTailOfTheLastSegmentIsTruncatedToAPrefix) {
  const std::string path = PathOf(segments_.size() - 1);
  const std::string original = Contents(path);
  size_t previous_count = 0;
  // From the end of the segment's leading records (published whole, never torn) to the
  // full length, byte by byte.
  uint64_t head_bytes = 0;
  for (uint64_t cut = original.size(); cut > 0; --cut) {
    Overwrite(path, original.substr(0, cut));
    absl::StatusOr<WalContents> contents = Replay();
    if (!contents.ok()) {
      head_bytes = cut;  // cutting into the leading records is corruption, not a tear
      EXPECT_EQ(contents.status().code(), absl::StatusCode::kDataLoss);
      break;
    }
  }
  ASSERT_GT(head_bytes, kWalMagicBytes);
  for (uint64_t cut = head_bytes + 1; cut <= original.size(); ++cut) {
    Overwrite(path, original.substr(0, cut));
    absl::StatusOr<WalContents> contents = Replay();
    ASSERT_TRUE(contents.ok()) << "cut " << cut << ": " << contents.status();
    const std::vector<raftpb::Entry>& got = contents->entries;
    ASSERT_LE(got.size(), expected_.size());
    ASSERT_TRUE(SameEntries(
        got, std::vector<raftpb::Entry>(expected_.begin(), expected_.begin() + got.size())));
    ASSERT_GE(got.size(), previous_count);
    previous_count = got.size();
    const uint64_t kept = *sim_.fs()->GetFileSize(path);
    EXPECT_EQ(kept + contents->truncated_tail_bytes, cut);
    EXPECT_EQ(kept % kRecordAlignmentBytes, 0u);
  }
  EXPECT_EQ(previous_count, expected_.size());
}

TEST_F(WalCorruptionTest, AppendingContinuesCleanlyAfterATornTail) {
  const std::string path = PathOf(segments_.size() - 1);
  const std::string original = Contents(path);
  Overwrite(path, original.substr(0, original.size() - 5));
  absl::StatusOr<std::unique_ptr<Wal>> wal = Wal::Open(sim_.fs(), kDir, {}, options_);
  ASSERT_TRUE(wal.ok());
  absl::StatusOr<WalContents> contents = (*wal)->ReadAll();
  ASSERT_TRUE(contents.ok()) << contents.status();
  ASSERT_GT(contents->truncated_tail_bytes, 0u);
  const uint64_t next = contents->entries.back().index() + 1;
  Completions completions;
  ASSERT_TRUE(
      (*wal)
          ->Save(MakeHardState(2, 1, next), {MakeEntry(next, 2, "after")}, completions.Track(0))
          .ok());
  sim_.RunUntilIdle();
  ASSERT_TRUE(completions.done().at(0).status.ok());
  wal->reset();
  contents = Replay();
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_EQ(contents->entries.back().index(), next);
  EXPECT_EQ(contents->entries.back().data(), "after");
  EXPECT_EQ(contents->hard_state.term(), 2u);
}

TEST_F(WalCorruptionTest, ZeroFilledTailIsRefusedNamingFileAndOffset) {
  // What a misdirected final Save leaves: the file grew, its bytes read zeros. Truncating
  // it would forget an acknowledged vote or entries.
  const std::string path = PathOf(segments_.size() - 1);
  const std::string original = Contents(path);
  Overwrite(path, original + std::string(4096, '\0'));
  absl::StatusOr<WalContents> contents = Replay();
  EXPECT_EQ(contents.status().code(), absl::StatusCode::kDataLoss) << contents.status();
  EXPECT_TRUE(absl::StrContains(contents.status().message(), segments_.back()));
  EXPECT_TRUE(absl::StrContains(contents.status().message(), absl::StrCat(original.size())))
      << contents.status();
  // A few zero bytes could still be the start of a torn header: truncated, as any torn tail.
  Overwrite(path, original + std::string(kRecordTypeOffset, '\0'));
  contents = Replay();
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_EQ(contents->truncated_tail_bytes, kRecordTypeOffset);
  EXPECT_TRUE(SameEntries(contents->entries, expected_));
}

TEST_F(WalCorruptionTest, TornEndOfAnEarlierSegmentIsCorruption) {
  const std::string path = PathOf(0);
  const std::string original = Contents(path);
  Overwrite(path, original.substr(0, original.size() - 3));
  absl::StatusOr<WalContents> contents = Replay();
  EXPECT_EQ(contents.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(contents.status().message(), segments_[0]));
}

TEST_F(WalCorruptionTest, MissingMiddleSegmentIsCorruption) {
  ASSERT_TRUE(sim_.fs()->RemoveFile(PathOf(1)).ok());
  EXPECT_EQ(Replay().status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(WalCorruptionTest, SegmentFromAnotherHistoryBreaksTheChecksumChain) {
  // A second log, written identically except one byte of data in its first segment:
  // its second segment is well-formed on its own but continues another chain.
  const std::string other_dir = "/other";
  {
    absl::StatusOr<std::unique_ptr<Wal>> wal =
        Wal::Create(sim_.fs(), other_dir, "node-1", options_);
    ASSERT_TRUE(wal.ok());
    Completions completions;
    for (uint64_t i = 1; i <= 30; i += 2) {
      std::vector<raftpb::Entry> batch = {
          MakeEntry(i, 1, absl::StrCat(i == 1 ? "VALUE-" : "value-", i)),
          MakeEntry(i + 1, 1, std::string(i * 3, 'v'))};
      ASSERT_TRUE((*wal)->Save(MakeHardState(1, 1, i), batch, completions.Track(0)).ok());
      if (i == 15) {
        ASSERT_TRUE((*wal)->SaveSnapshotMarker({10, 1}, completions.Track(0)).ok());
      }
      sim_.RunUntilIdle();
    }
    ASSERT_EQ((*wal)->SegmentNames(), segments_);
  }
  Overwrite(PathOf(1), Contents(JoinPath(other_dir, segments_[1])));
  absl::StatusOr<WalContents> contents = Replay();
  EXPECT_EQ(contents.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(contents.status().message(), "chain")) << contents.status();
}

TEST_F(WalCorruptionTest, TransientReadBitFlipsAreNeverServed) {
  sim::DiskFaults faults;
  faults.read_bit_flip_probability = 0.3;
  sim_.disk().set_faults(faults);
  int clean = 0;
  int refused = 0;
  for (int attempt = 0; attempt < 60; ++attempt) {
    absl::StatusOr<WalContents> contents = Replay();
    if (contents.ok()) {
      ++clean;
      EXPECT_TRUE(SameEntries(contents->entries, expected_));
      EXPECT_EQ(contents->truncated_tail_bytes, 0u);
    } else {
      ++refused;
      EXPECT_EQ(contents.status().code(), absl::StatusCode::kDataLoss) << contents.status();
    }
  }
  EXPECT_GT(refused, 0);
  EXPECT_GT(clean, 0);
}

}  // namespace
}  // namespace keel::storage
