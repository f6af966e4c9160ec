#include "env/tcp_transport.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "env/posix_loop.h"
#include "env/rng.h"
#include "env/tcp_frame.h"
#include "gtest/gtest.h"

namespace keel::env {
namespace {

// Generous bound for "eventually": a broken transport fails the test instead of hanging it.
constexpr absl::Duration kWait = absl::Seconds(30);

// Records deliveries (on the Loop) for the test thread to wait on.
class RecordingHandler final : public TransportHandler {
 public:
  struct Message {
    uint64_t from;
    std::string payload;
  };
  void OnMessage(uint64_t from, std::string payload) override {
    absl::MutexLock lock(&mu_);
    messages_.push_back({from, std::move(payload)});
  }
  void OnPeerUnreachable(uint64_t peer) override {
    absl::MutexLock lock(&mu_);
    unreachable_.push_back(peer);
  }
  // Waits until at least `n` messages arrived; false on timeout.
  bool WaitForMessages(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return messages_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), kWait);
  }
  bool WaitForUnreachable(uint64_t peer) {
    absl::MutexLock lock(&mu_);
    auto seen = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      for (uint64_t p : unreachable_) {
        if (p == peer) return true;
      }
      return false;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&seen), kWait);
  }
  std::vector<Message> messages() {
    absl::MutexLock lock(&mu_);
    return messages_;
  }
  size_t unreachable_count() {
    absl::MutexLock lock(&mu_);
    return unreachable_.size();
  }

 private:
  absl::Mutex mu_;
  std::vector<Message> messages_;
  std::vector<uint64_t> unreachable_;
};

struct Node {
  Node(PosixLoop* loop, uint64_t id, std::string listen = "127.0.0.1:0",
       TcpTransport::Options options = {}) {
    options.self_id = id;
    options.listen_address = std::move(listen);
    auto created = TcpTransport::Create(loop, options);
    EXPECT_TRUE(created.ok()) << created.status();
    transport = *std::move(created);
    transport->SetHandler(&handler);
  }
  RecordingHandler handler;  // declared first: outlives the transport
  std::unique_ptr<TcpTransport> transport;
};

std::unique_ptr<PosixLoop> NewLoop() { return *PosixLoop::Create(); }

// Runs `fn` on the loop and waits (Transport methods are normally called there).
void OnLoop(PosixLoop* loop, absl::AnyInvocable<void() &&> fn) {
  absl::Notification done;
  loop->Post([&] {
    std::move(fn)();
    done.Notify();
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(kWait));
}

// A port with nothing listening on it: bound (so nobody else takes it) but not listening,
// so connecting is refused.
struct DeadPort {
  DeadPort() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr = {};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    address = absl::StrCat("127.0.0.1:", ntohs(addr.sin_port));
  }
  ~DeadPort() { ::close(fd); }
  int fd;
  std::string address;
};

// A raw client connection, for speaking malformed frames.
int ConnectRaw(const std::string& address) {
  const HostPort hp = *ParseHostPort(address);
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(hp.port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  return fd;
}

// True when the server closes `fd` (recv returns 0 or an error) within the bound.
bool ServerCloses(int fd) {
  timeval tv = {30, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  char byte;
  const ssize_t n = ::recv(fd, &byte, 1, 0);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

TEST(ParseHostPortTest, AcceptsEtcdStyleUrls) {
  auto a = ParseHostPort("127.0.0.1:2380");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 2380);
  auto b = ParseHostPort("http://localhost:12380/");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "localhost");
  EXPECT_EQ(b->port, 12380);
  auto c = ParseHostPort("[::1]:7");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->host, "::1");
  EXPECT_FALSE(ParseHostPort("localhost").ok());
  EXPECT_FALSE(ParseHostPort("localhost:99999").ok());
  EXPECT_FALSE(ParseHostPort("localhost:http").ok());
}

