// etcd 3.4's HTTP/JSON gateway (grpc-gateway as etcd registers it, embed/serve.go;
// Debian's etcd 3.4.23 is built with grpc-gateway 1.6.4, whose answers these are)
// and its /version, served on the client port's HTTP/1.x side (node/http_endpoints.h).
//
// Every request goes through the node's own gRPC services, over an in-process channel
// (grpc::Server::InProcessChannel), exactly as etcd's gateway dials its own gRPC port:
// auth (the `Authorization` header becomes the call's `authorization` metadata), quotas,
// status codes and messages are the gRPC ones. The HTTP worker thread only converts JSON
// and waits for the call; it never touches the Server (node/README.md's contract).
//
// Answers, as etcd's:
//   * unary: 200 + the response JSON (json_codec.h), or the gRPC status as grpc-gateway's
//     error body with its HTTP status (HttpStatusFromCode);
//   * streaming (watch, lease keep-alive, snapshot, election observe): the body's JSON
//     values are sent as requests, then the send side is closed; the answer is a chunked
//     stream of `{"result":<response>}\n` lines, ending when the gRPC call ends (with an
//     `{"error":{...}}` chunk if it failed) or when the HTTP client goes away (the call
//     is cancelled). A watch therefore lasts until the client closes the connection.
//   * a body that is not JSON: Go's decoder message (go_json_scan.h), code 3 / HTTP 400
//     for unary calls, code 2 / HTTP 500 for streams (grpc-gateway does not wrap those).
//
// Bounds: at most Options::max_streams streaming calls at once (more are answered
// ResourceExhausted "etcdserver: too many requests", HTTP 429); each buffers at most
// Options::stream_queue_messages responses before gRPC reads pause (backpressure to the
// server's watch queue); at most Options::max_stream_requests JSON values per body;
// bodies above Options::max_body_bytes are refused by httplib (413).
#ifndef KEEL_NODE_GATEWAY_GATEWAY_H_
#define KEEL_NODE_GATEWAY_GATEWAY_H_

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "node/gateway/routes.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace keel::node::gateway {

// etcd 3.4.23's /version answer. etcdcluster is the cluster version etcd decides from
// its members' versions: every keeld member is 3.4, so "3.4.0".
inline constexpr char kVersionJson[] = R"({"etcdserver":"3.4.23","etcdcluster":"3.4.0"})";

class Gateway {
 public:
  struct Options {
    size_t max_streams = 32;
    size_t stream_queue_messages = 64;
    size_t max_stream_requests = 1024;
    size_t max_body_bytes = 4 << 20;
    // The socket of the HTTP request being served on this thread, or -1 if unknown; polled
    // to notice a client that went away while a call is pending (then the call is
    // cancelled, as Go cancels the request context).
    int (*current_connection_fd)() = nullptr;
  };

  // `channel` reaches this node's gRPC services (in-process); it outlives no one: the
  // gateway keeps it.
  static absl::StatusOr<std::unique_ptr<Gateway>> Create(
      std::shared_ptr<grpc::ChannelInterface> channel, Options options);

  // Adds POST /v3/... and /v3beta/..., GET /version to `http` (and etcd's 405/404 for
  // other methods and unknown /v3 paths). `http` must not outlive the gateway.
  void Register(httplib::Server* http);

  // Streaming calls in progress (for tests and the bound).
  size_t active_streams() const { return active_streams_.load(); }

 private:
  Gateway(std::shared_ptr<grpc::ChannelInterface> channel, Options options,
          absl::flat_hash_map<std::string, Route> routes);
  void Serve(const httplib::Request& req, httplib::Response& res);
  void ServeUnary(const Route& route, const httplib::Request& req, httplib::Response& res);
  void ServeStream(const Route& route, const httplib::Request& req, httplib::Response& res);
  int CurrentFd() const;

  std::shared_ptr<grpc::ChannelInterface> channel_;
  grpc::GenericStub stub_;
  const Options options_;
  const absl::flat_hash_map<std::string, Route> routes_;
  std::atomic<size_t> active_streams_{0};
};

}  // namespace keel::node::gateway

#endif  // KEEL_NODE_GATEWAY_GATEWAY_H_
