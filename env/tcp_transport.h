// TcpTransport: the real peer Transport, over TCP.
//
// One I/O thread (poll(2)) owns every socket. Each peer gets one outgoing connection,
// opened on demand, over which frames (env/tcp_frame.h) are pipelined: queued messages
// are coalesced into one write and nothing ever waits for a reply. Incoming connections
// are accepted from anyone; each frame names its sender, and received messages are
// posted to the Loop and delivered to the handler there, in the order they arrived on
// their connection.
//
// Failure handling (delivery is best effort, env.h):
//   * Connect failure or a broken connection: the peer's queued messages are dropped,
//     OnPeerUnreachable(peer) is reported once, and the next attempt waits a backoff that
//     doubles from reconnect_backoff_initial_ms up to reconnect_backoff_max_ms (reset by a
//     successful connect). Messages sent meanwhile queue, and are sent after reconnecting.
//   * Per-peer queue full (messages or bytes), unknown peer, or a payload above the frame
//     limit: the message is dropped and OnPeerUnreachable(peer) reported. Send never blocks.
//   * An incoming frame with a bad CRC or a size above max_frame_payload_bytes closes that
//     connection (the sender reconnects).
//
// Control queries (tcp_frame.h, from == 0): an incoming query frame is handed, on the
// Loop, to the QueryHandler (SetQueryHandler); its one answer goes back on the same
// connection. Without a handler, or with a second query while one is unanswered, the
// connection is closed. `Query` is the asking side: a blocking one-shot exchange for a
// process that has no Loop or member ID yet (a member joining a running cluster).
// Member IDs: self_id may be 0 at creation (not known until the data directory is read);
// Send drops messages until SetSelfId gives the real one, because a frame from 0 is a
// query.
//
// Bounds: per-peer queues (above); at most max_inbound_connections accepted connections
// (more wait in the listen backlog); at most max_undelivered_messages received messages
// posted to the Loop and not yet handled; past that, reading pauses and TCP flow control
// pushes back on the senders.
//
// Threading: SetHandler, AddPeer, RemovePeer and Send are thread-safe (normally called on
// the Loop). Handler callbacks run on the Loop. Destruction stops and joins the I/O
// thread; callbacks already posted still run later on the Loop (the handler outlives the
// Transport, env.h). Posted callbacks look the handler up when they run, so
// SetHandler(nullptr) called on the Loop stops every delivery not yet run: after it, the
// handler may be destroyed even while the Transport lives on (keeld's shutdown).
#ifndef KEEL_ENV_TCP_TRANSPORT_H_
#define KEEL_ENV_TCP_TRANSPORT_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "env/env.h"
#include "env/tls.h"

namespace keel::env {

struct HostPort {
  std::string host;
  uint16_t port = 0;
};

// Parses "host:port", "[v6]:port", optionally prefixed by "http://" or "https://" (etcd's
// peer URLs) and followed by a "/" path, which is ignored.
absl::StatusOr<HostPort> ParseHostPort(std::string_view address);

class TcpTransport final : public Transport {
 public:
  struct Options {
    uint64_t self_id = 0;  // the sender id in every frame; 0 = not known yet (SetSelfId)
    std::string listen_address = "127.0.0.1:0";  // port 0: any free port
    size_t peer_queue_max_messages = 4096;
    size_t peer_queue_max_bytes = size_t{64} << 20;
    size_t max_frame_payload_bytes = size_t{64} << 20;
    size_t max_batch_bytes = size_t{1} << 20;  // per coalesced write
    int64_t reconnect_backoff_initial_ms = 20;
    int64_t reconnect_backoff_max_ms = 2000;
    size_t max_inbound_connections = 64;
    size_t max_undelivered_messages = 8192;
    size_t max_pending_queries = 16;  // unanswered control queries; more close at once
    // TLS (env/tls.h), etcd's --peer-* flags. Set: every accepted connection must complete
    // a TLS handshake with this context first (a wrong-CA or missing client certificate
    // is refused and logged). Null: plaintext.
    std::shared_ptr<const TlsContext> tls_server;
    // Outgoing connections handshake with this context (server certificate checked against
    // the dialled host unless the context skips verification) when the address is
    // "https://..." or a bare "host:port" (what the server core passes); "http://"
    // addresses are plaintext. Null: plaintext, and an https:// peer is unreachable.
    std::shared_ptr<const TlsContext> tls_client;
  };

  // A control query's answer; call it once, from any thread. Dropping it unrun leaves the
  // asker to time out.
  using QueryReply = absl::AnyInvocable<void(std::string answer) &&>;
  // Runs on the Loop for each control query received.
  using QueryHandler = std::function<void(std::string request, QueryReply reply)>;

