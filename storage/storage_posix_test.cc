// The WAL and the Snapshotter on the real file system (env/posix_fs.h): the same
// contracts as the simulated tests, checked against real rename, fsync and locking.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "storage/snapshotter.h"
#include "storage/testing/posix_harness.h"
#include "storage/testing/sim_fs.h"
#include "storage/wal.h"

namespace keel::storage {
namespace {

using testing::MakeEntry;
using testing::MakeHardState;
using testing::PosixHarness;

std::string TestRoot() {
  const char* dir = std::getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : "/tmp";
}

TEST(StoragePosixTest, WalSavesSurviveReopenAcrossSegmentCuts) {
  absl::StatusOr<std::unique_ptr<PosixHarness>> h = PosixHarness::Create(TestRoot(), "wal");
  ASSERT_TRUE(h.ok()) << h.status();
  WalOptions options;
  options.segment_size_bytes = 4096;
  {
    absl::StatusOr<std::unique_ptr<Wal>> wal = Wal::Create((*h)->fs(), (*h)->dir(), "m", options);
    ASSERT_TRUE(wal.ok()) << wal.status();
    for (uint64_t i = 1; i <= 60; i += 3) {
      std::vector<raftpb::Entry> batch;
      for (uint64_t j = i; j < i + 3; ++j) batch.push_back(MakeEntry(j, 1, std::string(300, 'e')));
      ASSERT_TRUE((*h)->SaveAndWait(wal->get(), MakeHardState(1, 1, i), batch).ok());
    }
    EXPECT_GT((*wal)->SegmentNames().size(), 3u);
  }
  absl::StatusOr<std::unique_ptr<Wal>> wal = Wal::Open((*h)->fs(), (*h)->dir(), {}, options);
  ASSERT_TRUE(wal.ok()) << wal.status();
  EXPECT_EQ(Wal::Open((*h)->fs(), (*h)->dir(), {}, options).status().code(),
            absl::StatusCode::kFailedPrecondition);  // the directory lock is real
  absl::StatusOr<WalContents> contents = (*wal)->ReadAll();
  ASSERT_TRUE(contents.ok()) << contents.status();
  ASSERT_EQ(contents->entries.size(), 60u);
  EXPECT_EQ(contents->entries.back().index(), 60u);
  EXPECT_EQ(contents->hard_state.commit(), 58u);
  ASSERT_TRUE((*h)->SaveAndWait(wal->get(), MakeHardState(2, 1, 60), {MakeEntry(61, 2, "x")}).ok());
}

TEST(StoragePosixTest, SnapshotterRoundTrip) {
  absl::StatusOr<std::unique_ptr<PosixHarness>> h = PosixHarness::Create(TestRoot(), "snap");
  ASSERT_TRUE(h.ok()) << h.status();
  absl::StatusOr<std::unique_ptr<Snapshotter>> snapshotter =
      Snapshotter::Create((*h)->fs(), (*h)->dir());
  ASSERT_TRUE(snapshotter.ok()) << snapshotter.status();
  raftpb::Snapshot snap;
  snap.mutable_metadata()->set_index(42);
  snap.mutable_metadata()->set_term(3);
  snap.set_data(std::string(100000, 'd'));
  ASSERT_TRUE((*snapshotter)->Save(snap).ok());
  absl::StatusOr<LoadedSnapshot> loaded = (*snapshotter)->LoadNewest();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->snapshot.SerializeAsString(), snap.SerializeAsString());
}

}  // namespace
}  // namespace keel::storage
