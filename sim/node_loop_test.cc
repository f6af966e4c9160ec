#include "sim/node_loop.h"

#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace keel::sim {
namespace {

constexpr int64_t kPerfect = 1'000'000;

// World::event_node: per-event observers (the cluster runner's Raft checker) look only at
// the node an event ran in, so every event must be attributed to its node, or to kAnyNode.
TEST(NodeLoopEventNodeTest, EventsAreAttributedToTheNodeTheyRanIn) {
  World world(1);
  NodeLoop a(&world, 7, ClockConfig{});
  NodeLoop b(&world, 9, ClockConfig{});
  std::vector<uint64_t> seen;
  a.RunAfter(10, [] {});
  b.Post([] {});
  world.ScheduleAt(20, [] {});                                 // a world event (fault, client)
  world.ScheduleAt(30, [&] { a.DeliverToIncarnation(a.incarnation(), [] {}); });  // a delivery
  world.ScheduleAt(40, [&] {                                   // touches two nodes
    world.NoteEventNode(7);
    world.NoteEventNode(9);
  });
  while (world.Step()) seen.push_back(world.event_node());
  EXPECT_EQ(seen, (std::vector<uint64_t>{9, 7, World::kAnyNode, 7, World::kAnyNode}));
}

// A delivery runs in the event that completes it, unless that would run one callback
// inside another or run a paused node's code.
TEST(NodeLoopDeliveryTest, RunsInItsOwnEventPostsInsideCallbacksDefersWhilePaused) {
  World world(1);
  NodeLoop loop(&world, 1, ClockConfig{});
  std::vector<std::string> order;
  world.ScheduleAt(10, [&] {
    loop.DeliverToIncarnation(loop.incarnation(), [&] { order.push_back("arrival"); });
    order.push_back("after arrival event");
  });
  loop.RunAfter(20, [&] {
    loop.DeliverToIncarnation(loop.incarnation(), [&] { order.push_back("nested"); });
    order.push_back("timer");  // the nested delivery must not run before this
  });
  world.RunUntil(30);
  EXPECT_EQ(order, (std::vector<std::string>{"arrival", "after arrival event", "timer", "nested"}));

  order.clear();
  loop.Pause();
  world.ScheduleAt(40, [&] {
    loop.DeliverToIncarnation(loop.incarnation(), [&] { order.push_back("while paused"); });
  });
  world.RunUntil(50);
  EXPECT_TRUE(order.empty());
  loop.Resume();
  world.RunUntilIdle(10);
  EXPECT_EQ(order, (std::vector<std::string>{"while paused"}));
}

TEST(NodeLoopClockTest, NodeTimeIsOffsetPlusRateTimesGlobalTime) {
  World world(1);
  NodeLoop slow(&world, 1, ClockConfig{.offset_ns = 5'000, .rate_ppm = 900'000});
  NodeLoop fast(&world, 2, ClockConfig{.offset_ns = 0, .rate_ppm = 1'100'000});
  EXPECT_EQ(slow.NowNanos(), 5'000);
  world.RunUntil(1'000'000);
  EXPECT_EQ(slow.NowNanos(), 5'000 + 900'000);
  EXPECT_EQ(fast.NowNanos(), 1'100'000);
}

TEST(NodeLoopClockTest, GlobalTimeForNodeTimeIsTheExactInverse) {
  World world(1);
  for (int64_t rate : {900'000, 1'000'000, 1'100'000, 333'333, 7'654'321}) {
    NodeLoop loop(&world, 1, ClockConfig{.offset_ns = 17, .rate_ppm = rate});
    for (int64_t node_ns = 17; node_ns < 17 + 5'000; node_ns += 7) {
      const int64_t g = loop.GlobalTimeForNodeTime(node_ns);
      // g is the first global instant at which the node clock reads >= node_ns.
      const __int128 at_g = 17 + static_cast<__int128>(g) * rate / kPerfect;
      const __int128 before_g = 17 + static_cast<__int128>(g - 1) * rate / kPerfect;
      ASSERT_GE(at_g, node_ns) << "rate " << rate;
      if (g > 0) {
        ASSERT_LT(before_g, node_ns) << "rate " << rate;
      }
    }
  }
}

TEST(NodeLoopClockTest, TimersFireWhenTheNodeClockReachesTheDeadline) {
  World world(1);
  NodeLoop fast(&world, 1, ClockConfig{.rate_ppm = 2'000'000});
  NodeLoop slow(&world, 2, ClockConfig{.rate_ppm = 500'000});
  int64_t fast_fired_global = -1, slow_fired_global = -1;
  fast.RunAfter(1'000, [&] { fast_fired_global = world.now_ns(); });
  slow.RunAfter(1'000, [&] { slow_fired_global = world.now_ns(); });
  world.RunUntilIdle(10);
  EXPECT_EQ(fast_fired_global, 500);
  EXPECT_EQ(slow_fired_global, 2'000);
}

TEST(NodeLoopClockTest, RateChangeKeepsTheClockContinuousAndReschedulesTimers) {
  World world(1);
  NodeLoop loop(&world, 1, ClockConfig{});
  int64_t fired_global = -1;
  loop.RunAfter(10'000, [&] { fired_global = world.now_ns(); });
  world.RunUntil(4'000);
  loop.SetRatePpm(2'000'000);
  EXPECT_EQ(loop.NowNanos(), 4'000);  // no jump at the switch
  world.RunUntil(5'000);
  EXPECT_EQ(loop.NowNanos(), 6'000);
  world.RunUntilIdle(10);
  // 6'000 node ns remained after the switch, at 2 node ns per global ns.
  EXPECT_EQ(fired_global, 7'000);
}

TEST(NodeLoopClockTest, JumpForwardFiresOverdueTimersAtOnce) {
  World world(1);
  NodeLoop loop(&world, 1, ClockConfig{});
  std::vector<int> fired;
  loop.RunAfter(1'000'000, [&] { fired.push_back(1); });
  loop.RunAfter(5'000'000, [&] { fired.push_back(2); });
  world.RunUntil(10);
  loop.JumpForward(2'000'000);
  EXPECT_EQ(loop.NowNanos(), 2'000'010);
  world.RunUntil(10);
  EXPECT_EQ(fired, (std::vector<int>{1}));
  world.RunUntilIdle(10);
  EXPECT_EQ(fired, (std::vector<int>{1, 2}));
  EXPECT_EQ(world.now_ns(), 3'000'000);
}

// An NTP step moves the wall clock only: the monotonic Loop clock and its timers stay put,
// a backward step may take the wall clock below the Loop's (never below 0), and a crash
// keeps the machine's offset.
TEST(NodeLoopClockTest, AWallClockStepMovesOnlyTheMachineClock) {
  World world(1);
  NodeLoop loop(&world, 1, ClockConfig{});
  int64_t fired_global = -1;
  loop.RunAfter(1'000'000, [&] { fired_global = world.now_ns(); });
  world.RunUntil(100'000);
  loop.StepWallClock(5'000'000);
  EXPECT_EQ(loop.NowNanos(), 100'000);
  EXPECT_EQ(loop.MachineNanos(), 5'100'000);
  loop.StepWallClock(-2'000'000);
  EXPECT_EQ(loop.MachineNanos(), 3'100'000);
  world.RunUntilIdle(10);
  EXPECT_EQ(fired_global, 1'000'000);
  EXPECT_EQ(loop.MachineNanos(), 4'000'000);
  loop.StepWallClock(-9'000'000);
  EXPECT_EQ(loop.MachineNanos(), 0);
  EXPECT_EQ(loop.NowNanos(), 1'000'000);
  loop.Crash();
  world.RunUntil(1'500'000);
  loop.Restart();
  EXPECT_EQ(loop.MachineNanos(), 500'000);
}

TEST(NodeLoopTest, EqualDeadlinesFireInInsertionOrderAndPostsQueueBehind) {
  World world(1);
  NodeLoop loop(&world, 1, ClockConfig{});
  std::vector<std::string> ran;
  loop.RunAfter(100, [&] { ran.push_back("t1"); });
  loop.RunAfter(100, [&] {
    ran.push_back("t2");
    loop.Post([&] { ran.push_back("post-from-t2"); });
  });
  loop.RunAfter(100, [&] { ran.push_back("t3"); });
  loop.Post([&] { ran.push_back("p1"); });
  world.RunUntilIdle(100);
  EXPECT_EQ(ran, (std::vector<std::string>{"p1", "t1", "t2", "t3", "post-from-t2"}));
}

TEST(NodeLoopTest, CancelOnlyPendingTimers) {
  World world(1);
  NodeLoop loop(&world, 1, ClockConfig{});
  int fired = 0;
  env::TimerId a = loop.RunAfter(10, [&] { ++fired; });
  env::TimerId b = loop.RunAfter(20, [&] { ++fired; });
  EXPECT_TRUE(loop.Cancel(a));
  EXPECT_FALSE(loop.Cancel(a));
  world.RunUntilIdle(10);
  EXPECT_EQ(fired, 1);
  EXPECT_FALSE(loop.Cancel(b));
  EXPECT_FALSE(loop.Cancel(999));
}

TEST(NodeLoopTest, PausedNodeDefersCallbacksUntilResumeInOrder) {
  World world(1);
  NodeLoop loop(&world, 1, ClockConfig{});
  std::vector<std::pair<int, int64_t>> ran;  // (which, global time)
  loop.RunAfter(100, [&] { ran.emplace_back(1, world.now_ns()); });
  env::TimerId cancelled = loop.RunAfter(150, [&] { ran.emplace_back(99, world.now_ns()); });
  loop.RunAfter(200, [&] { ran.emplace_back(2, world.now_ns()); });
  loop.RunAfter(5'000, [&] { ran.emplace_back(3, world.now_ns()); });
  world.RunUntil(50);
  loop.Pause();
  loop.Post([&] { ran.emplace_back(4, world.now_ns()); });
  world.RunUntil(1'000);
  EXPECT_TRUE(ran.empty());
  EXPECT_TRUE(loop.Cancel(cancelled));  // deferred but not run: still cancellable
  EXPECT_EQ(loop.NowNanos(), 1'000);    // the clock keeps running while paused
  loop.Resume();
  world.RunUntilIdle(100);
  // In the order they came due: the post at 50, the timers at 100 and 200.
  EXPECT_EQ(ran, (std::vector<std::pair<int, int64_t>>{
                     {4, 1'000}, {1, 1'000}, {2, 1'000}, {3, 5'000}}));
}

TEST(NodeLoopTest, CrashDiscardsEverythingAndDropsWorkForTheDeadIncarnation) {
  World world(1);
  NodeLoop loop(&world, 1, ClockConfig{});
  int fired = 0;
  loop.RunAfter(100, [&] { ++fired; });
  loop.Post([&] { ++fired; });
  const uint64_t old_incarnation = loop.incarnation();
  loop.Crash();
  EXPECT_FALSE(loop.up());
  EXPECT_EQ(loop.pending_callbacks(), 0u);
  loop.Post([&] { ++fired; });           // dropped: nobody is there
  loop.RunAfter(1, [&] { ++fired; });    // dropped
  world.RunUntilIdle(100);
  EXPECT_EQ(fired, 0);
  EXPECT_EQ(world.pending_events(), 0u);

  loop.Restart();
  EXPECT_GT(loop.incarnation(), old_incarnation);
  loop.DeliverToIncarnation(old_incarnation, [&] { fired += 10; });  // stale
  loop.DeliverToIncarnation(loop.incarnation(), [&] { fired += 100; });
  loop.RunAfter(5, [&] { fired += 1000; });
  world.RunUntilIdle(100);
  EXPECT_EQ(fired, 1100);
}

// keeld's Loop clock counts from process start: each life reads about the same at its
// start. With restart_starts_loop_clock_over the simulated node shows servers that clock,
// while the machine's clock (the wall clock servers must seed cross-life values from)
// runs on; by default both run on through crashes.
TEST(NodeLoopClockTest, ARestartCanStartTheLoopClockOverWhileTheMachineClockRunsOn) {
  World world(1);
  NodeLoop process(&world, 1,
                   ClockConfig{.offset_ns = 7, .restart_starts_loop_clock_over = true});
  NodeLoop boot(&world, 2, ClockConfig{.offset_ns = 7});
  world.RunUntil(1'000);
  process.Crash();
  boot.Crash();
  world.RunUntil(3'000);
  process.Restart();
  boot.Restart();
  EXPECT_EQ(process.NowNanos(), 7);
  EXPECT_EQ(process.MachineNanos(), 3'007);
  EXPECT_EQ(boot.NowNanos(), 3'007);
  EXPECT_EQ(boot.MachineNanos(), 3'007);
  int64_t fired_global = -1;
  process.RunAfter(100, [&] { fired_global = world.now_ns(); });
  world.RunUntilIdle(10);
  EXPECT_EQ(fired_global, 3'100);
  EXPECT_EQ(process.NowNanos(), 107);
  EXPECT_EQ(process.MachineNanos(), 3'107);
}

TEST(NodeLoopTest, CrashWhilePausedDiscardsDeferredCallbacks) {
  World world(1);
  NodeLoop loop(&world, 1, ClockConfig{});
  int fired = 0;
  loop.Pause();
  loop.RunAfter(1, [&] { ++fired; });
  world.RunUntil(10);
  loop.Crash();
  loop.Restart();
  EXPECT_FALSE(loop.paused());
  world.RunUntilIdle(100);
  EXPECT_EQ(fired, 0);
}

TEST(NodeLoopTest, TimerFiresAreTraced) {
  World world(1);
  NodeLoop loop(&world, 3, ClockConfig{});
  const uint64_t before = world.trace().record_count();
  loop.RunAfter(1, [] {});
  loop.Post([] {});
  world.RunUntilIdle(10);
  EXPECT_EQ(world.trace().record_count(), before + 2);
}

TEST(NodeLoopDeathTest, PostFromAnotherThreadAborts) {
  World world(1);
  NodeLoop loop(&world, 1, ClockConfig{});
  EXPECT_DEATH(
      {
        std::thread t([&] { loop.Post([] {}); });
        t.join();
      },
      "get_id");
}

}  // namespace
}  // namespace keel::sim
