// Config::election_tick_max: the randomized election timeout is drawn uniformly from the
// half-open range [election_tick, election_tick_max) (§5.2), with 0 meaning etcd's
// [T, 2T) and asking the RandomSource for exactly the draw it always asked for (so the
// golden transcripts in testdata/ stay byte-identical).
#include <map>
#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "raft/raft.h"
#include "raft/rawnode.h"

namespace keel::raft {
namespace {

// Wraps SplitMix64 and records every n Raft asks for.
class RecordingSource final : public RandomSource {
 public:
  explicit RecordingSource(uint64_t seed) : inner_(seed) {}
  uint64_t Uniform(uint64_t n) override {
    asked.push_back(n);
    return inner_.Uniform(n);
  }
  std::vector<uint64_t> asked;

 private:
  SplitMix64Source inner_;
};

struct Node {
  MemoryStorage storage;
  RecordingSource random{7};
  std::unique_ptr<RawNode> node;
};

std::unique_ptr<Node> MakeNode(int election_tick, int election_tick_max) {
  auto n = std::make_unique<Node>();
  raftpb::ConfState cs;
  cs.add_voters(1);
  cs.add_voters(2);
  cs.add_voters(3);
  n->storage.SetInitialConfState(cs);
  Config c;
  c.id = 1;
  c.election_tick = election_tick;
  c.election_tick_max = election_tick_max;
  c.heartbeat_tick = 1;
  c.storage = &n->storage;
  c.random = &n->random;
  auto created = RawNode::Create(c);
  EXPECT_TRUE(created.ok()) << created.status();
  if (!created.ok()) return nullptr;
  n->node = *std::move(created);
  return n;
}

absl::Status CreateStatus(int election_tick, int election_tick_max) {
  MemoryStorage storage;
  SplitMix64Source random(1);
  Config c;
  c.id = 1;
  c.election_tick = election_tick;
  c.election_tick_max = election_tick_max;
  c.heartbeat_tick = 1;
  c.storage = &storage;
  c.random = &random;
  return RawNode::Create(c).status();
}

// Histogram of `draws` timeouts: each BecomeFollower resets the timer (§5.2).
std::map<int, int> Draw(Node& n, int draws) {
  std::map<int, int> seen;
  for (int i = 0; i < draws; ++i) {
    n.node->mutable_raft_for_testing().BecomeFollower(n.node->raft().term() + 1, 0);
    ++seen[n.node->raft().randomized_election_timeout()];
  }
  return seen;
}

TEST(ElectionTimeout, ValidationAcceptsZeroAndTheRangeOnly) {
  EXPECT_TRUE(CreateStatus(10, 0).ok());
  EXPECT_TRUE(CreateStatus(10, 10).ok());  // fixed timeout
  EXPECT_TRUE(CreateStatus(10, 11).ok());
  EXPECT_TRUE(CreateStatus(10, 1000).ok());  // the 100x bound itself
  EXPECT_EQ(CreateStatus(10, 9).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CreateStatus(10, 1001).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CreateStatus(10, -1).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ElectionTimeout, ZeroMeansTwiceElectionTickWithTheSameDraws) {
  std::unique_ptr<Node> n = MakeNode(10, 0);
  ASSERT_NE(n, nullptr);
  const std::map<int, int> seen = Draw(*n, 2000);
  // Every value of [10, 20) and nothing else.
  ASSERT_EQ(seen.size(), 10u);
  EXPECT_EQ(seen.begin()->first, 10);
  EXPECT_EQ(seen.rbegin()->first, 19);
  // The RandomSource is asked for Uniform(election_tick), as before the field existed.
  ASSERT_FALSE(n->random.asked.empty());
  for (uint64_t asked : n->random.asked) EXPECT_EQ(asked, 10u);
}

TEST(ElectionTimeout, NarrowRangeIsUniformOverExactlyItsValues) {
  // The paper's "150-155 ms" at 1 ms ticks: five values, each about a fifth of the time.
  std::unique_ptr<Node> n = MakeNode(150, 155);
  ASSERT_NE(n, nullptr);
  const int draws = 5000;
  const std::map<int, int> seen = Draw(*n, draws);
  ASSERT_EQ(seen.size(), 5u);
  EXPECT_EQ(seen.begin()->first, 150);
  EXPECT_EQ(seen.rbegin()->first, 154);
  for (const auto& [ticks, count] : seen) {
    // Expected 1000 each; 800..1200 is > 6 standard deviations wide for a fair source.
    EXPECT_GT(count, 800) << ticks;
    EXPECT_LT(count, 1200) << ticks;
  }
  for (uint64_t asked : n->random.asked) EXPECT_EQ(asked, 5u);
}

TEST(ElectionTimeout, EqualBoundsMeanAFixedTimeoutAndNoDraw) {
  std::unique_ptr<Node> n = MakeNode(150, 150);
  ASSERT_NE(n, nullptr);
  const std::map<int, int> seen = Draw(*n, 100);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen.begin()->first, 150);
  EXPECT_TRUE(n->random.asked.empty());
}

TEST(ElectionTimeout, WideRangeBeyondTwiceElectionTick) {
  // 12-24 is [T, 2T); 50-200 would be [T, 4T), which the field allows.
  std::unique_ptr<Node> n = MakeNode(50, 200);
  ASSERT_NE(n, nullptr);
  const std::map<int, int> seen = Draw(*n, 20000);
  EXPECT_EQ(seen.begin()->first, 50);
  EXPECT_EQ(seen.rbegin()->first, 199);
  EXPECT_EQ(seen.size(), 150u);
}

}  // namespace
}  // namespace keel::raft
