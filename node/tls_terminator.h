// TlsTerminator: TLS in front of the client port's cmux (https:// --listen-client-urls).
//
// gRPC C++ 1.51 can adopt an accepted socket (AddInsecureChannelFromFd) but not one that
// is already TLS, and cpp-httplib's connection handling is plaintext too. So each TLS
// connection gets one relay thread that
//   1. closes plaintext HTTP without an answer, as etcd 3.4's TLS client port does (curl:
//      "Empty reply from server"); any other non-TLS bytes fail the handshake and the
//      connection is closed;
//   2. completes the TLS handshake (OpenSSL, env/tls.h; client certificate verified when
//      the context requires one) within handshake_timeout_ms;
//   3. reads the first decrypted bytes and classifies them as ClientListener does
//      (HTTP/2 preface -> gRPC, else HTTP/1.x -> /health, /metrics);
//   4. creates a socketpair, hands one end to gRPC or HTTP (plaintext, as if accepted), and
//      relays between the TLS socket and the other end until either side closes.
// The verified certificate's Common Name is published for the handed-over fd
// (client_identity.h) for the relay's lifetime.
//
// Bounds: at most max_connections relays (more are closed at accept); per relay, two
// fixed buffers of buffer_bytes (reading pauses when one is full, so TCP flow control
// pushes back on whichever side is faster).
#ifndef KEEL_NODE_TLS_TERMINATOR_H_
#define KEEL_NODE_TLS_TERMINATOR_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "env/tls.h"
#include "node/client_listener.h"

namespace keel::node {

class TlsTerminator {
 public:
  struct Options {
    size_t max_connections = 1024;
    int64_t handshake_timeout_ms = 10000;  // handshake plus the first bytes
    size_t buffer_bytes = 64 * 1024;       // per direction, per connection
  };
  using Handoff = std::function<void(int fd)>;

  // `grpc` and `http` take ownership of a plaintext stream socket; they outlive Stop().
  TlsTerminator(std::shared_ptr<const env::TlsContext> context, Options options, Handoff grpc,
                Handoff http);
  ~TlsTerminator();

  // Takes ownership of an accepted socket and starts its relay thread; returns at once
  // (the ClientListener's accept thread calls it).
  void Serve(int fd);
  // Ends every relay (closing both sides) and joins the threads. Idempotent.
  void Stop();

  size_t active_connections() const;

 private:
  class Buffer;  // fixed-capacity bytes, tls_terminator.cc
  // One connection's life: Handshake, ReadFirstBytes, hand-over, Pump; closes `fd`.
  void Relay(uint64_t id, int fd);
  // Go-style refusal of plaintext HTTP, then the TLS handshake (logged when refused);
  // null when the connection is to be closed.
  std::unique_ptr<env::TlsStream> Handshake(int fd, int64_t deadline_ms);
  // Reads until the first bytes classify; kUndecided on EOF, error, timeout or Stop.
  ClientListener::Protocol ReadFirstBytes(env::TlsStream* tls, int fd, int64_t deadline_ms,
                                          Buffer* to_plain);
  // Relays between the TLS socket `fd` and the socketpair end `outer` until either closes.
  void Pump(env::TlsStream* tls, int fd, int outer, Buffer* to_plain);
  // Joins threads whose relay has ended.
  void Reap() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::shared_ptr<const env::TlsContext> context_;
  const Options options_;
  const Handoff grpc_;
  const Handoff http_;
  const int wake_fd_;  // eventfd: readable once Stop() begins; every relay polls it

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<uint64_t, std::thread> threads_ ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> finished_ ABSL_GUARDED_BY(mu_);
};

}  // namespace keel::node

#endif  // KEEL_NODE_TLS_TERMINATOR_H_
