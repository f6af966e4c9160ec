// Snapshot files: durable atomic publication, verification on load, fallback past broken
// files, purge, and chunked streaming with verification on both ends.
#include "storage/snapshotter.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "storage/file_util.h"
#include "storage/format.h"
#include "storage/snapshot_file.h"
#include "storage/testing/power_cut_fs.h"
#include "storage/testing/sim_fs.h"

namespace keel::storage {
namespace {

using testing::FlipBit;
using testing::PowerCutFs;
using testing::SimFs;

constexpr char kDir[] = "/snap";

raftpb::Snapshot MakeSnapshot(uint64_t term, uint64_t index, size_t data_bytes) {
  raftpb::Snapshot s;
  s.mutable_metadata()->set_term(term);
  s.mutable_metadata()->set_index(index);
  s.mutable_metadata()->mutable_conf_state();
  std::string data(data_bytes, '\0');
  for (size_t i = 0; i < data_bytes; ++i) data[i] = static_cast<char>('a' + (i * 7 + index) % 26);
  s.set_data(data);
  return s;
}

bool Same(const raftpb::Snapshot& a, const raftpb::Snapshot& b) {
  return a.SerializeAsString() == b.SerializeAsString();
}

class SnapshotterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<Snapshotter>> s = Snapshotter::Create(sim_.fs(), kDir);
    ASSERT_TRUE(s.ok()) << s.status();
    snapshotter_ = *std::move(s);
  }

  std::vector<std::string> Files() {
    absl::StatusOr<std::vector<std::string>> children = sim_.fs()->GetChildren(kDir);
    EXPECT_TRUE(children.ok());
    return children.ok() ? *children : std::vector<std::string>{};
  }

  SimFs sim_{/*seed=*/3};
  std::unique_ptr<Snapshotter> snapshotter_;
};

TEST_F(SnapshotterTest, SavedSnapshotLoadsBackAndIsNamedTermIndex) {
  const raftpb::Snapshot snap = MakeSnapshot(3, 0x1234, 1000);
  ASSERT_TRUE(snapshotter_->Save(snap).ok());
  EXPECT_EQ(Files(), std::vector<std::string>{"0000000000000003-0000000000001234.snap"});
  absl::StatusOr<LoadedSnapshot> loaded = snapshotter_->LoadNewest();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE(Same(loaded->snapshot, snap));
  EXPECT_TRUE(loaded->broken.empty());
}

TEST_F(SnapshotterTest, SavedSnapshotSurvivesPowerLoss) {
  ASSERT_TRUE(snapshotter_->Save(MakeSnapshot(1, 5, 300)).ok());
  sim_.Crash();
  absl::StatusOr<LoadedSnapshot> loaded = snapshotter_->LoadNewest();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->snapshot.metadata().index(), 5u);
}

TEST_F(SnapshotterTest, SaveRefusesIndexZeroAndDuplicates) {
  EXPECT_EQ(snapshotter_->Save(MakeSnapshot(1, 0, 1)).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(snapshotter_->Save(MakeSnapshot(1, 9, 1)).ok());
  EXPECT_EQ(snapshotter_->Save(MakeSnapshot(1, 9, 1)).code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(SnapshotterTest, NoSnapshotIsNotFound) {
  EXPECT_EQ(snapshotter_->LoadNewest().status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SnapshotterTest, ListIsNewestFirstAndPurgeKeepsTheNewestN) {
  for (uint64_t i = 1; i <= 5; ++i)
    ASSERT_TRUE(snapshotter_->Save(MakeSnapshot(i, i * 10, 10)).ok());
  absl::StatusOr<std::vector<SnapshotFileInfo>> list = snapshotter_->List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 5u);
  EXPECT_EQ((*list)[0].index, 50u);
  EXPECT_EQ((*list)[4].index, 10u);
  ASSERT_TRUE(snapshotter_->Purge(2).ok());
  list = snapshotter_->List();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].index, 50u);
  EXPECT_EQ((*list)[1].index, 40u);
  sim_.Crash();  // purge is durable
  EXPECT_EQ(snapshotter_->List()->size(), 2u);
}

TEST_F(SnapshotterTest, CorruptNewestIsRenamedBrokenAndTheNextOlderIsLoaded) {
  ASSERT_TRUE(snapshotter_->Save(MakeSnapshot(1, 10, 500)).ok());
  ASSERT_TRUE(snapshotter_->Save(MakeSnapshot(2, 20, 500)).ok());
  const std::string newest = SnapshotFileName(2, 20);
  ASSERT_TRUE(sim_.disk().CorruptByte(JoinPath(kDir, newest), 300).ok());
  absl::StatusOr<LoadedSnapshot> loaded = snapshotter_->LoadNewest();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->snapshot.metadata().index(), 10u);
  EXPECT_EQ(loaded->broken, std::vector<std::string>{newest});
  EXPECT_TRUE(sim_.fs()->FileExists(JoinPath(kDir, newest + ".broken")));
  EXPECT_FALSE(sim_.fs()->FileExists(JoinPath(kDir, newest)));
  // Broken files are kept for post-mortem, not listed, not purged.
  EXPECT_EQ(snapshotter_->List()->size(), 1u);
  ASSERT_TRUE(snapshotter_->Purge(1).ok());
  EXPECT_TRUE(sim_.fs()->FileExists(JoinPath(kDir, newest + ".broken")));
}

