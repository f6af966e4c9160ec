// ClientListener: etcd's cmux for the client port. keeld owns the listening sockets of
// --listen-client-urls; one thread accepts, peeks at the first bytes of each connection
// (never consuming them) and hands it over whole:
//   * starting with the HTTP/2 client preface "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" (every
//     gRPC client) -> `grpc` (keeld: grpc::AddInsecureChannelFromFd; gRPC then owns the
//     socket, so gRPC traffic takes no extra hop);
//   * anything else -> `http` (keeld: HttpEndpoints::ServeConnection; /health, /metrics).
// Connections accepted on an https:// URL are not sniffed (their first bytes are a TLS
// ClientHello): they go straight to `tls` (keeld: TlsTerminator, which sniffs after
// decrypting).
// Bounds: at most Options::max_pending connections being sniffed (more wait in the kernel's
// listen backlog); a connection that has not shown enough bytes to decide within
// Options::peek_timeout_ms is closed, as is one that closes before deciding.
#ifndef KEEL_NODE_CLIENT_LISTENER_H_
#define KEEL_NODE_CLIENT_LISTENER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "node/url.h"

namespace keel::node {

class ClientListener {
 public:
  struct Options {
    size_t max_pending = 256;
    int64_t peek_timeout_ms = 10000;
  };
  // Takes ownership of an accepted, non-blocking socket. Runs on the listener's thread:
  // must not block for long.
  using Handoff = std::function<void(int fd)>;

  // What the first bytes of a connection say.
  enum class Protocol { kUndecided, kHttp2, kHttp1 };
  static Protocol Classify(std::string_view first_bytes);

  // Binds and listens on every URL (Go's wording for a busy port); does not accept yet.
  static absl::StatusOr<std::unique_ptr<ClientListener>> Create(const std::vector<Url>& urls,
                                                                Options options);
  ~ClientListener();

  // Starts the accept thread. `grpc`, `http` and `tls` outlive Stop(). Without `tls`,
  // connections to https:// URLs are closed at once.
  void Start(Handoff grpc, Handoff http, Handoff tls = nullptr);
  // Stops accepting, closes the listening sockets and undecided connections, joins.
  // Idempotent.
  void Stop();

  // The bound ports, in URL order (the real port when a URL asked for 0).
  const std::vector<int>& ports() const { return ports_; }

 private:
  ClientListener(Options options, std::vector<int> listen_fds, std::vector<bool> tls_fds,
                 std::vector<int> ports, int wake_fd);
  void Run();

  const Options options_;
  std::vector<int> listen_fds_;
  const std::vector<bool> tls_fds_;  // per listen_fds_ entry: an https:// URL
  const std::vector<int> ports_;
  const int wake_fd_;
  Handoff grpc_;
  Handoff http_;
  Handoff tls_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace keel::node

#endif  // KEEL_NODE_CLIENT_LISTENER_H_
