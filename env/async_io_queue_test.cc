#include "env/async_io_queue.h"

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "env/posix_loop.h"
#include "gtest/gtest.h"

namespace keel::env {
namespace {

constexpr absl::Duration kWait = absl::Seconds(30);

struct Fixture {
  Fixture(size_t max_ops, size_t max_bytes) {
    loop = *PosixLoop::Create();
    AsyncIoQueue::Options options;
    options.loop = loop.get();
    options.max_ops = max_ops;
    options.max_bytes = max_bytes;
    queue = *AsyncIoQueue::Create(options);
  }
  std::unique_ptr<PosixLoop> loop;
  std::unique_ptr<AsyncIoQueue> queue;
};

TEST(AsyncIoQueueTest, RejectsBadOptions) {
  AsyncIoQueue::Options options;
  EXPECT_EQ(AsyncIoQueue::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(AsyncIoQueueTest, WorkAndCompletionsRunInSubmissionOrder) {
  Fixture f(16, 1 << 20);
  constexpr int kOps = 2000;
  std::vector<int> work_order;        // I/O thread only
  std::vector<int> completion_order;  // loop thread only
  absl::Notification all_done;
  for (int i = 0; i < kOps; ++i) {
    f.queue->Submit(
        1,
        [&, i] {
          work_order.push_back(i);
          return i % 3 == 0 ? absl::DataLossError("odd") : absl::OkStatus();
        },
        [&, i](absl::Status status) {
          EXPECT_TRUE(f.loop->IsLoopThread());
          EXPECT_EQ(status.ok(), i % 3 != 0) << i;
          completion_order.push_back(i);
          if (i == kOps - 1) all_done.Notify();
        });
  }
  ASSERT_TRUE(all_done.WaitForNotificationWithTimeout(kWait));
  f.queue.reset();  // joins the I/O thread: work_order is safe to read
  ASSERT_EQ(work_order.size(), kOps);
  for (int i = 0; i < kOps; ++i) EXPECT_EQ(work_order[i], i);
  absl::Notification checked;
  f.loop->Post([&] {
    ASSERT_EQ(completion_order.size(), kOps);
    for (int i = 0; i < kOps; ++i) EXPECT_EQ(completion_order[i], i);
    checked.Notify();
  });
  ASSERT_TRUE(checked.WaitForNotificationWithTimeout(kWait));
}

// With room for two ops, a third Submit waits until the running op finishes. (A correct
// queue can only make this test pass slowly, never fail spuriously: the assertion is that
// Submit has NOT returned while the I/O thread is provably stuck.)
TEST(AsyncIoQueueTest, SubmitBlocksWhileFullAndResumesWhenRoomAppears) {
  Fixture f(2, 1 << 20);
  absl::Notification release;
  absl::Notification first_started;
  std::atomic<bool> third_returned{false};
  std::atomic<int> completed{0};
  auto count = [&](absl::Status) { completed++; };
  f.queue->Submit(1, [&] {
    first_started.Notify();
    release.WaitForNotification();
    return absl::OkStatus();
  }, count);
  ASSERT_TRUE(first_started.WaitForNotificationWithTimeout(kWait));
  f.queue->Submit(1, [] { return absl::OkStatus(); }, count);
  std::thread third([&] {
    f.queue->Submit(1, [] { return absl::OkStatus(); }, count);
    third_returned = true;
  });
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_FALSE(third_returned.load());
  release.Notify();
  third.join();
  EXPECT_TRUE(third_returned.load());
  f.queue.reset();
  absl::Notification drained;
  f.loop->Post([&] { drained.Notify(); });
  ASSERT_TRUE(drained.WaitForNotificationWithTimeout(kWait));
  EXPECT_EQ(completed.load(), 3);
}

TEST(AsyncIoQueueTest, ByteBoundAdmitsAnOversizedOpAlone) {
  Fixture f(100, 10);
  std::atomic<int> completed{0};
  // 1000 bytes > max_bytes: admitted because the queue is empty, so no deadlock.
  f.queue->Submit(1000, [] { return absl::OkStatus(); }, [&](absl::Status) { completed++; });
  f.queue->Submit(5, [] { return absl::OkStatus(); }, [&](absl::Status) { completed++; });
  f.queue.reset();
  absl::Notification drained;
  f.loop->Post([&] { drained.Notify(); });
  ASSERT_TRUE(drained.WaitForNotificationWithTimeout(kWait));
  EXPECT_EQ(completed.load(), 2);
}

TEST(AsyncIoQueueTest, DestructorRunsEverythingSubmitted) {
  Fixture f(64, 1 << 20);
  std::atomic<int> ran{0};
  for (int i = 0; i < 50; ++i) {
    f.queue->Submit(1, [&] { ran++; return absl::OkStatus(); }, [](absl::Status) {});
  }
  f.queue.reset();
  EXPECT_EQ(ran.load(), 50);
}

}  // namespace
}  // namespace keel::env