TEST_F(SnapshotterTest, AllBrokenIsNotFoundNamingThem) {
  ASSERT_TRUE(snapshotter_->Save(MakeSnapshot(1, 10, 50)).ok());
  ASSERT_TRUE(sim_.disk().CorruptByte(JoinPath(kDir, SnapshotFileName(1, 10)), 60).ok());
  absl::StatusOr<LoadedSnapshot> loaded = snapshotter_->LoadNewest();
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(loaded.status().message(), SnapshotFileName(1, 10)));
}

TEST_F(SnapshotterTest, EveryFlippedBitMakesLoadFail) {
  ASSERT_TRUE(snapshotter_->Save(MakeSnapshot(7, 77, 40)).ok());
  const std::string name = SnapshotFileName(7, 77);
  const std::string path = JoinPath(kDir, name);
  const uint64_t size_bytes = *sim_.fs()->GetFileSize(path);
  for (uint64_t bit = 0; bit < size_bytes * 8; ++bit) {
    ASSERT_TRUE(FlipBit(sim_.fs(), path, bit).ok());
    EXPECT_EQ(snapshotter_->Load(name).status().code(), absl::StatusCode::kDataLoss)
        << "bit " << bit;
    ASSERT_TRUE(FlipBit(sim_.fs(), path, bit).ok());
  }
  EXPECT_TRUE(snapshotter_->Load(name).ok());
}

