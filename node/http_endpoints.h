// /health and /metrics over HTTP/1.1 (cpp-httplib's request handling), in two places:
//   * on --listen-metrics-urls, with httplib's own listeners;
//   * on the client port, as etcd does with cmux: ClientListener (client_listener.h) peeks
//     each accepted connection and hands HTTP/1.x ones to ServeConnection.
//
// Handlers run on httplib's worker threads (or ours, for handed-over connections) and
// reach the Server only through Loop::Post, waiting at most `health_timeout_ms`.
#ifndef KEEL_NODE_HTTP_ENDPOINTS_H_
#define KEEL_NODE_HTTP_ENDPOINTS_H_

#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "env/env.h"
#include "node/metrics.h"
#include "node/url.h"
#include "server/server.h"

namespace httplib {
class Server;
}

namespace keel::node {

// More for the client port only (etcd's JSON gateway, node/gateway/): handlers added to
// the handed-over connections' server, and workers added for the long requests they may
// hold (watch streams), so that HttpEndpoints::kConnectionThreads workers stay for the rest.
struct HttpClientPortExtension {
  std::function<void(httplib::Server*)> add_handlers;
  int extra_workers = 0;
};

class HttpEndpoints {
 public:
  // Bounds for connections handed over by the client port.
  static constexpr int kConnectionThreads = 2;
  static constexpr size_t kMaxQueuedConnections = 64;
  static constexpr int kKeepAliveRequests = 100;  // per connection, then it is closed
  static constexpr int64_t kIdleTimeoutMs = 5000;  // between requests on one connection
  static constexpr int64_t kIoTimeoutMs = 5000;    // one read or write within a request

  using ClientPortExtension = HttpClientPortExtension;

  // Binds every URL (failing with the first bind error, e.g. a busy port) and starts
  // serving; `urls` may be empty (handed-over connections only). `loop`, `server` and
  // `node_metrics` (health counts and gRPC counters for /metrics; may be null), and what
  // `extension` refers to, outlive the returned object, or until Stop().
  static absl::StatusOr<std::unique_ptr<HttpEndpoints>> Start(
      const std::vector<Url>& urls, env::Loop* loop, server::Server* server,
      NodeMetrics* node_metrics = nullptr, int64_t health_timeout_ms = 1000,
      ClientPortExtension extension = {});

  // The socket of the handed-over connection this worker thread is serving; -1 on any
  // other thread. Lets a handler notice its client went away.
  static int CurrentConnectionFd();
  ~HttpEndpoints();

  // Serves one accepted HTTP/1.x connection (taking ownership of `fd`) on a worker
  // thread: keep-alive requests until the client closes, idles, or the bound is reached.
  // When kMaxQueuedConnections wait already, or after Stop, `fd` is closed at once.
  // Thread-safe.
  void ServeConnection(int fd);

  // Stops accepting, ends handed-over connections, joins every thread. Idempotent.
  void Stop();

 private:
  class HandlerServer;
  HttpEndpoints() = default;
  void ConnectionWorker();

  std::vector<std::unique_ptr<httplib::Server>> servers_;
  std::vector<std::thread> threads_;
  // Handed-over connections: the handlers, a bounded queue, a few workers.
  std::unique_ptr<HandlerServer> connection_server_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<int> queued_ ABSL_GUARDED_BY(mu_);
  std::vector<int> active_ ABSL_GUARDED_BY(mu_);  // being served; shut down by Stop
  std::vector<std::thread> workers_;
};

}  // namespace keel::node

#endif  // KEEL_NODE_HTTP_ENDPOINTS_H_
