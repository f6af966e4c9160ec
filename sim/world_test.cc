#include "sim/world.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace keel::sim {
namespace {

TEST(WorldTest, EventsRunInTimeOrderThenSchedulingOrder) {
  World world(1);
  std::vector<std::string> ran;
  world.ScheduleAt(30, [&] { ran.push_back("c@30"); });
  world.ScheduleAt(10, [&] { ran.push_back("a@10"); });
  world.ScheduleAt(20, [&] { ran.push_back("b1@20"); });
  world.ScheduleAt(20, [&] { ran.push_back("b2@20"); });
  world.ScheduleAt(20, [&] { ran.push_back("b3@20"); });
  EXPECT_EQ(world.RunUntilIdle(100), 5u);
  EXPECT_EQ(ran, (std::vector<std::string>{"a@10", "b1@20", "b2@20", "b3@20", "c@30"}));
  EXPECT_EQ(world.now_ns(), 30);
}

TEST(WorldTest, IdleTimeIsSkippedAndClockOnlyMovesForward) {
  World world(1);
  int64_t seen = -1;
  world.ScheduleAt(1'000'000'000'000, [&] { seen = world.now_ns(); });
  EXPECT_TRUE(world.Step());
  EXPECT_EQ(seen, 1'000'000'000'000);
  EXPECT_FALSE(world.Step());
  EXPECT_EQ(world.now_ns(), 1'000'000'000'000);
}

TEST(WorldTest, EventsScheduledWhileRunningAtSameTimeRunAfterQueuedOnes) {
  World world(1);
  std::vector<int> ran;
  world.ScheduleAt(5, [&] {
    ran.push_back(1);
    world.ScheduleAfter(0, [&] { ran.push_back(3); });
  });
  world.ScheduleAt(5, [&] { ran.push_back(2); });
  world.RunUntilIdle(10);
  EXPECT_EQ(ran, (std::vector<int>{1, 2, 3}));
}

TEST(WorldTest, CancelRemovesOnlyPendingEvents) {
  World world(1);
  int runs = 0;
  EventId a = world.ScheduleAt(10, [&] { ++runs; });
  EventId b = world.ScheduleAt(20, [&] { ++runs; });
  EXPECT_TRUE(world.Cancel(a));
  EXPECT_FALSE(world.Cancel(a));  // idempotent
  EXPECT_EQ(world.pending_events(), 1u);
  EXPECT_EQ(world.next_event_ns(), 20);
  world.RunUntilIdle(10);
  EXPECT_EQ(runs, 1);
  EXPECT_FALSE(world.Cancel(b));  // already ran
  EXPECT_FALSE(world.Cancel(12345));
}

TEST(WorldTest, RunUntilStopsAtTheBoundaryAndAdvancesTheClock) {
  World world(1);
  std::vector<int64_t> times;
  for (int64_t t : {5, 10, 15, 20}) world.ScheduleAt(t, [&] { times.push_back(world.now_ns()); });
  EXPECT_EQ(world.RunUntil(15), 3u);  // inclusive
  EXPECT_EQ(times, (std::vector<int64_t>{5, 10, 15}));
  EXPECT_EQ(world.RunUntil(17), 0u);
  EXPECT_EQ(world.now_ns(), 17);  // idle time still passes
  EXPECT_EQ(world.RunUntil(100), 1u);
  EXPECT_EQ(world.now_ns(), 100);
}

TEST(WorldTest, RunUntilIdleIsBoundedForSelfReschedulingEvents) {
  World world(1);
  int runs = 0;
  std::function<void()> rearm = [&] {
    ++runs;
    world.ScheduleAfter(1, [&] { rearm(); });
  };
  world.ScheduleAt(0, [&] { rearm(); });
  EXPECT_EQ(world.RunUntilIdle(1000), 1000u);
  EXPECT_EQ(runs, 1000);
  EXPECT_EQ(world.pending_events(), 1u);
  EXPECT_EQ(world.events_run(), 1000u);
}

TEST(WorldTest, RngStreamsDependOnSeedAndPurposeOnly) {
  World a(42), b(42), c(43);
  EXPECT_EQ(a.NewRng("net").Next(), b.NewRng("net").Next());
  EXPECT_NE(a.NewRng("net").Next(), a.NewRng("disk.n1").Next());
  EXPECT_NE(a.NewRng("net").Next(), c.NewRng("net").Next());
}

TEST(WorldDeathTest, SchedulingInThePastAborts) {
  World world(1);
  world.RunUntil(100);
  EXPECT_DEATH(world.ScheduleAt(99, [] {}), "at_ns >= now_ns_");
}

TEST(WorldDeathTest, UseFromAnotherThreadAborts) {
  World world(1);
  EXPECT_DEATH(
      {
        std::thread t([&] { world.ScheduleAfter(1, [] {}); });
        t.join();
      },
      "CheckOnWorldThread|get_id");
}

}  // namespace
}  // namespace keel::sim
