// Backend images: round trip, and every corruption or truncation is refused, never served.
#include "storage/backend_image.h"

#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "storage/file_util.h"
#include "storage/snapshot_file.h"
#include "storage/format.h"
#include "storage/testing/sim_fs.h"

namespace keel::storage {
namespace {

using Records = std::vector<std::pair<std::string, std::string>>;

Records Sample() {
  return {{std::string("key\0a", 5), "1"}, {"key\0b", std::string(300, 'v')}, {"meta\0ci", ""}};
}

absl::StatusOr<BackendImageInfo> Write(env::FileSystem* fs, const std::string& path,
                                       const Records& records) {
  auto w = BackendImageWriter::Create(fs, path);
  if (!w.ok()) return w.status();
  for (const auto& [k, v] : records) {
    absl::Status s = (*w)->Add(k, v);
    if (!s.ok()) return s;
  }
  return (*w)->Finish();
}

absl::StatusOr<Records> ReadAll(env::FileSystem* fs, const std::string& path) {
  auto r = BackendImageReader::Open(fs, path);
  if (!r.ok()) return r.status();
  Records out;
  std::string k, v;
  for (int guard = 0; guard < 1000; ++guard) {
    absl::StatusOr<bool> more = (*r)->Next(&k, &v);
    if (!more.ok()) return more.status();
    if (!*more) return out;
    out.emplace_back(k, v);
  }
  return absl::InternalError("no end");
}

TEST(BackendImageTest, RoundTripAndInfoDescribesTheFile) {
  testing::SimFs sim(1);
  auto info = Write(sim.fs(), "/img", Sample());
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->records, 3u);
  auto bytes = ReadWholeFile(sim.fs(), "/img");
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(info->size_bytes, bytes->size());
  EXPECT_EQ(info->crc, ExtendCrc(0, *bytes));
  EXPECT_EQ(bytes->substr(0, 8), kImageMagic);
  auto back = ReadAll(sim.fs(), "/img");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, Sample());
}

TEST(BackendImageTest, EmptyBackendIsAValidImage) {
  testing::SimFs sim(2);
  ASSERT_TRUE(Write(sim.fs(), "/img", {}).ok());
  auto back = ReadAll(sim.fs(), "/img");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(back->empty());
}

TEST(BackendImageTest, EveryBitFlipIsDetected) {
  testing::SimFs sim(3);
  auto info = Write(sim.fs(), "/good", Sample());
  ASSERT_TRUE(info.ok());
  auto good = ReadWholeFile(sim.fs(), "/good");
  ASSERT_TRUE(good.ok());
  for (uint64_t bit = 0; bit < 8 * good->size(); ++bit) {
    ASSERT_TRUE(WriteFileSync(sim.fs(), "/bad", *good).ok());
    ASSERT_TRUE(testing::FlipBit(sim.fs(), "/bad", bit).ok());
    auto back = ReadAll(sim.fs(), "/bad");
    ASSERT_FALSE(back.ok()) << "bit " << bit << " flipped yet the image read back";
    EXPECT_EQ(back.status().code(), absl::StatusCode::kDataLoss) << back.status();
  }
}

TEST(BackendImageTest, EveryTruncationAndAnyExtraByteIsDetected) {
  testing::SimFs sim(4);
  ASSERT_TRUE(Write(sim.fs(), "/good", Sample()).ok());
  auto good = ReadWholeFile(sim.fs(), "/good");
  ASSERT_TRUE(good.ok());
  for (size_t n = 0; n < good->size(); ++n) {
    ASSERT_TRUE(WriteFileSync(sim.fs(), "/bad", good->substr(0, n)).ok());
    EXPECT_FALSE(ReadAll(sim.fs(), "/bad").ok()) << "prefix of " << n << " bytes accepted";
  }
  ASSERT_TRUE(WriteFileSync(sim.fs(), "/bad", *good + "x").ok());
  EXPECT_FALSE(ReadAll(sim.fs(), "/bad").ok());
}

TEST(BackendImageTest, AnUnfinishedWriterLeavesNoFile) {
  testing::SimFs sim(5);
  {
    auto w = BackendImageWriter::Create(sim.fs(), "/img");
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Add("k", "v").ok());
  }
  EXPECT_FALSE(sim.fs()->FileExists("/img"));
}

TEST(BackendImageTest, LargeImagesAreWrittenInBoundedPieces) {
  testing::SimFs sim(6);
  Records many;
  for (int i = 0; i < 300; ++i) many.emplace_back("key\0" + std::to_string(i), std::string(10000, 'a' + i % 26));
  auto info = Write(sim.fs(), "/img", many);
  ASSERT_TRUE(info.ok());
  EXPECT_GT(info->size_bytes, 2 * kImageWriteBufferBytes);
  auto back = ReadAll(sim.fs(), "/img");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, many);
}

}  // namespace
}  // namespace keel::storage
