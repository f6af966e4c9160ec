// The client port's connection sniffing: what goes to gRPC, what to HTTP, that the peeked
// bytes are still there for the new owner, and the bounds (peek timeout, busy port).
#include "node/client_listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace keel::node {
namespace {

constexpr char kPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

TEST(ClientListenerTest, ClassifiesByTheFirstBytes) {
  using P = ClientListener::Protocol;
  EXPECT_EQ(ClientListener::Classify(""), P::kUndecided);
  EXPECT_EQ(ClientListener::Classify("PRI * HT"), P::kUndecided);
  EXPECT_EQ(ClientListener::Classify(kPreface), P::kHttp2);
  EXPECT_EQ(ClientListener::Classify(std::string(kPreface) + "\x00\x00\x12\x04"), P::kHttp2);
  EXPECT_EQ(ClientListener::Classify("GET /health HTTP/1.1\r\n"), P::kHttp1);
  EXPECT_EQ(ClientListener::Classify("P"), P::kUndecided);
  EXPECT_EQ(ClientListener::Classify("POST /v3/kv/range"), P::kHttp1);
}

// Records the connections handed over, with everything that could be read from them.
struct Recorder {
  absl::Mutex mu;
  std::vector<std::pair<std::string, std::string>> got;  // (which, bytes read)

  ClientListener::Handoff Handoff(std::string which) {
    return [this, which](int fd) {
      std::string bytes;
      char buffer[256];
      // The test client sends its bytes then shuts down its side: read to EOF.
      while (true) {
        pollfd p = {fd, POLLIN, 0};
        if (::poll(&p, 1, 5000) <= 0) break;
        const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
        if (n <= 0) break;
        bytes.append(buffer, static_cast<size_t>(n));
      }
      ::close(fd);
      absl::MutexLock lock(&mu);
      got.emplace_back(which, bytes);
    };
  }
  bool WaitFor(size_t n) {
    absl::MutexLock lock(&mu);
    auto enough = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return got.size() >= n; };
    return mu.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(30));
  }
};

int Connect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  return fd;
}

void SendAll(int fd, const std::string& bytes) {
  ASSERT_EQ(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(bytes.size()));
}

std::unique_ptr<ClientListener> NewListener(ClientListener::Options options = {}) {
  Url url{"http", "127.0.0.1", 0};
  auto listener = ClientListener::Create({url}, options);
  EXPECT_TRUE(listener.ok()) << listener.status();
  return *std::move(listener);
}

TEST(ClientListenerTest, HandsOverWholeConnectionsByProtocol) {
  Recorder recorder;
  auto listener = NewListener();
  listener->Start(recorder.Handoff("grpc"), recorder.Handoff("http"));
  const int port = listener->ports().at(0);
  ASSERT_NE(port, 0);

  const std::string grpc_bytes = std::string(kPreface) + "frames follow";
  const int a = Connect(port);
  SendAll(a, grpc_bytes);
  ::shutdown(a, SHUT_WR);
  ASSERT_TRUE(recorder.WaitFor(1));

  const std::string http_bytes = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
  const int b = Connect(port);
  SendAll(b, http_bytes);
  ::shutdown(b, SHUT_WR);
  ASSERT_TRUE(recorder.WaitFor(2));

  // The preface split across two sends still goes to gRPC.
  const int c = Connect(port);
  SendAll(c, "PRI * HT");
  absl::SleepFor(absl::Milliseconds(50));
  SendAll(c, std::string(kPreface).substr(8));
  ::shutdown(c, SHUT_WR);
  ASSERT_TRUE(recorder.WaitFor(3));

  listener->Stop();
  absl::MutexLock lock(&recorder.mu);
  ASSERT_EQ(recorder.got.size(), 3u);
  // Peeking consumed nothing: the new owner reads the connection from its first byte.
  EXPECT_EQ(recorder.got[0], std::make_pair(std::string("grpc"), grpc_bytes));
  EXPECT_EQ(recorder.got[1], std::make_pair(std::string("http"), http_bytes));
  EXPECT_EQ(recorder.got[2], std::make_pair(std::string("grpc"), std::string(kPreface)));
  for (int fd : {a, b, c}) ::close(fd);
}

TEST(ClientListenerTest, SilentOrVanishingConnectionsAreClosedNotHandedOver) {
  Recorder recorder;
  ClientListener::Options options;
  options.peek_timeout_ms = 200;
  auto listener = NewListener(options);
  listener->Start(recorder.Handoff("grpc"), recorder.Handoff("http"));
  const int port = listener->ports().at(0);
  const int silent = Connect(port);
  SendAll(silent, "PRI * HT");  // a partial preface, then nothing
  const int gone = Connect(port);
  ::close(gone);  // closes before saying anything
  timeval tv = {30, 0};
  ::setsockopt(silent, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  char byte;
  // Closed by the listener after the timeout: EOF, or a reset since the peeked bytes were
  // never read (not EAGAIN, which would be our own 30 s receive timeout).
  const ssize_t n = ::recv(silent, &byte, 1, 0);
  EXPECT_TRUE(n == 0 || (n < 0 && errno == ECONNRESET)) << n << " " << errno;
  ::close(silent);
  // Still serving afterwards.
  const int ok = Connect(port);
  SendAll(ok, "GET /metrics HTTP/1.1\r\n\r\n");
  ::shutdown(ok, SHUT_WR);
  ASSERT_TRUE(recorder.WaitFor(1));
  listener->Stop();
  absl::MutexLock lock(&recorder.mu);
  ASSERT_EQ(recorder.got.size(), 1u);
  EXPECT_EQ(recorder.got[0].first, "http");
  ::close(ok);
}

TEST(ClientListenerTest, BusyPortFailsWithGosWording) {
  auto first = NewListener();
  Url url{"http", "127.0.0.1", first->ports().at(0)};
  auto second = ClientListener::Create({url}, ClientListener::Options());
  ASSERT_FALSE(second.ok());
  EXPECT_NE(std::string(second.status().message()).find("bind: Address already in use"),
            std::string::npos)
      << second.status();
}

}  // namespace
}  // namespace keel::node
