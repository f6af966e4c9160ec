#include "node/http_endpoints.h"

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
    reply->Set(result.ok(), "");
  });
}

void ServeHealth(env::Loop* loop, server::Server* server, int64_t timeout_ms,
                 httplib::Response& res) {
  auto reply = std::make_shared<PendingReply>();
  loop->Post([server, reply] { CheckHealthOnLoop(server, reply); });
  bool healthy = false;
  std::string unused;
  if (!reply->Wait(timeout_ms, &healthy, &unused)) healthy = false;
  res.status = healthy ? 200 : 503;
  res.set_content(healthy ? kHealthyBody : kUnhealthyBody, "application/json");
}

void ServeMetrics(env::Loop* loop, server::Server* server, int64_t timeout_ms,
                  httplib::Response& res) {
  auto reply = std::make_shared<PendingReply>();
  loop->Post([server, reply] { reply->Set(true, RenderMetrics(server->Stats())); });
  bool ok = false;
  std::string text;
  if (!reply->Wait(timeout_ms, &ok, &text)) {
    res.status = 503;
    res.set_content("metrics unavailable: server loop did not answer in time\n", "text/plain");
    return;
  }
  res.status = 200;
  res.set_content(text, kPrometheusContentType);
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpEndpoints>> HttpEndpoints::Start(const std::vector<Url>& urls,
                                                                    env::Loop* loop,
                                                                    server::Server* server,
                                                                    int64_t health_timeout_ms) {
  std::unique_ptr<HttpEndpoints> endpoints(new HttpEndpoints());
  for (const Url& url : urls) {
    auto http = std::make_unique<httplib::Server>();
    http->Get("/health",
              [loop, server, health_timeout_ms](const httplib::Request&, httplib::Response& res) {
                ServeHealth(loop, server, health_timeout_ms, res);
              });
    http->Get("/metrics",
              [loop, server, health_timeout_ms](const httplib::Request&, httplib::Response& res) {
                ServeMetrics(loop, server, health_timeout_ms, res);
              });
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

void HttpEndpoints::Stop() {
  for (auto& http : servers_) http->stop();
  for (std::thread& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  threads_.clear();
}

}  // namespace keel::node
