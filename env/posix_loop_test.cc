#include "env/posix_loop.h"

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace keel::env {
namespace {

// Generous bound for "eventually": a failing test times out here instead of hanging.
constexpr absl::Duration kWait = absl::Seconds(30);

std::unique_ptr<PosixLoop> NewLoop() {
  auto loop = PosixLoop::Create();
  EXPECT_TRUE(loop.ok()) << loop.status();
  return *std::move(loop);
}

// Runs `fn` on the loop and waits for it: lets a test touch loop-only state safely.
void RunOnLoop(PosixLoop* loop, absl::AnyInvocable<void() &&> fn) {
  absl::Notification done;
  loop->Post([&] {
    std::move(fn)();
    done.Notify();
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(kWait));
}

TEST(PosixLoopTest, NowNanosNeverDecreases) {
  auto loop = NewLoop();
  int64_t previous = loop->NowNanos();
  EXPECT_GE(previous, 0);
  for (int i = 0; i < 10000; ++i) {
    const int64_t now = loop->NowNanos();
    ASSERT_GE(now, previous);
    previous = now;
  }
}

TEST(PosixLoopTest, EqualDeadlinesFireInInsertionOrderAndEarlierFirst) {
  auto loop = NewLoop();
  std::vector<int> order;  // touched only on the loop thread
  absl::Notification done;
  // Schedule everything from inside one callback so that the 0-delay and equal-delay
  // timers really share deadlines relative to one NowNanos reading per call.
  RunOnLoop(loop.get(), [&] {
    const int64_t ms = 1000 * 1000;
    loop->RunAfter(20 * ms, [&] { order.push_back(4); });
    loop->RunAfter(20 * ms, [&] { order.push_back(5); });
    loop->RunAfter(5 * ms, [&] { order.push_back(2); });
    loop->RunAfter(0, [&] { order.push_back(1); });
    loop->RunAfter(10 * ms, [&] { order.push_back(3); });
    loop->RunAfter(30 * ms, [&] { done.Notify(); });
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(kWait));
  RunOnLoop(loop.get(), [&] { EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 4, 5})); });
}

TEST(PosixLoopTest, TimersWithTheSameDeadlineKeepInsertionOrder) {
  auto loop = NewLoop();
  std::vector<int> order;
  absl::Notification done;
  constexpr int kTimers = 200;
  RunOnLoop(loop.get(), [&] {
    // A huge delay would never fire; equal small delays from one callback have deadlines
    // that differ only by clock progress, which is monotonic, so order must hold.
    for (int i = 0; i < kTimers; ++i) {
      loop->RunAfter(1000 * 1000, [&, i] {
        order.push_back(i);
        if (i == kTimers - 1) done.Notify();
      });
    }
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(kWait));
  RunOnLoop(loop.get(), [&] {
    ASSERT_EQ(order.size(), kTimers);
    for (int i = 0; i < kTimers; ++i) EXPECT_EQ(order[i], i);
  });
}

TEST(PosixLoopTest, CancelPreventsTheTimerAndIsIdempotent) {
  auto loop = NewLoop();
  std::atomic<int> cancelled_runs{0};
  absl::Notification done;
  TimerId id = 0;
  RunOnLoop(loop.get(), [&] {
    id = loop->RunAfter(5 * 1000 * 1000, [&] { cancelled_runs++; });
    EXPECT_TRUE(loop->Cancel(id));
    EXPECT_FALSE(loop->Cancel(id));
    EXPECT_FALSE(loop->Cancel(987654321));  // never scheduled
    loop->RunAfter(20 * 1000 * 1000, [&] { done.Notify(); });
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(kWait));
  EXPECT_EQ(cancelled_runs.load(), 0);
}

TEST(PosixLoopTest, CallbackCanCancelATimerDueAtTheSameInstant) {
  auto loop = NewLoop();
  bool second_ran = false;
  TimerId second = 0;
  absl::Notification done;
  RunOnLoop(loop.get(), [&] {
    // Both due at (almost) the same time; the first cancels the second. Raft's election
    // timer reset depends on this.
    loop->RunAfter(1000 * 1000, [&] { EXPECT_TRUE(loop->Cancel(second)); });
    second = loop->RunAfter(1000 * 1000, [&] { second_ran = true; });
    loop->RunAfter(10 * 1000 * 1000, [&] { done.Notify(); });
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(kWait));
  RunOnLoop(loop.get(), [&] { EXPECT_FALSE(second_ran); });
}

TEST(PosixLoopTest, CancelAfterRunReturnsFalse) {
  auto loop = NewLoop();
  absl::Notification ran;
  TimerId id = 0;
  RunOnLoop(loop.get(), [&] { id = loop->RunAfter(0, [&] { ran.Notify(); }); });
  ASSERT_TRUE(ran.WaitForNotificationWithTimeout(kWait));
  RunOnLoop(loop.get(), [&] { EXPECT_FALSE(loop->Cancel(id)); });
}

TEST(PosixLoopTest, PostFromManyThreadsRunsEachOnceInPerThreadOrder) {
  auto loop = NewLoop();
  constexpr int kThreads = 8;
  constexpr int kPerThread = 5000;
  std::vector<std::vector<int>> seen(kThreads);  // touched only on the loop thread
  std::atomic<bool> concurrent{false};
  std::atomic<int> inside{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        loop->Post([&, t, i] {
          if (inside.fetch_add(1) != 0) concurrent = true;
          EXPECT_TRUE(loop->IsLoopThread());
          seen[t].push_back(i);
          inside.fetch_sub(1);
        });
      }
    });
  }
  for (auto& thread : threads) thread.join();
  RunOnLoop(loop.get(), [&] {
    for (int t = 0; t < kThreads; ++t) {
      ASSERT_EQ(seen[t].size(), kPerThread);
      for (int i = 0; i < kPerThread; ++i) ASSERT_EQ(seen[t][i], i);
    }
  });
  EXPECT_FALSE(concurrent.load());
  EXPECT_FALSE(loop->IsLoopThread());
}

// Counts destructions so tests can see a callback was dropped, not leaked or run.
struct DropCounter {
  explicit DropCounter(std::atomic<int>* drops) : drops(drops) {}
  DropCounter(DropCounter&& other) : drops(other.drops) { other.drops = nullptr; }
  ~DropCounter() {
    if (drops != nullptr) drops->fetch_add(1);
  }
  std::atomic<int>* drops;
};

TEST(PosixLoopTest, StopDropsPendingTimersAndLatePosts) {
  auto loop = NewLoop();
  std::atomic<int> runs{0};
  std::atomic<int> drops{0};
  loop->RunAfter(int64_t{3600} * 1000 * 1000 * 1000,
                 [&, guard = DropCounter(&drops)] { runs++; });
  loop->Stop();
  EXPECT_EQ(drops.load(), 1);
  loop->Post([&, guard = DropCounter(&drops)] { runs++; });
  loop->RunAfter(0, [&, guard = DropCounter(&drops)] { runs++; });
  EXPECT_EQ(drops.load(), 3);
  EXPECT_EQ(runs.load(), 0);
  loop->Stop();  // idempotent
}

TEST(PosixLoopTest, StopFromInsideACallbackRunsNothingAfterIt) {
  auto loop = NewLoop();
  std::atomic<int> after{0};
  absl::Notification stopped;
  absl::Notification release;
  loop->Post([&] {
    // Queue more work behind us, then stop: none of it may run.
    loop->Post([&] { after++; });
    loop->RunAfter(0, [&] { after++; });
    loop->Stop();
    stopped.Notify();
  });
  ASSERT_TRUE(stopped.WaitForNotificationWithTimeout(kWait));
  loop.reset();  // joins
  EXPECT_EQ(after.load(), 0);
}

TEST(PosixLoopDeathTest, OverflowingThePostedBoundAborts) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  EXPECT_DEATH(
      {
        PosixLoop::Options options;
        options.max_posted = 2;
        auto loop = *PosixLoop::Create(options);
        absl::Notification never;
        // Wedge the loop so posts accumulate; at most this one is ever taken off the queue.
        loop->Post([&] { never.WaitForNotification(); });
        for (int i = 0; i < 10; ++i) loop->Post([] {});
      },
      "max_posted");
}

}  // namespace
}  // namespace keel::env
