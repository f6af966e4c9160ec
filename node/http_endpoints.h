// /health and /metrics over HTTP/1.1 on --listen-metrics-urls (cpp-httplib).
//
// etcd serves these on the client port too, next to gRPC, by sniffing each connection
// (cmux). gRPC C++ owns its listening sockets, so keeld serves them on the metrics URLs
// only (etcd's own flag for a separate metrics listener); see node/README.md.
//
// Handlers run on httplib's worker threads and reach the Server only through Loop::Post,
// waiting at most `health_timeout_ms` for the answer.
#ifndef KEEL_NODE_HTTP_ENDPOINTS_H_
#define KEEL_NODE_HTTP_ENDPOINTS_H_

#include <memory>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "env/env.h"
#include "node/url.h"
#include "server/server.h"

namespace httplib {
class Server;
}

namespace keel::node {

class HttpEndpoints {
 public:
  // Binds every URL (failing with the first bind error, e.g. a busy port) and starts
  // serving. `loop` and `server` outlive the returned object, or until Stop().
  static absl::StatusOr<std::unique_ptr<HttpEndpoints>> Start(const std::vector<Url>& urls,
                                                              env::Loop* loop,
                                                              server::Server* server,
                                                              int64_t health_timeout_ms = 1000);
  ~HttpEndpoints();

  // Stops accepting and joins the listener threads. Idempotent.
  void Stop();

 private:
  HttpEndpoints() = default;

  std::vector<std::unique_ptr<httplib::Server>> servers_;
  std::vector<std::thread> threads_;
};

}  // namespace keel::node

#endif  // KEEL_NODE_HTTP_ENDPOINTS_H_
