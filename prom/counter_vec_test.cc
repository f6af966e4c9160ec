#include "prom/counter_vec.h"

#include <thread>

#include "gtest/gtest.h"

namespace keel::prom {
namespace {

TEST(CounterVecTest, CountsPerLabelCombinationSorted) {
  CounterVec v(/*max_series=*/10);
  v.Add({"b", "OK"});
  v.Add({"a", "OK"}, 3);
  v.Add({"b", "OK"});
  auto snap = v.Snapshot();
  ASSERT_EQ(snap.size(), 2u);
  EXPECT_EQ(snap[0].first, (std::vector<std::string>{"a", "OK"}));
  EXPECT_EQ(snap[0].second, 3u);
  EXPECT_EQ(snap[1].second, 2u);
}

TEST(CounterVecTest, NewCombinationsBeyondTheBoundAreDroppedAndCounted) {
  CounterVec v(/*max_series=*/2);
  v.Add({"a"});
  v.Add({"b"});
  v.Add({"c"}, 5);
  v.Add({"a"});  // existing series still count
  auto snap = v.Snapshot();
  ASSERT_EQ(snap.size(), 2u);
  EXPECT_EQ(snap[0].second, 2u);
  EXPECT_EQ(v.dropped(), 5u);
}

TEST(CounterVecTest, ConcurrentAddsAreAllCounted) {
  CounterVec v(/*max_series=*/100);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&v, t] {
      for (int i = 0; i < 10000; ++i) v.Add({i % 2 == 0 ? "even" : "odd", t % 2 == 0 ? "x" : "y"});
    });
  }
  for (std::thread& t : threads) t.join();
  uint64_t total = 0;
  for (const auto& [labels, value] : v.Snapshot()) total += value;
  EXPECT_EQ(total, 40000u);
  EXPECT_EQ(v.Snapshot().size(), 4u);
}

}  // namespace
}  // namespace keel::prom
