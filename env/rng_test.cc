#include "env/rng.h"

#include <set>

#include "gtest/gtest.h"

namespace keel::env {
namespace {

TEST(RngTest, SameSeedSameSequence) {
  Rng a(42), b(42);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(a.Next(), b.Next());
}

TEST(RngTest, DifferentSeedsDiffer) {
  Rng a(1), b(2);
  int equal = 0;
  for (int i = 0; i < 100; ++i) equal += a.Next() == b.Next();
  EXPECT_EQ(equal, 0);
}

// Golden values pin the algorithm: a change here silently breaks every recorded seed.
TEST(RngTest, SequenceIsPinned) {
  Rng r(0);
  EXPECT_EQ(r.Next(), 0x99ec5f36cb75f2b4ULL);
  EXPECT_EQ(r.Next(), 0xbf6e1f784956452aULL);
  EXPECT_EQ(StableHash("raft.election"), StableHash("raft.election"));
  EXPECT_NE(StableHash("raft.election"), StableHash("raft.electio"));
}

TEST(RngTest, StreamDependsOnSeedAndLabelNotPosition) {
  Rng parent(7);
  Rng before = parent.Stream("net");
  for (int i = 0; i < 10; ++i) parent.Next();
  Rng after = parent.Stream("net");
  EXPECT_EQ(before.Next(), after.Next());
  EXPECT_NE(parent.Stream("net").Next(), parent.Stream("disk").Next());
  EXPECT_NE(Rng(7).Stream("net").Next(), Rng(8).Stream("net").Next());
}

TEST(RngTest, UniformStaysInBoundsAndCoversRange) {
  Rng r(3);
  std::set<uint64_t> seen;
  for (int i = 0; i < 10000; ++i) {
    uint64_t v = r.Uniform(10);
    ASSERT_LT(v, 10u);
    seen.insert(v);
  }
  EXPECT_EQ(seen.size(), 10u);
  for (int i = 0; i < 1000; ++i) {
    int64_t v = r.UniformRange(-5, 5);
    ASSERT_GE(v, -5);
    ASSERT_LE(v, 5);
  }
  EXPECT_EQ(r.UniformRange(4, 4), 4);
}

TEST(RngTest, ChanceExtremesAndRoughFrequency) {
  Rng r(11);
  int hits = 0;
  for (int i = 0; i < 10000; ++i) {
    ASSERT_FALSE(r.Chance(0));
    ASSERT_TRUE(r.Chance(1));
    hits += r.Chance(0.25);
    double d = r.NextDouble();
    ASSERT_GE(d, 0.0);
    ASSERT_LT(d, 1.0);
  }
  EXPECT_GT(hits, 2200);
  EXPECT_LT(hits, 2800);
}

}  // namespace
}  // namespace keel::env