  struct Stats {
    uint64_t frames_sent = 0;      // handed to the kernel
    uint64_t writes = 0;           // send(2) calls that moved bytes (batching: < frames)
    uint64_t frames_received = 0;  // posted to the Loop
    uint64_t dropped = 0;          // messages dropped before being sent
    uint64_t connects = 0;         // successful outgoing connections
    uint64_t bad_frames = 0;       // incoming connections closed for a framing error
    uint64_t queries_answered = 0; // control query answers written back
  };

  // Binds and listens, then starts the I/O thread. `loop` outlives the Transport.
  static absl::StatusOr<std::unique_ptr<TcpTransport>> Create(Loop* loop, Options options);
  ~TcpTransport() override;

  // The bound "host:port" (with the real port when Options asked for 0).
  std::string listen_address() const { return listen_address_; }
  Stats stats() const;

  // The member ID stamped on every frame from now on (non-zero). Thread-safe.
  void SetSelfId(uint64_t id);
  // Replaces the control query handler; nullptr refuses queries (closes the connection).
  void SetQueryHandler(QueryHandler handler);

  // Asks the member listening on `address` ("host:port") one control query and returns
  // its answer, blocking the calling thread for at most `timeout_ms` in all. kUnavailable
  // if it cannot connect, times out, or the connection closes first; kDataLoss for a bad
  // frame. An empty answer means the member could not answer. An "https://" address is
  // asked over TLS with `tls` (required then; kFailedPrecondition without it).
  static absl::StatusOr<std::string> Query(std::string_view address, std::string_view request,
                                           int64_t timeout_ms,
                                           size_t max_answer_bytes = size_t{64} << 20,
                                           const TlsContext* tls = nullptr);

  void SetHandler(TransportHandler* handler) override;
  // A new address (or a new peer) starts a fresh stream and drops what was queued for the
  // old one; the same address again is a no-op.
  void AddPeer(uint64_t id, std::string_view address) override;
  void RemovePeer(uint64_t id) override;
  void Send(uint64_t to, std::string payload) override;

 private:
  // What the Loop side shares with the I/O thread about one peer.
  struct PeerQueue {
    std::string address;
    uint64_t generation = 0;  // changes when the peer is re-added: reconnect
    std::deque<std::string> messages;
    size_t queued_bytes = 0;
  };
  class IoThread;  // tcp_transport.cc: sockets, owned by the I/O thread alone
  // Answers to control queries, handed from any thread to the I/O thread. Shared with the
  // QueryReply callbacks, which may run after the Transport is gone (`closed`).
  struct QueryAnswers {
    absl::Mutex mu;
    bool closed ABSL_GUARDED_BY(mu) = false;
    int wake_fd ABSL_GUARDED_BY(mu) = -1;
    std::vector<std::pair<uint64_t, std::string>> ready ABSL_GUARDED_BY(mu);  // (conn, answer)
  };

  TcpTransport(Loop* loop, Options options, int listen_fd, int wake_fd,
               std::string listen_address);
  void Wake();
  void ReportUnreachable(uint64_t peer);
  // Tells the handler, when the Loop gets to it, that `peer` is unreachable.
  void PostUnreachable(uint64_t peer);

  Loop* const loop_;
  const Options options_;
  const int listen_fd_;
  const int wake_fd_;  // eventfd: Send/AddPeer/RemovePeer/destructor wake the I/O thread
  const std::string listen_address_;
  // Received, posted and not yet delivered; shared with posted callbacks, which may run
  // after the Transport is gone.
  const std::shared_ptr<std::atomic<size_t>> undelivered_;
  // handler_ as the callbacks posted to the Loop see it when they run (shared with them,
  // so it outlives the Transport); set with handler_.
  const std::shared_ptr<std::atomic<TransportHandler*>> live_handler_;
  const std::shared_ptr<QueryAnswers> answers_;
  std::atomic<uint64_t> self_id_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // A Send has written wake_fd_ since the I/O thread last took the queues (Reconcile):
  // later Sends need not wake it again, it will take their messages too.
  bool wake_pending_ ABSL_GUARDED_BY(mu_) = false;
  TransportHandler* handler_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::shared_ptr<QueryHandler> query_handler_ ABSL_GUARDED_BY(mu_);
  uint64_t next_generation_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<uint64_t, PeerQueue> peers_ ABSL_GUARDED_BY(mu_);
  Stats stats_ ABSL_GUARDED_BY(mu_);

  std::unique_ptr<IoThread> io_;
  std::thread thread_;
};

}  // namespace keel::env

#endif  // KEEL_ENV_TCP_TRANSPORT_H_
