#include "node/http_endpoints.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "httplib.h"
#include "node/metrics.h"

namespace keel::node {
namespace {

// A reply computed on the Loop, awaited by an HTTP worker thread with a deadline. Shared,
// because a late Loop callback may still hold it after the worker has given up.
struct PendingReply {
  absl::Mutex mu;
  bool done ABSL_GUARDED_BY(mu) = false;
  bool healthy ABSL_GUARDED_BY(mu) = false;
  std::string body ABSL_GUARDED_BY(mu);

  void Set(bool ok, std::string text) {
    absl::MutexLock lock(&mu);
    if (done) return;
    done = true;
    healthy = ok;
    body = std::move(text);
  }
  // False on timeout.
  bool Wait(int64_t timeout_ms, bool* ok, std::string* text) {
    absl::MutexLock lock(&mu);
    if (!mu.AwaitWithTimeout(absl::Condition(&done), absl::Milliseconds(timeout_ms))) {
      return false;
    }
    *ok = healthy;
    *text = body;
    return true;
  }
};

// etcd 3.4's checkHealth: a known leader, no alarm, and a linearizable read that completes
// (a member partitioned from the quorum has a stale leader but cannot serve it).
void CheckHealthOnLoop(server::Server* server, std::shared_ptr<PendingReply> reply) {
  if (!server->HasLeader() || !server->Stats().alarms.empty()) {
    reply->Set(false, "");
    return;
  }
  etcdserverpb::RangeRequest request;
  request.set_key("health");
  server->Range(request, [reply](absl::StatusOr<etcdserverpb::RangeResponse> result) {
    // With auth on, this credential-less read is refused after its ReadIndex completed:
    // the member answered, which is all /health asks (etcd 3.4's QGET is not
    // access-controlled).
    const bool refused_by_auth =
        result.status().code() == absl::StatusCode::kInvalidArgument &&
        result.status().message() == "etcdserver: user name is empty";
    reply->Set(result.ok() || refused_by_auth, "");
  });
}

void ServeHealth(env::Loop* loop, server::Server* server, NodeMetrics* node_metrics,
                 int64_t timeout_ms, httplib::Response& res) {
  auto reply = std::make_shared<PendingReply>();
  loop->Post([server, reply] { CheckHealthOnLoop(server, reply); });
  bool healthy = false;
  std::string unused;
  if (!reply->Wait(timeout_ms, &healthy, &unused)) healthy = false;
  if (node_metrics != nullptr) (healthy ? node_metrics->health_success : node_metrics->health_failures)++;
  res.status = healthy ? 200 : 503;
  res.set_content(healthy ? kHealthyBody : kUnhealthyBody, "application/json");
}

// The Loop only copies the core's stats; rendering (and reading /proc) happens here.
void ServeMetrics(env::Loop* loop, server::Server* server, const NodeMetrics* node_metrics,
                  int64_t timeout_ms, httplib::Response& res) {
  auto stats = std::make_shared<server::ServerStats>();
  auto reply = std::make_shared<PendingReply>();
  loop->Post([server, stats, reply] {
    *stats = server->Stats();
    reply->Set(true, "");
  });
  bool ok = false;
  std::string unused;
  if (!reply->Wait(timeout_ms, &ok, &unused)) {
    res.status = 503;
    res.set_content("metrics unavailable: server loop did not answer in time\n", "text/plain");
    return;
  }
  res.status = 200;
  res.set_content(RenderMetrics(*stats, node_metrics), kPrometheusContentType);
}

// Waits until `fd` is readable (or writable); false on timeout or error.
bool WaitFor(int fd, short events, int64_t timeout_ms) {
  pollfd p = {fd, events, 0};
  // Bounded: EINTR retries only (each with the full timeout; signals are blocked in keeld).
  while (true) {
    const int ready = ::poll(&p, 1, static_cast<int>(timeout_ms));
    if (ready >= 0 || errno != EINTR) return ready > 0;
  }
}

// httplib's Stream over a blocking socket we accepted, with per-operation timeouts.
class FdStream final : public httplib::Stream {
 public:
  explicit FdStream(int fd) : fd_(fd) {}
  bool is_readable() const override {
    return WaitFor(fd_, POLLIN, HttpEndpoints::kIoTimeoutMs);
  }
  bool is_writable() const override {
    return WaitFor(fd_, POLLOUT, HttpEndpoints::kIoTimeoutMs);
  }
  ssize_t read(char* ptr, size_t size) override {
    if (!is_readable()) return -1;
    return ::recv(fd_, ptr, size, 0);
  }
  ssize_t write(const char* ptr, size_t size) override {
    if (!is_writable()) return -1;
    return ::send(fd_, ptr, size, MSG_NOSIGNAL);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    Describe(::getpeername, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    Describe(::getsockname, ip, port);
  }
  socket_t socket() const override { return fd_; }

 private:
  template <typename Fn>
  void Describe(Fn fn, std::string& ip, int& port) const {
    sockaddr_storage addr = {};
    socklen_t len = sizeof(addr);
    ip.clear();
    port = 0;
    if (fn(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return;
    char host[INET6_ADDRSTRLEN] = {};
    if (addr.ss_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
      ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
      port = ntohs(in->sin_port);
    } else if (addr.ss_family == AF_INET6) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
      ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
      port = ntohs(in6->sin6_port);
    }
    ip = host;
  }

  const int fd_;
};

void AddHandlers(httplib::Server* http, env::Loop* loop, server::Server* server,
                 NodeMetrics* node_metrics, int64_t health_timeout_ms) {
  http->Get("/health", [loop, server, node_metrics, health_timeout_ms](const httplib::Request&,
                                                                      httplib::Response& res) {
    ServeHealth(loop, server, node_metrics, health_timeout_ms, res);
  });
  http->Get("/metrics", [loop, server, node_metrics, health_timeout_ms](const httplib::Request&,
                                                                       httplib::Response& res) {
    ServeMetrics(loop, server, node_metrics, health_timeout_ms, res);
  });
}

}  // namespace

// httplib's request processing (parsing, routing, keep-alive headers, error pages) for a
// connection accepted elsewhere: process_request is protected, so a subclass exposes it.
class HttpEndpoints::HandlerServer final : public httplib::Server {
 public:
  // One request; false when the connection must be closed.
  bool ServeOne(httplib::Stream& stream, bool last, bool* closed) {
    return process_request(stream, last, *closed, nullptr);
  }
};

namespace {
thread_local int current_connection_fd = -1;
}  // namespace

int HttpEndpoints::CurrentConnectionFd() { return current_connection_fd; }

absl::StatusOr<std::unique_ptr<HttpEndpoints>> HttpEndpoints::Start(
    const std::vector<Url>& urls, env::Loop* loop, server::Server* server,
    NodeMetrics* node_metrics, int64_t health_timeout_ms, ClientPortExtension extension) {
  std::unique_ptr<HttpEndpoints> endpoints(new HttpEndpoints());
  endpoints->connection_server_ = std::make_unique<HandlerServer>();
  AddHandlers(endpoints->connection_server_.get(), loop, server, node_metrics, health_timeout_ms);
  if (extension.add_handlers) extension.add_handlers(endpoints->connection_server_.get());
  for (int i = 0; i < kConnectionThreads + std::max(0, extension.extra_workers); ++i) {
    HttpEndpoints* raw = endpoints.get();
    endpoints->workers_.emplace_back([raw] { raw->ConnectionWorker(); });
  }
  for (const Url& url : urls) {
    auto http = std::make_unique<httplib::Server>();
    AddHandlers(http.get(), loop, server, node_metrics, health_timeout_ms);
    // httplib's default on Linux is SO_REUSEPORT alone, which lets a second process bind
    // the same port and leaves TIME_WAIT sockets that block a restart's SO_REUSEADDR bind.
    // SO_REUSEADDR alone is what every server here uses.
    http->set_socket_options([](socket_t sock) {
      int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    });
    absl::Status bindable = CheckBindable(url);
    if (!bindable.ok()) return bindable;
    if (!http->bind_to_port(url.host, url.port)) {
      return absl::UnavailableError(absl::StrCat(
          "listen tcp ", url.HostPort(), ": bind failed (address in use or not available)"));
    }
    httplib::Server* raw = http.get();
    endpoints->servers_.push_back(std::move(http));
    endpoints->threads_.emplace_back([raw] { raw->listen_after_bind(); });
  }
  return endpoints;
}

HttpEndpoints::~HttpEndpoints() { Stop(); }

void HttpEndpoints::ServeConnection(int fd) {
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_ && queued_.size() < kMaxQueuedConnections) {
      queued_.push_back(fd);
      return;
    }
  }
  ::close(fd);  // full or stopping: the client sees the connection closed
}

void HttpEndpoints::ConnectionWorker() {
  // Bounded: one connection per pass; ends when Stop empties the queue.
  while (true) {
    int fd = -1;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || !queued_.empty();
      };
      mu_.Await(absl::Condition(&ready));
      if (stopping_) return;
      fd = queued_.front();
      queued_.pop_front();
      active_.push_back(fd);
    }
    // Blocking I/O with poll timeouts (FdStream); the listener accepted it non-blocking.
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags >= 0) (void)::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    bool closed = false;
    // Bounded by kKeepAliveRequests, each bounded by the I/O timeouts.
    current_connection_fd = fd;
    for (int left = kKeepAliveRequests; left > 0 && !closed; --left) {
      if (!WaitFor(fd, POLLIN, kIdleTimeoutMs)) break;
      FdStream stream(fd);
      if (!connection_server_->ServeOne(stream, /*last=*/left == 1, &closed)) break;
    }
    current_connection_fd = -1;
    {
      absl::MutexLock lock(&mu_);
      active_.erase(std::find(active_.begin(), active_.end(), fd));
    }
    ::close(fd);
  }
}

void HttpEndpoints::Stop() {
  for (auto& http : servers_) http->stop();
  for (std::thread& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  threads_.clear();
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    for (int fd : queued_) ::close(fd);
    queued_.clear();
    // Wakes workers blocked in poll/recv on these; they close them.
    for (int fd : active_) ::shutdown(fd, SHUT_RDWR);
  }
  for (std::thread& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
  workers_.clear();
}

}  // namespace keel::node