TEST(TcpTransportTest, CreateRejectsBadOptions) {
  auto loop = NewLoop();
  TcpTransport::Options options;
  options.self_id = 1;
  options.max_pending_queries = 0;
  EXPECT_EQ(TcpTransport::Create(loop.get(), options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.max_pending_queries = 1;
  options.listen_address = "127.0.0.1";
  EXPECT_EQ(TcpTransport::Create(loop.get(), options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(TcpTransportTest, MessagesArriveInOrderBothWays) {
  auto loop = NewLoop();
  Node a(loop.get(), 1);
  Node b(loop.get(), 2);
  constexpr int kMessages = 3000;
  OnLoop(loop.get(), [&] {
    a.transport->AddPeer(2, b.transport->listen_address());
    b.transport->AddPeer(1, "http://" + a.transport->listen_address());
    for (int i = 0; i < kMessages; ++i) a.transport->Send(2, absl::StrCat("a->b ", i));
    for (int i = 0; i < 10; ++i) b.transport->Send(1, absl::StrCat("b->a ", i));
  });
  ASSERT_TRUE(b.handler.WaitForMessages(kMessages));
  ASSERT_TRUE(a.handler.WaitForMessages(10));
  const auto at_b = b.handler.messages();
  ASSERT_EQ(at_b.size(), kMessages);
  for (int i = 0; i < kMessages; ++i) {
    EXPECT_EQ(at_b[i].from, 1u);
    ASSERT_EQ(at_b[i].payload, absl::StrCat("a->b ", i));
  }
  const auto at_a = a.handler.messages();
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(at_a[i].from, 2u);
    EXPECT_EQ(at_a[i].payload, absl::StrCat("b->a ", i));
  }
  EXPECT_EQ(a.handler.unreachable_count(), 0u);
  // One connection carried everything, coalesced: never more writes than frames.
  const TcpTransport::Stats stats = a.transport->stats();
  EXPECT_EQ(stats.connects, 1u);
  EXPECT_EQ(stats.frames_sent, kMessages);
  EXPECT_LE(stats.writes, stats.frames_sent);
  EXPECT_EQ(stats.dropped, 0u);
}

TEST(TcpTransportTest, LargePayloadsArriveIntact) {
  auto loop = NewLoop();
  Node a(loop.get(), 1);
  Node b(loop.get(), 2);
  Rng rng(7);
  std::string big(4 << 20, '\0');
  for (char& c : big) c = static_cast<char>(rng.Next());
  OnLoop(loop.get(), [&] {
    a.transport->AddPeer(2, b.transport->listen_address());
    a.transport->Send(2, "before");
    a.transport->Send(2, big);
    a.transport->Send(2, "after");
    a.transport->Send(2, big);
  });
  ASSERT_TRUE(b.handler.WaitForMessages(4));
  const auto got = b.handler.messages();
  EXPECT_EQ(got[0].payload, "before");
  EXPECT_TRUE(got[1].payload == big);
  EXPECT_EQ(got[2].payload, "after");
  EXPECT_TRUE(got[3].payload == big);
}

TEST(TcpTransportTest, DeadPeerIsReportedUnreachableNotHung) {
  auto loop = NewLoop();
  Node a(loop.get(), 1);
  DeadPort dead;
  OnLoop(loop.get(), [&] {
    a.transport->AddPeer(9, dead.address);
    a.transport->Send(9, "hello?");
  });
  EXPECT_TRUE(a.handler.WaitForUnreachable(9));
  // Unknown peers are reported at once too.
  OnLoop(loop.get(), [&] { a.transport->Send(12345, "who?"); });
  EXPECT_TRUE(a.handler.WaitForUnreachable(12345));
}

TEST(TcpTransportTest, RestartedPeerGetsMessagesAgainAfterReconnect) {
  auto loop = NewLoop();
  TcpTransport::Options fast;
  fast.reconnect_backoff_initial_ms = 5;
  fast.reconnect_backoff_max_ms = 50;
  Node a(loop.get(), 1, "127.0.0.1:0", fast);
  auto b = std::make_unique<Node>(loop.get(), 2);
  const std::string b_address = b->transport->listen_address();
  OnLoop(loop.get(), [&] {
    a.transport->AddPeer(2, b_address);
    a.transport->Send(2, "first life");
  });
  ASSERT_TRUE(b->handler.WaitForMessages(1));
  b.reset();  // peer dies
  // Keep sending until the loss is noticed (the first send after a reset may still be
  // accepted by the kernel).
  for (int i = 0; i < 3000 && a.handler.unreachable_count() == 0; ++i) {
    OnLoop(loop.get(), [&] { a.transport->Send(2, "into the void"); });
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_TRUE(a.handler.WaitForUnreachable(2));
  b = std::make_unique<Node>(loop.get(), 2, b_address);  // same port, new process state
  ASSERT_EQ(b->transport->listen_address(), b_address);
  // Best-effort delivery: keep sending until one arrives, within a bound. Messages sent
  // while the peer was down may also arrive: Send queues during the reconnect backoff.
  auto second_life_arrived = [&] {
    for (const auto& m : b->handler.messages()) {
      if (m.payload == "second life") return true;
    }
    return false;
  };
  for (int i = 0; i < 3000 && !second_life_arrived(); ++i) {
    OnLoop(loop.get(), [&] { a.transport->Send(2, "second life"); });
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_TRUE(second_life_arrived());
  for (const auto& m : b->handler.messages()) {
    EXPECT_TRUE(m.payload == "second life" || m.payload == "into the void") << m.payload;
    EXPECT_EQ(m.from, 1u);
  }
  EXPECT_GE(a.transport->stats().connects, 2u);
}

TEST(TcpTransportTest, FullQueueToAStuckPeerDropsAndReportsUnreachable) {
  auto loop = NewLoop();
  TcpTransport::Options small;
  small.peer_queue_max_messages = 4;
  Node a(loop.get(), 1, "127.0.0.1:0", small);
  // Listens (so connect succeeds) but never accepts or reads.
  const int stuck = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(stuck, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(stuck, 1), 0);
  socklen_t len = sizeof(addr);
  ::getsockname(stuck, reinterpret_cast<sockaddr*>(&addr), &len);
  const std::string megabyte(1 << 20, 'm');
  OnLoop(loop.get(), [&] {
    a.transport->AddPeer(3, absl::StrCat("127.0.0.1:", ntohs(addr.sin_port)));
    // 64 MiB cannot fit in socket buffers plus a 4-message queue.
    for (int i = 0; i < 64; ++i) a.transport->Send(3, megabyte);
  });
  EXPECT_TRUE(a.handler.WaitForUnreachable(3));
  EXPECT_GT(a.transport->stats().dropped, 0u);
  a.transport.reset();  // must not hang on the stuck connection
  ::close(stuck);
}

TEST(TcpTransportTest, BadCrcOrAbsurdLengthClosesTheConnection) {
  auto loop = NewLoop();
  Node b(loop.get(), 2);
  {
    std::string frame;
    AppendFrame(1, "tampered", &frame);
    frame.back() ^= 1;
    const int fd = ConnectRaw(b.transport->listen_address());
    ASSERT_EQ(::send(fd, frame.data(), frame.size(), 0), static_cast<ssize_t>(frame.size()));
    EXPECT_TRUE(ServerCloses(fd));
    ::close(fd);
  }
  {
    std::string header(kFrameHeaderBytes, '\xff');  // size 0xffffffff
    const int fd = ConnectRaw(b.transport->listen_address());
    ASSERT_EQ(::send(fd, header.data(), header.size(), 0), static_cast<ssize_t>(header.size()));
    EXPECT_TRUE(ServerCloses(fd));
    ::close(fd);
  }
  {
    // A well-formed frame on a fresh connection is still delivered.
    std::string frame;
    AppendFrame(1, "clean", &frame);
    const int fd = ConnectRaw(b.transport->listen_address());
    ASSERT_EQ(::send(fd, frame.data(), frame.size(), 0), static_cast<ssize_t>(frame.size()));
    ASSERT_TRUE(b.handler.WaitForMessages(1));
    ::close(fd);
  }
  const auto got = b.handler.messages();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, "clean");
  EXPECT_EQ(b.transport->stats().bad_frames, 2u);
}

TEST(TcpTransportTest, RemovedPeerIsNoLongerSentTo) {
  auto loop = NewLoop();
  Node a(loop.get(), 1);
  Node b(loop.get(), 2);
  OnLoop(loop.get(), [&] {
    a.transport->AddPeer(2, b.transport->listen_address());
    a.transport->Send(2, "one");
  });
  ASSERT_TRUE(b.handler.WaitForMessages(1));
  OnLoop(loop.get(), [&] {
    a.transport->RemovePeer(2);
    a.transport->Send(2, "two");
  });
  EXPECT_TRUE(a.handler.WaitForUnreachable(2));
  OnLoop(loop.get(), [&] {
    a.transport->AddPeer(2, b.transport->listen_address());
    a.transport->Send(2, "three");
  });
  ASSERT_TRUE(b.handler.WaitForMessages(2));
  EXPECT_EQ(b.handler.messages()[1].payload, "three");
}

// A member joining a running cluster has no ID until its data directory is set up: its
// frames must not go out as "from 0" (which reads as a control query).
TEST(TcpTransportTest, UnknownSelfIdDropsUntilSetSelfId) {
  auto loop = NewLoop();
  Node a(loop.get(), 0);
  Node b(loop.get(), 2);
  OnLoop(loop.get(), [&] {
    a.transport->AddPeer(2, b.transport->listen_address());
    a.transport->Send(2, "too early");
  });
  EXPECT_TRUE(a.handler.WaitForUnreachable(2));
  OnLoop(loop.get(), [&] {
    a.transport->SetSelfId(7);
    a.transport->Send(2, "with an id");
  });
  ASSERT_TRUE(b.handler.WaitForMessages(1));
  const auto got = b.handler.messages();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].from, 7u);
  EXPECT_EQ(got[0].payload, "with an id");
}

TEST(TcpTransportTest, ControlQueryIsAnsweredOnItsConnectionBesidePeerStreams) {
  auto loop = NewLoop();
  Node a(loop.get(), 1);
  Node b(loop.get(), 2);
  b.transport->SetQueryHandler([](std::string request, TcpTransport::QueryReply reply) {
    std::move(reply)("answer to " + request);
  });
  OnLoop(loop.get(), [&] {
    a.transport->AddPeer(2, b.transport->listen_address());
    for (int i = 0; i < 100; ++i) a.transport->Send(2, absl::StrCat("m", i));
  });
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<std::string> answer =
        TcpTransport::Query(b.transport->listen_address(), absl::StrCat("members ", i), 10000);
    ASSERT_TRUE(answer.ok()) << answer.status();
    EXPECT_EQ(*answer, absl::StrCat("answer to members ", i));
  }
  // The pipelined peer stream is untouched by the queries: all in order, none dropped.
  ASSERT_TRUE(b.handler.WaitForMessages(100));
  const auto got = b.handler.messages();
  for (int i = 0; i < 100; ++i) ASSERT_EQ(got[i].payload, absl::StrCat("m", i));
  // The I/O thread folds its counters into stats() on its next pass, which may come just
  // after the client read the third answer: wait for it (bounded).
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (b.transport->stats().queries_answered < 3u && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(b.transport->stats().queries_answered, 3u);
  EXPECT_EQ(a.transport->stats().dropped, 0u);
}

TEST(TcpTransportTest, ControlQueryFailsCleanlyWithoutAnAnswer) {
  auto loop = NewLoop();
  Node b(loop.get(), 2);
  // No handler: the connection is closed at once.
  absl::StatusOr<std::string> refused =
      TcpTransport::Query(b.transport->listen_address(), "members", 10000);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable) << refused.status();
  // A handler that never answers: the asker's deadline ends the wait.
  b.transport->SetQueryHandler([](std::string, TcpTransport::QueryReply) {});
  absl::StatusOr<std::string> silent =
      TcpTransport::Query(b.transport->listen_address(), "members", 300);
  EXPECT_EQ(silent.status().code(), absl::StatusCode::kUnavailable) << silent.status();
  // Nobody listening.
  DeadPort dead;
  absl::StatusOr<std::string> nobody = TcpTransport::Query(dead.address, "members", 10000);
  EXPECT_EQ(nobody.status().code(), absl::StatusCode::kUnavailable) << nobody.status();
  // The transport still answers afterwards (the silent query's slot was freed on close).
  b.transport->SetQueryHandler([](std::string, TcpTransport::QueryReply reply) {
    std::move(reply)("late but fine");
  });
  absl::StatusOr<std::string> answer =
      TcpTransport::Query(b.transport->listen_address(), "members", 10000);
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(*answer, "late but fine");
}

}  // namespace
}  // namespace keel::env
