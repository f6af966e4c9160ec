// VizPageBuilder: what it keeps, how it bounds the page and says so, node renaming, and
// that trace strings cannot break out of the page's <script>.
#include "papers/viz/trace_viz.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace keel::papers {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Line(int64_t t_ns, uint64_t node, const std::string& kind, const std::string& detail) {
  return "{\"t_ns\":" + std::to_string(t_ns) + ",\"node\":" + std::to_string(node) +
         ",\"kind\":\"" + kind + "\",\"detail\":{" + detail + "}}";
}

std::string Data(const std::string& page) {
  const std::string open = "<script id=\"trace-data\" type=\"application/json\">";
  const size_t start = page.find(open) + open.size();
  return page.substr(start, page.find("</script>", start) - start);
}

TEST(VizPage, KeepsTheKindsItDrawsAndSkipsTheRest) {
  VizPageBuilder b({});
  ASSERT_TRUE(b.AddLine(Line(0, 1, "raft.state", "\"role\":\"leader\",\"term\":2")).ok());
  ASSERT_TRUE(b.AddLine(Line(1, 1, "loop.timer", "\"id\":3")).ok());
  ASSERT_TRUE(b.AddLine(Line(2, 1, "net.send", "\"to\":2")).ok());
  ASSERT_TRUE(b.AddLine(Line(3, 0, "net.block", "\"from\":1,\"to\":2")).ok());
  // Lines of skipped kinds are not even parsed; a malformed kept one is an error.
  EXPECT_TRUE(b.AddLine("{\"kind\":\"loop.post\" not json").ok());
  EXPECT_FALSE(b.AddLine("{\"kind\":\"raft.state\" not json").ok());
  EXPECT_EQ(b.kept(), 2u);
  const std::string data = Data(b.Finish());
  EXPECT_THAT(data, HasSubstr("\"raft.state\""));
  EXPECT_THAT(data, HasSubstr("\"net.block\""));
  EXPECT_THAT(data, Not(HasSubstr("loop.timer")));
  EXPECT_THAT(data, HasSubstr("\"nodes\":[1,2]"));
  EXPECT_THAT(data, HasSubstr("\"labels\":{\"1\":\"S1\",\"2\":\"S2\"}"));
}

TEST(VizPage, BoundsTheWindowAndSaysWhatWasCut) {
  VizOptions options;
  options.max_events = 3;
  VizPageBuilder b(options);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(b.AddLine(Line(i * 1'000'000, 1, "raft.append",
                               "\"index\":" + std::to_string(i + 1) + ",\"term\":1"))
                    .ok());
  }
  EXPECT_EQ(b.kept(), 3u);
  const std::string page = b.Finish();
  EXPECT_THAT(page, HasSubstr("7 later events (from t = 3.000 ms) are not shown"));
  EXPECT_THAT(Data(page), Not(HasSubstr("\"index\":4")));
}

TEST(VizPage, StateFromBeforeTheWindowIsReplayedButMessagesAreNot) {
  VizOptions options;
  options.from_ns = 5'000'000;
  VizPageBuilder b(options);
  ASSERT_TRUE(b.AddLine(Line(1'000'000, 1, "raft.append", "\"index\":1,\"term\":1")).ok());
  ASSERT_TRUE(
      b.AddLine(Line(1'000'000, 1, "raft.send", "\"id\":1,\"to\":2,\"type\":\"MsgApp\"")).ok());
  ASSERT_TRUE(b.AddLine(Line(6'000'000, 2, "raft.recv", "\"id\":1,\"from\":1")).ok());
  const std::string data = Data(b.Finish());
  EXPECT_THAT(data, HasSubstr("\"t0\":5000000"));
  EXPECT_THAT(data, HasSubstr("raft.append"));
  EXPECT_THAT(data, Not(HasSubstr("raft.send")));
}

TEST(VizPage, RenumbersClusterMembersInStartOrder) {
  VizPageBuilder b({});
  const uint64_t a = 17271105591216381163u, c = 1125978668410061015u;
  ASSERT_TRUE(b.AddLine(Line(0, a, "node.start", "")).ok());
  ASSERT_TRUE(b.AddLine(Line(0, c, "node.start", "")).ok());
  ASSERT_TRUE(
      b.AddLine(Line(1, a, "raft.send",
                     "\"id\":9,\"to\":" + std::to_string(c) + ",\"type\":\"MsgVote\",\"index\":12"))
          .ok());
  const std::string page = b.Finish();
  const std::string data = Data(page);
  EXPECT_THAT(data, HasSubstr("[1,1,\"raft.send\",{\"id\":9,\"index\":12,\"to\":2,"));
  EXPECT_THAT(data, HasSubstr("\"labels\":{\"1\":\"n1\",\"2\":\"n2\"}"));
  EXPECT_THAT(page, HasSubstr("Members n1..n2 are numbered in the order the cluster started them"));
}

TEST(VizPage, TraceStringsCannotEndTheScript) {
  VizOptions options;
  options.title = "<b>title</b>";
  VizPageBuilder b(options);
  ASSERT_TRUE(
      b.AddLine(Line(0, 1, "node.refused", "\"reason\":\"</script><script>alert(1)\"")).ok());
  const std::string page = b.Finish();
  EXPECT_THAT(Data(page), HasSubstr("\\u003c/script>"));
  EXPECT_EQ(page.find("</script><script>alert"), std::string::npos);
  EXPECT_THAT(page, HasSubstr("&lt;b&gt;title&lt;/b&gt;"));
  // Self-contained: nothing is fetched.
  EXPECT_THAT(page, Not(HasSubstr("src=")));
  EXPECT_THAT(page, Not(HasSubstr("href=")));
}

}  // namespace
}  // namespace keel::papers
