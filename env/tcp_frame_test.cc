#include "env/tcp_frame.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace keel::env {
namespace {

std::vector<Frame> DecodeAll(FrameDecoder* decoder) {
  std::vector<Frame> frames;
  Frame frame;
  // Bounded: each true result consumes a frame's bytes.
  while (true) {
    absl::StatusOr<bool> next = decoder->Next(&frame);
    EXPECT_TRUE(next.ok()) << next.status();
    if (!next.ok() || !*next) break;
    frames.push_back(frame);
  }
  return frames;
}

TEST(TcpFrameTest, HeaderLayoutIsLittleEndianSizeCrcFrom) {
  std::string out;
  AppendFrame(0x0102030405060708ULL, "hi", &out);
  ASSERT_EQ(out.size(), kFrameHeaderBytes + 2);
  EXPECT_EQ(out.substr(0, 4), std::string("\x02\x00\x00\x00", 4));
  EXPECT_EQ(out.substr(8, 8), std::string("\x08\x07\x06\x05\x04\x03\x02\x01", 8));
  EXPECT_EQ(out.substr(16), "hi");
}

TEST(TcpFrameTest, RoundTripsAcrossEverySplitPoint) {
  std::string stream;
  AppendFrame(7, "first", &stream);
  AppendFrame(8, "", &stream);
  AppendFrame(9, std::string(1000, 'z'), &stream);
  for (size_t split = 0; split <= stream.size(); ++split) {
    FrameDecoder decoder(1 << 20);
    decoder.Feed(std::string_view(stream).substr(0, split));
    std::vector<Frame> frames = DecodeAll(&decoder);
    decoder.Feed(std::string_view(stream).substr(split));
    for (Frame& f : DecodeAll(&decoder)) frames.push_back(std::move(f));
    ASSERT_EQ(frames.size(), 3u) << "split " << split;
    EXPECT_EQ(frames[0].from, 7u);
    EXPECT_EQ(frames[0].payload, "first");
    EXPECT_EQ(frames[1].from, 8u);
    EXPECT_EQ(frames[1].payload, "");
    EXPECT_EQ(frames[2].from, 9u);
    EXPECT_EQ(frames[2].payload, std::string(1000, 'z'));
    EXPECT_EQ(decoder.buffered_bytes(), 0u);
  }
}

TEST(TcpFrameTest, AnyFlippedBitOutsideTheLengthIsDetected) {
  std::string good;
  AppendFrame(42, "payload bytes", &good);
  for (size_t byte = 4; byte < good.size(); ++byte) {
    std::string bad = good;
    bad[byte] ^= 0x10;
    FrameDecoder decoder(1 << 20);
    decoder.Feed(bad);
    Frame frame;
    const absl::StatusOr<bool> next = decoder.Next(&frame);
    ASSERT_FALSE(next.ok()) << "byte " << byte;
    EXPECT_EQ(next.status().code(), absl::StatusCode::kDataLoss);
    // Sticky: the stream is unusable.
    decoder.Feed(good);
    EXPECT_FALSE(decoder.Next(&frame).ok());
  }
}

TEST(TcpFrameTest, AbsurdLengthIsRejectedBeforeBuffering) {
  std::string frame;
  AppendFrame(1, std::string(101, 'x'), &frame);
  FrameDecoder decoder(100);
  decoder.Feed(std::string_view(frame).substr(0, kFrameHeaderBytes));  // header only
  Frame out;
  const absl::StatusOr<bool> next = decoder.Next(&out);
  ASSERT_FALSE(next.ok());
  EXPECT_EQ(next.status().code(), absl::StatusCode::kDataLoss);
}

TEST(TcpFrameTest, BatchCoalescesUpToTheLimitButAlwaysTakesOne) {
  std::deque<std::string> queue = {"aaaa", "bbbb", "cccc", std::string(500, 'd'), "e"};
  std::string out;
  // Room for exactly three 20-byte frames.
  EXPECT_EQ(AppendBatch(5, 60, &queue, &out), 3u);
  EXPECT_EQ(out.size(), 60u);
  EXPECT_EQ(queue.size(), 2u);
  out.clear();
  EXPECT_EQ(AppendBatch(5, 60, &queue, &out), 1u);  // oversized frame goes alone
  EXPECT_EQ(out.size(), kFrameHeaderBytes + 500);
  out.clear();
  EXPECT_EQ(AppendBatch(5, 60, &queue, &out), 1u);
  EXPECT_EQ(AppendBatch(5, 60, &queue, &out), 0u);
  FrameDecoder decoder(1000);
  decoder.Feed(out);
  std::vector<Frame> frames = DecodeAll(&decoder);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].payload, "e");
}

}  // namespace
}  // namespace keel::env
