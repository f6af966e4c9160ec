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
#include "storage/snapshot_stream.h"
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

// ---- Streaming ----

// Streams `name` from this snapshotter into `to` in chunks; returns Finish's result.
absl::StatusOr<SnapshotFileInfo> Transfer(const Snapshotter& from, Snapshotter* to,
                                          const std::string& name, size_t chunk_bytes,
                                          size_t* chunks) {
  absl::StatusOr<std::unique_ptr<SnapshotChunkReader>> reader =
      SnapshotChunkReader::Open(from, name, chunk_bytes);
  if (!reader.ok()) return reader.status();
  absl::StatusOr<std::unique_ptr<SnapshotChunkWriter>> writer = SnapshotChunkWriter::Create(to);
  if (!writer.ok()) return writer.status();
  std::string chunk;
  *chunks = 0;
  for (size_t guard = 0; guard < 1'000'000; ++guard) {
    absl::StatusOr<bool> more = (*reader)->Next(&chunk);
    if (!more.ok()) return more.status();
    if (!*more) return (*writer)->Finish();
    if (chunk.empty() || chunk.size() > chunk_bytes) return absl::InternalError("bad chunk size");
    ++*chunks;
    absl::Status s = (*writer)->Append(chunk);
    if (!s.ok()) return s;
  }
  return absl::InternalError("stream did not end");
}

class SnapshotStreamTest : public SnapshotterTest {
 protected:
  void SetUp() override {
    SnapshotterTest::SetUp();
    absl::StatusOr<std::unique_ptr<Snapshotter>> s = Snapshotter::Create(sim_.fs(), "/follower");
    ASSERT_TRUE(s.ok());
    follower_ = *std::move(s);
  }
  std::unique_ptr<Snapshotter> follower_;
};

TEST_F(SnapshotStreamTest, ChunkedTransferPublishesAnIdenticalSnapshotAtAnyChunkSize) {
  const raftpb::Snapshot snap = MakeSnapshot(4, 400, 5000);
  ASSERT_TRUE(snapshotter_->Save(snap).ok());
  const std::string name = SnapshotFileName(4, 400);
  const uint64_t file_bytes = *sim_.fs()->GetFileSize(JoinPath(kDir, name));
  for (size_t chunk_bytes : {size_t{1}, size_t{7}, size_t{48}, size_t{4096}, size_t{1} << 20}) {
    absl::StatusOr<std::unique_ptr<Snapshotter>> to =
        Snapshotter::Create(sim_.fs(), "/f" + std::to_string(chunk_bytes));
    ASSERT_TRUE(to.ok());
    size_t chunks = 0;
    absl::StatusOr<SnapshotFileInfo> info =
        Transfer(*snapshotter_, to->get(), name, chunk_bytes, &chunks);
    ASSERT_TRUE(info.ok()) << chunk_bytes << ": " << info.status();
    EXPECT_EQ(info->name, name);
    EXPECT_EQ(chunks, (file_bytes + chunk_bytes - 1) / chunk_bytes);
    sim_.Crash();  // published durably
    absl::StatusOr<LoadedSnapshot> loaded = (*to)->LoadNewest();
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    EXPECT_TRUE(Same(loaded->snapshot, snap));
  }
}

TEST_F(SnapshotStreamTest, CorruptionInTransitIsCaughtBeforePublishing) {
  ASSERT_TRUE(snapshotter_->Save(MakeSnapshot(4, 400, 3000)).ok());
  const std::string name = SnapshotFileName(4, 400);
  absl::StatusOr<std::unique_ptr<SnapshotChunkReader>> reader =
      SnapshotChunkReader::Open(*snapshotter_, name, 1000);
  ASSERT_TRUE(reader.ok());
  {
    absl::StatusOr<std::unique_ptr<SnapshotChunkWriter>> writer =
        SnapshotChunkWriter::Create(follower_.get());
    ASSERT_TRUE(writer.ok());
    std::string chunk;
    int n = 0;
    while (*(*reader)->Next(&chunk)) {
      if (n++ == 2) chunk[10] ^= 0x40;  // a flipped bit on the wire
      ASSERT_TRUE((*writer)->Append(chunk).ok());
    }
    EXPECT_EQ((*writer)->Finish().status().code(), absl::StatusCode::kDataLoss);
  }
  // Nothing published, and the abandoned temp file is gone.
  absl::StatusOr<std::vector<std::string>> files = sim_.fs()->GetChildren("/follower");
  ASSERT_TRUE(files.ok());
  EXPECT_TRUE(files->empty());
}

