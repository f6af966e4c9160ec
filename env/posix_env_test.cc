#include "env/posix_env.h"

#include <cstdlib>
#include <ctime>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace keel::env {
namespace {

constexpr absl::Duration kWait = absl::Seconds(30);

class OneMessage final : public TransportHandler {
 public:
  void OnMessage(uint64_t from, std::string payload) override {
    from_ = from;
    payload_ = std::move(payload);
    got_.Notify();
  }
  absl::Notification got_;
  uint64_t from_ = 0;
  std::string payload_;
};

TEST(PosixEnvTest, ComposesLoopFilesTransportAndRng) {
  OneMessage handler_a, handler_b;  // outlive the envs
  PosixEnv::Options options_a;
  options_a.transport.emplace();
  options_a.transport->self_id = 1;
  auto a = PosixEnv::Create(options_a);
  ASSERT_TRUE(a.ok()) << a.status();
  PosixEnv::Options options_b;
  options_b.transport.emplace();
  options_b.transport->self_id = 2;
  options_b.seed = 1234;
  auto b = PosixEnv::Create(options_b);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ((*b)->seed(), 1234u);

  // Transport: a message from a's Loop arrives on b's Loop.
  Env* env_a = a->get();
  Env* env_b = b->get();
  env_b->transport()->SetHandler(&handler_b);
  env_a->transport()->SetHandler(&handler_a);
  const std::string b_address = (*b)->tcp_transport()->listen_address();
  env_a->loop()->Post([&] {
    env_a->transport()->AddPeer(2, b_address);
    env_a->transport()->Send(2, "ping");
  });
  ASSERT_TRUE(handler_b.got_.WaitForNotificationWithTimeout(kWait));
  EXPECT_EQ(handler_b.from_, 1u);
  EXPECT_EQ(handler_b.payload_, "ping");

  // Files: an async append completes on the env's Loop.
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string path = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/posix_env_file");
  auto file = env_a->fs()->NewWritableFile(path);
  ASSERT_TRUE(file.ok());
  absl::Notification synced;
  absl::Status sync_status;
  env_a->loop()->Post([&] {
    (*file)->AppendAsync("abc", [](absl::Status) {});
    (*file)->SyncAsync([&](absl::Status s) {
      EXPECT_TRUE((*a)->posix_loop()->IsLoopThread());
      sync_status = s;
      synced.Notify();
    });
  });
  ASSERT_TRUE(synced.WaitForNotificationWithTimeout(kWait));
  EXPECT_TRUE(sync_status.ok()) << sync_status;
  EXPECT_EQ(*env_a->fs()->GetFileSize(path), 3u);
  file->reset();

  // Rng: same purpose, same stream; different purposes differ; seeded envs reproduce.
  Rng x = env_b->NewRng("raft.election");
  Rng y = env_b->NewRng("raft.election");
  Rng z = env_b->NewRng("lease.id");
  const uint64_t first = x.Next();
  EXPECT_EQ(first, y.Next());
  EXPECT_NE(first, z.Next());
  EXPECT_EQ(first, Rng(1234).Stream("raft.election").Next());

  b->reset();
  a->reset();
}

TEST(PosixEnvTest, WithoutTransportOptionsThereIsNoTransport) {
  auto env = PosixEnv::Create(PosixEnv::Options());
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ((*env)->transport(), nullptr);
  EXPECT_NE((*env)->fs(), nullptr);
  EXPECT_NE((*env)->loop(), nullptr);
}

TEST(PosixEnvTest, OsSeedsDifferBetweenEnvs) {
  auto a = PosixEnv::Create(PosixEnv::Options());
  auto b = PosixEnv::Create(PosixEnv::Options());
  ASSERT_TRUE(a.ok() && b.ok());
  // 2^-64 chance of a false failure.
  EXPECT_NE((*a)->seed(), (*b)->seed());
}

// The Loop's clock counts from the Env's creation, so a later Env (a restarted keeld)
// reads about what an earlier one read at its start; WallClockMillis is Unix time for
// every Env, which is what makes values seeded from it differ between a member's lives.
TEST(PosixEnvTest, WallClockIsUnixTimeWhateverTheLoopClockReads) {
  auto env = PosixEnv::Create(PosixEnv::Options());
  ASSERT_TRUE(env.ok()) << env.status();
  const int64_t unix_s = static_cast<int64_t>(std::time(nullptr));
  const int64_t wall_s = (*env)->WallClockMillis() / 1000;
  EXPECT_LE(std::abs(wall_s - unix_s), 60);  // same clock, whatever the machine's load
  EXPECT_LT((*env)->loop()->NowNanos() / 1'000'000'000, wall_s - 1'000'000'000)
      << "the Loop's clock is expected to count from the Env's creation";
}

TEST(PosixEnvTest, BadTransportOptionsFailCreate) {
  PosixEnv::Options options;
  options.transport.emplace();
  // self_id 0 is valid now (keeld sets the ID once the data dir is read); a queue without
  // room is not.
  options.transport->peer_queue_max_messages = 0;
  EXPECT_EQ(PosixEnv::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace keel::env