TEST_F(SnapshotterTest, TruncatedOrExtendedFileFailsToLoad) {
  ASSERT_TRUE(snapshotter_->Save(MakeSnapshot(1, 3, 100)).ok());
  const std::string name = SnapshotFileName(1, 3);
  const std::string path = JoinPath(kDir, name);
  const std::string original = *ReadWholeFile(sim_.fs(), path);
  ASSERT_TRUE(WriteFileSync(sim_.fs(), path, original.substr(0, original.size() - 1)).ok());
  EXPECT_EQ(snapshotter_->Load(name).status().code(), absl::StatusCode::kDataLoss);
  ASSERT_TRUE(WriteFileSync(sim_.fs(), path, original + "x").ok());
  EXPECT_EQ(snapshotter_->Load(name).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(SnapshotterTest, FileUnderTheWrongNameFailsToLoad) {
  ASSERT_TRUE(snapshotter_->Save(MakeSnapshot(1, 3, 100)).ok());
  const std::string wrong = SnapshotFileName(1, 4);
  ASSERT_TRUE(
      sim_.fs()->Rename(JoinPath(kDir, SnapshotFileName(1, 3)), JoinPath(kDir, wrong)).ok());
  EXPECT_EQ(snapshotter_->Load(wrong).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(SnapshotterTest, UnpublishedTempFilesAreIgnoredAndCleanedUp) {
  ASSERT_TRUE(
      WriteFileSync(sim_.fs(), JoinPath(kDir, SnapshotFileName(9, 90) + ".tmp"), "junk").ok());
  ASSERT_TRUE(snapshotter_->Save(MakeSnapshot(1, 5, 10)).ok());
  absl::StatusOr<LoadedSnapshot> loaded = snapshotter_->LoadNewest();
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->snapshot.metadata().index(), 5u);
  ASSERT_TRUE(Snapshotter::Create(sim_.fs(), kDir).ok());
  EXPECT_EQ(Files(), std::vector<std::string>{SnapshotFileName(1, 5)});
}

TEST_F(SnapshotterTest, LoadNewestAvailableSkipsSnapshotsTheWalHasNoMarkerFor) {
  ASSERT_TRUE(snapshotter_->Save(MakeSnapshot(1, 10, 10)).ok());
  ASSERT_TRUE(snapshotter_->Save(MakeSnapshot(2, 20, 10)).ok());  // crash before its marker
  const std::vector<WalSnapshot> markers = {{0, 0}, {10, 1}};
  absl::StatusOr<LoadedSnapshot> loaded = snapshotter_->LoadNewestAvailable(markers);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->snapshot.metadata().index(), 10u);
  EXPECT_EQ(snapshotter_->LoadNewestAvailable({{0, 0}}).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(SnapshotterPowerCutTest, ThePublishedSnapshotSurvivesACutAtAnyCall) {
  struct Step {
    uint64_t index;  // snapshot published by this step (0: purge)
  };
  const std::vector<Step> steps = {{10}, {20}, {0}, {30}, {40}};
  auto run = [&](int64_t cut_at, int64_t* calls) {
    SimFs sim(/*seed=*/static_cast<uint64_t>(cut_at + 2));
    PowerCutFs fs(sim.fs());
    fs.Arm(cut_at, [&sim] { sim.disk().Crash(); });
    uint64_t published = 0;  // newest index whose step returned OK
    uint64_t attempted = 0;  // newest index a step started on
    absl::StatusOr<std::unique_ptr<Snapshotter>> snapshotter = Snapshotter::Create(&fs, kDir);
    for (size_t i = 0; snapshotter.ok() && i < steps.size() && !fs.cut(); ++i) {
      const uint64_t index = steps[i].index;
      absl::Status s;
      if (index == 0) {
        s = (*snapshotter)->Purge(1);
      } else {
        attempted = index;
        s = (*snapshotter)->Save(MakeSnapshot(index / 10, index, index == 30 ? 2000 : 700));
      }
      if (s.ok() && index != 0) published = index;
      if (!s.ok()) {
        EXPECT_TRUE(fs.cut()) << s;
      }
    }
    *calls = fs.operations();
    if (cut_at < 0) {
      EXPECT_EQ(published, 40u);
      return;
    }
    if (!fs.cut()) return;
    absl::StatusOr<std::unique_ptr<Snapshotter>> after = Snapshotter::Create(sim.fs(), kDir);
    ASSERT_TRUE(after.ok()) << after.status();
    absl::StatusOr<LoadedSnapshot> loaded = (*after)->LoadNewest();
    if (published == 0 && !loaded.ok()) {
      EXPECT_EQ(loaded.status().code(), absl::StatusCode::kNotFound) << loaded.status();
      return;
    }
    ASSERT_TRUE(loaded.ok()) << "cut " << cut_at << ": " << loaded.status();
    EXPECT_TRUE(loaded->broken.empty()) << "cut " << cut_at;
    EXPECT_GE(loaded->snapshot.metadata().index(), published) << "cut " << cut_at;
    EXPECT_LE(loaded->snapshot.metadata().index(), attempted) << "cut " << cut_at;
    EXPECT_TRUE(
        Same(loaded->snapshot, loaded->snapshot.metadata().index() == 30
                                   ? MakeSnapshot(3, 30, 2000)
                                   : MakeSnapshot(loaded->snapshot.metadata().index() / 10,
                                                  loaded->snapshot.metadata().index(), 700)));
  };
  int64_t total_calls = 0;
  run(-1, &total_calls);
  ASSERT_GT(total_calls, 20);
  for (int64_t k = 0; k <= total_calls; ++k) {
    int64_t unused = 0;
    run(k, &unused);
    if (::testing::Test::HasFailure()) return;
  }
}

}  // namespace
}  // namespace keel::storage