TEST_F(SnapshotStreamTest, TruncatedOrOverlongTransferIsRefused) {
  ASSERT_TRUE(snapshotter_->Save(MakeSnapshot(4, 400, 300)).ok());
  const std::string data = *ReadWholeFile(sim_.fs(), JoinPath(kDir, SnapshotFileName(4, 400)));
  {
    auto writer = *SnapshotChunkWriter::Create(follower_.get());
    ASSERT_TRUE(writer->Append(data.substr(0, data.size() - 1)).ok());
    EXPECT_EQ(writer->Finish().status().code(), absl::StatusCode::kDataLoss);
  }
  {
    auto writer = *SnapshotChunkWriter::Create(follower_.get());
    EXPECT_EQ(writer->Append(data + "extra").code(), absl::StatusCode::kDataLoss);
    EXPECT_EQ(writer->Finish().status().code(), absl::StatusCode::kDataLoss);  // sticky
  }
  {
    auto writer = *SnapshotChunkWriter::Create(follower_.get());
    ASSERT_TRUE(writer->Append(data.substr(0, 20)).ok());  // inside the header
    EXPECT_EQ(writer->Finish().status().code(), absl::StatusCode::kDataLoss);
  }
  {
    std::string bad_header = data;
    bad_header[9] ^= 1;
    auto writer = *SnapshotChunkWriter::Create(follower_.get());
    EXPECT_EQ(writer->Append(bad_header).code(), absl::StatusCode::kDataLoss);
  }
  EXPECT_TRUE(sim_.fs()->GetChildren("/follower")->empty());
}

TEST_F(SnapshotStreamTest, ReaderRefusesToFinishACorruptFile) {
  ASSERT_TRUE(snapshotter_->Save(MakeSnapshot(4, 400, 3000)).ok());
  const std::string name = SnapshotFileName(4, 400);
  ASSERT_TRUE(sim_.disk().CorruptByte(JoinPath(kDir, name), 2000).ok());
  absl::StatusOr<std::unique_ptr<SnapshotChunkReader>> reader =
      SnapshotChunkReader::Open(*snapshotter_, name, 512);
  ASSERT_TRUE(reader.ok());
  std::string chunk;
  absl::StatusOr<bool> more = true;
  for (int guard = 0; guard < 100 && more.ok() && *more; ++guard) more = (*reader)->Next(&chunk);
  EXPECT_EQ(more.status().code(), absl::StatusCode::kDataLoss);
}

// Power lost before any file-system call of a snapshot life cycle (save, save, purge,
// receive by streaming, save): afterwards the newest snapshot whose publication returned
// OK, or a newer one that was in progress, loads cleanly, and nothing is ever broken.
TEST(SnapshotterPowerCutTest, ThePublishedSnapshotSurvivesACutAtAnyCall) {
  struct Step {
    uint64_t index;  // snapshot published by this step (0: purge)
  };
  const std::vector<Step> steps = {{10}, {20}, {0}, {30}, {40}};
  auto run = [&](int64_t cut_at, int64_t* calls) {
    SimFs sim(/*seed=*/static_cast<uint64_t>(cut_at + 2));
    // The streamed snapshot comes from a leader's directory on the same disk.
    {
      absl::StatusOr<std::unique_ptr<Snapshotter>> leader =
          Snapshotter::Create(sim.fs(), "/leader");
      ASSERT_TRUE(leader.ok());
      ASSERT_TRUE((*leader)->Save(MakeSnapshot(3, 30, 2000)).ok());
    }
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
      } else if (index == 30) {
        attempted = index;
        absl::StatusOr<std::unique_ptr<Snapshotter>> leader =
            Snapshotter::Create(sim.fs(), "/leader");
        ASSERT_TRUE(leader.ok());
        size_t chunks = 0;
        s = Transfer(**leader, snapshotter->get(), SnapshotFileName(3, 30), 512, &chunks).status();
      } else {
        attempted = index;
        s = (*snapshotter)->Save(MakeSnapshot(index / 10, index, 700));
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
