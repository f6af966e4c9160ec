#include "env/tcp_transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "env/errno_status.h"
#include "env/tcp_frame.h"

namespace keel::env {
namespace {

int64_t MonotonicNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

constexpr int64_t kNanosPerMilli = 1000 * 1000;
// Even with nothing to wait for, wake now and then: a cheap guard against a lost wake-up.
constexpr int kMaxPollMillis = 1000;
// While deliveries are throttled, poll again this soon to see whether the Loop caught up.
constexpr int kThrottledPollMillis = 5;
constexpr size_t kReadChunkBytes = 64 * 1024;
// Reads per readable socket per poll round, so one busy peer cannot starve the others.
constexpr int kReadsPerRound = 4;

// Resolves preferring IPv4, so "localhost" meets a listener on 127.0.0.1.
absl::StatusOr<sockaddr_storage> Resolve(const HostPort& hp, bool passive, socklen_t* len) {
  const std::string port = absl::StrCat(hp.port);
  for (int family : {AF_INET, AF_UNSPEC}) {
    addrinfo hints = {};
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    addrinfo* result = nullptr;
    const int rc = ::getaddrinfo(hp.host.empty() ? nullptr : hp.host.c_str(), port.c_str(),
                                 &hints, &result);
    if (rc != 0 || result == nullptr) continue;
    sockaddr_storage addr = {};
    std::memcpy(&addr, result->ai_addr, result->ai_addrlen);
    *len = result->ai_addrlen;
    ::freeaddrinfo(result);
    return addr;
  }
  return absl::NotFoundError(absl::StrCat("cannot resolve ", hp.host, ":", hp.port));
}

void SetNoDelay(int fd) {
  const int one = 1;
  // Best effort: a missing TCP_NODELAY only costs latency.
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

bool IsHttps(std::string_view address) { return address.substr(0, 8) == "https://"; }

using Io = TlsStream::Io;

// One read from a connection: through `tls` when set, else recv(2). kOk with *n > 0,
// kWantRead (nothing now), kClosed (EOF), kError (*error says why).
Io ConnRead(int fd, TlsStream* tls, char* buffer, size_t capacity, size_t* n,
            std::string* error) {
  if (tls != nullptr) {
    const Io io = tls->Read(buffer, capacity, n);
    if (io == Io::kError) *error = tls->error();
    return io;
  }
  *n = 0;
  // Bounded: EINTR only.
  while (true) {
    const ssize_t got = ::recv(fd, buffer, capacity, 0);
    if (got > 0) {
      *n = static_cast<size_t>(got);
      return Io::kOk;
    }
    if (got == 0) return Io::kClosed;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Io::kWantRead;
    *error = std::strerror(errno);
    return Io::kError;
  }
}

// One write, as ConnRead: kOk with *n > 0 bytes taken, kWantWrite/kWantRead, kError.
Io ConnWrite(int fd, TlsStream* tls, const char* data, size_t size, size_t* n,
             std::string* error) {
  if (tls != nullptr) {
    const Io io = tls->Write(data, size, n);
    if (io == Io::kError || io == Io::kClosed) *error = tls->error();
    return io == Io::kClosed ? Io::kError : io;
  }
  *n = 0;
  // Bounded: EINTR only.
  while (true) {
    const ssize_t sent = ::send(fd, data, size, MSG_NOSIGNAL);
    if (sent > 0) {
      *n = static_cast<size_t>(sent);
      return Io::kOk;
    }
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Io::kWantWrite;
    *error = sent == 0 ? "connection closed" : std::strerror(errno);
    return Io::kError;
  }
}

std::string PeerName(const sockaddr_storage& addr) {
  char host[64] = "?";
  uint16_t port = 0;
  if (addr.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
    port = ntohs(in->sin_port);
    return absl::StrCat(host, ":", port);
  }
  if (addr.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
    port = ntohs(in6->sin6_port);
  }
  return absl::StrCat("[", host, "]:", port);
}

// Refused TLS peers are logged on stderr (keeld's log), one line per failed handshake;
// reconnects back off to reconnect_backoff_max_ms, which bounds the rate.
void LogTls(const std::string& line) {
  const std::string out = absl::StrCat("keeld: peer TLS: ", line, "\n");
  std::fwrite(out.data(), 1, out.size(), stderr);
}

}  // namespace

absl::StatusOr<HostPort> ParseHostPort(std::string_view address) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (address.substr(0, scheme.size()) == scheme) address.remove_prefix(scheme.size());
  }
  if (const size_t slash = address.find('/'); slash != std::string_view::npos) {
    address = address.substr(0, slash);
  }
  const size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("address without port: ", std::string(address)));
  }
  std::string_view host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  uint32_t port = 0;
  const std::string port_text(address.substr(colon + 1));
  if (!absl::SimpleAtoi(port_text, &port) || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("bad port in address: ", std::string(address)));
  }
  return HostPort{std::string(host), static_cast<uint16_t>(port)};
}

// ---------------------------------------------------------------------------------------
// The I/O thread's private state: every socket, and the code that drives them.
// ---------------------------------------------------------------------------------------
class TcpTransport::IoThread {
 public:
  explicit IoThread(TcpTransport* transport) : t_(transport) {}
  ~IoThread() {
    for (auto& [id, out] : outbound_) CloseOutbound(&out);
    for (auto& in : inbound_) ::close(in->fd);
  }

  void Run();

 private:
  enum class State { kIdle, kConnecting, kHandshaking, kConnected };
  struct Outbound {
    uint64_t generation = 0;
    std::string address;
    State state = State::kIdle;
    int fd = -1;
    std::unique_ptr<TlsStream> tls;  // https peers: set from the TCP connect on
    Io want = Io::kWantRead;         // kHandshaking: what the handshake waits for
    std::deque<std::string> batch;  // taken from the peer queue, not yet encoded
    std::string wire;               // encoded frames being written
    size_t wire_offset = 0;
    size_t wire_frames = 0;
    int64_t backoff_ms = 0;
    int64_t retry_at_nanos = 0;
  };
  struct Inbound {
    Inbound(int fd, uint64_t conn_id, size_t max_payload)
        : fd(fd), conn_id(conn_id), decoder(max_payload) {}
    int fd;
    uint64_t conn_id;  // names the connection to a query answer arriving later
    std::string from;  // "host:port", for logs
    std::unique_ptr<TlsStream> tls;  // with Options::tls_server
    bool handshaking = false;
    Io want = Io::kWantRead;  // while handshaking
    FrameDecoder decoder;
    bool query_pending = false;  // a control query was handed to the Loop, no answer yet
    std::string out;             // an encoded answer being written back
    size_t out_offset = 0;
  };
  enum class Kind { kWake, kListen, kOutbound, kInbound };
  struct Watched {
    Kind kind;
    uint64_t peer = 0;     // kOutbound
    size_t inbound = 0;    // kInbound: index into inbound_
  };

  // Syncs with the peer table under the lock; returns the poll timeout in ms, or -1 when
  // stopping.
  int Reconcile(std::vector<uint64_t>* to_connect);
  void Connect(uint64_t id);
  void FinishConnect(uint64_t id);
  // After the TCP connect: TLS handshake for https peers, else connected.
  void BeginSession(uint64_t id);
  void ContinueHandshake(uint64_t id);
  void Established(uint64_t id);
  // Advances an inbound TLS handshake; false when the connection must be closed.
  bool ContinueInboundHandshake(Inbound* in);
  void WriteSome(uint64_t id);
  void ReadOutbound(uint64_t id);
  // Reads from an inbound connection; false when it must be closed.
  bool ReadInbound(Inbound* in);
  // Decodes the complete frames fed to `in` so far: peer messages into `*received` (or
  // dropped when not `deliverable`), control queries to StartQuery. False when the
  // connection must be closed (bad frame, refused query).
  bool DecodeFrames(Inbound* in, bool deliverable, std::vector<Frame>* received);
  // Posts `frames` (from one read) to the handler on the Loop, in order.
  void Deliver(TransportHandler* handler, std::vector<Frame> frames);
  // Hands a control query to the Loop; false when the connection must be closed instead.
  bool StartQuery(Inbound* in, std::string request);
  // Moves answers handed over by QueryReply callbacks onto their connections.
  void CollectAnswers();
  // Writes a pending answer; false when the connection must be closed.
  bool WriteInbound(Inbound* in);
  void CloseInbound(size_t index);
  void Accept();
  // Fills fds_/watched_ with what this round waits for.
  void BuildPollSet();
  // Handles the events poll reported in fds_.
  void Dispatch();
  // Drops the connection and the peer's queue, reports the peer unreachable, backs off.
  void Fail(uint64_t id);
  void CloseOutbound(Outbound* out);

  TcpTransport* const t_;
  std::map<uint64_t, Outbound> outbound_;
  std::vector<std::unique_ptr<Inbound>> inbound_;
  uint64_t next_conn_id_ = 1;
  size_t pending_queries_ = 0;  // inbound connections with query_pending set
  Stats local_;  // counters folded into t_->stats_ once per round
  std::string read_buffer_ = std::string(kReadChunkBytes, '\0');
  std::vector<pollfd> fds_;       // this round's poll set...
  std::vector<Watched> watched_;  // ...and what each entry is
  // An inbound TLS stream holds decrypted bytes poll(2) cannot see: poll without waiting.
  bool tls_buffered_ = false;
};

void TcpTransport::IoThread::CloseOutbound(Outbound* out) {
  out->tls.reset();  // before its socket closes
  if (out->fd >= 0) ::close(out->fd);
  out->fd = -1;
  out->state = State::kIdle;
  out->batch.clear();
  out->wire.clear();
  out->wire_offset = 0;
  out->wire_frames = 0;
}

int TcpTransport::IoThread::Reconcile(std::vector<uint64_t>* to_connect) {
  const int64_t now = MonotonicNanos();
  int64_t timeout_nanos = int64_t{kMaxPollMillis} * kNanosPerMilli;
  absl::MutexLock lock(&t_->mu_);
  if (t_->stopping_) return -1;
  // Every queue is looked at below, under this same lock: a Send from now on must wake us.
  t_->wake_pending_ = false;
  Stats& stats = t_->stats_;
  stats.frames_sent += local_.frames_sent;
  stats.writes += local_.writes;
  stats.frames_received += local_.frames_received;
  stats.dropped += local_.dropped;
  stats.connects += local_.connects;
  stats.bad_frames += local_.bad_frames;
  stats.queries_answered += local_.queries_answered;
  local_ = Stats();
  // Forget peers that were removed or re-added.
  for (auto it = outbound_.begin(); it != outbound_.end();) {
    auto peer = t_->peers_.find(it->first);
    if (peer == t_->peers_.end() || peer->second.generation != it->second.generation) {
      CloseOutbound(&it->second);
      it = outbound_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& [id, queue] : t_->peers_) {
    auto [it, added] = outbound_.try_emplace(id);
    Outbound& out = it->second;
    if (added) {
      out.generation = queue.generation;
      out.address = queue.address;
      out.backoff_ms = t_->options_.reconnect_backoff_initial_ms;
    }
    if (queue.messages.empty()) continue;
    if (out.state == State::kIdle) {
      if (now >= out.retry_at_nanos) {
        to_connect->push_back(id);
      } else {
        timeout_nanos = std::min(timeout_nanos, out.retry_at_nanos - now);
      }
    } else if (out.state == State::kConnected && out.wire_offset == out.wire.size() &&
               out.batch.empty()) {
      // Take what fits one batch; it is encoded outside the lock.
      size_t batch_bytes = 0;
      while (!queue.messages.empty()) {
        const size_t frame_bytes = kFrameHeaderBytes + queue.messages.front().size();
        if (!out.batch.empty() && batch_bytes + frame_bytes > t_->options_.max_batch_bytes) break;
        batch_bytes += frame_bytes;
        queue.queued_bytes -= queue.messages.front().size();
        out.batch.push_back(std::move(queue.messages.front()));
        queue.messages.pop_front();
      }
    }
  }
  if (t_->undelivered_->load() >= t_->options_.max_undelivered_messages) {
    timeout_nanos = std::min<int64_t>(timeout_nanos, kThrottledPollMillis * kNanosPerMilli);
  }
  return static_cast<int>((timeout_nanos + kNanosPerMilli - 1) / kNanosPerMilli);
}

void TcpTransport::IoThread::Connect(uint64_t id) {
  Outbound& out = outbound_.at(id);
  KEEL_CHECK(out.state == State::kIdle && out.fd < 0);
  absl::StatusOr<HostPort> hp = ParseHostPort(out.address);
  socklen_t len = 0;
  absl::StatusOr<sockaddr_storage> addr =
      hp.ok() ? Resolve(*hp, /*passive=*/false, &len) : absl::StatusOr<sockaddr_storage>(hp.status());
  if (!addr.ok()) return Fail(id);
  const int fd = ::socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Fail(id);
  SetNoDelay(fd);
  out.fd = fd;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&*addr), len) == 0) {
    BeginSession(id);
  } else if (errno == EINPROGRESS) {
    out.state = State::kConnecting;
  } else {
    Fail(id);
  }
}

void TcpTransport::IoThread::FinishConnect(uint64_t id) {
  Outbound& out = outbound_.at(id);
  int err = 0;
  socklen_t len = sizeof(err);
  if (::getsockopt(out.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) return Fail(id);
  BeginSession(id);
}

void TcpTransport::IoThread::BeginSession(uint64_t id) {
  Outbound& out = outbound_.at(id);
  const bool bare = out.address.find("://") == std::string::npos;
  const bool use_tls = IsHttps(out.address) || (bare && t_->options_.tls_client != nullptr);
  if (!use_tls) return Established(id);
  if (t_->options_.tls_client == nullptr) {
    LogTls(absl::StrCat("cannot dial ", out.address, ": no peer TLS configured"));
    return Fail(id);
  }
  absl::StatusOr<HostPort> hp = ParseHostPort(out.address);
  absl::StatusOr<std::unique_ptr<TlsStream>> tls =
      TlsStream::Create(*t_->options_.tls_client, out.fd, hp.ok() ? hp->host : "");
  if (!tls.ok()) {
    LogTls(absl::StrCat("dial ", out.address, ": ", tls.status().message()));
    return Fail(id);
  }
  out.tls = *std::move(tls);
  out.state = State::kHandshaking;
  ContinueHandshake(id);
}

void TcpTransport::IoThread::ContinueHandshake(uint64_t id) {
  Outbound& out = outbound_.at(id);
  const Io io = out.tls->Handshake();
  if (io == Io::kOk) return Established(id);
  if (io == Io::kWantRead || io == Io::kWantWrite) {
    out.want = io;
    return;
  }
  LogTls(absl::StrCat("handshake with ", out.address, " failed: ",
                      io == Io::kClosed ? "connection closed" : out.tls->error()));
  Fail(id);
}

void TcpTransport::IoThread::Established(uint64_t id) {
  Outbound& out = outbound_.at(id);
  out.state = State::kConnected;
  out.backoff_ms = t_->options_.reconnect_backoff_initial_ms;
  local_.connects++;
}

bool TcpTransport::IoThread::ContinueInboundHandshake(Inbound* in) {
  const Io io = in->tls->Handshake();
  if (io == Io::kOk) {
    in->handshaking = false;
    return true;
  }
  if (io == Io::kWantRead || io == Io::kWantWrite) {
    in->want = io;
    return true;
  }
  // etcd's wording: rejected connection from "127.0.0.1:50062" (error "...").
  LogTls(absl::StrCat("rejected connection from \"", in->from, "\" (error \"",
                      io == Io::kClosed ? "connection closed" : in->tls->error(), "\")"));
  return false;
}

void TcpTransport::IoThread::WriteSome(uint64_t id) {
  Outbound& out = outbound_.at(id);
  if (out.wire_offset == out.wire.size() && !out.batch.empty()) {
    out.wire.clear();
    out.wire_offset = 0;
    out.wire_frames = AppendBatch(t_->self_id_.load(), SIZE_MAX, &out.batch, &out.wire);
  }
  // Bounded: each pass sends > 0 bytes, or returns.
  while (out.wire_offset < out.wire.size()) {
    size_t n = 0;
    std::string error;
    const Io io = ConnWrite(out.fd, out.tls.get(), out.wire.data() + out.wire_offset,
                            out.wire.size() - out.wire_offset, &n, &error);
    if (io == Io::kWantWrite || io == Io::kWantRead) return;
    if (io != Io::kOk) {
      if (out.tls != nullptr) LogTls(absl::StrCat("write to ", out.address, ": ", error));
      return Fail(id);
    }
    out.wire_offset += n;
    local_.writes++;
  }
  local_.frames_sent += out.wire_frames;
  out.wire_frames = 0;
}

void TcpTransport::IoThread::ReadOutbound(uint64_t id) {
  // Peers never speak on our outgoing stream: readable means closed or reset.
  // With TLS, readable may also be the server's alert refusing our certificate (TLS 1.3
  // tells the client only after its handshake completed): logged.
  Outbound& out = outbound_.at(id);
  char buffer[1024];
  size_t n = 0;
  std::string error;
  const Io io = ConnRead(out.fd, out.tls.get(), buffer, sizeof(buffer), &n, &error);
  if (io == Io::kWantRead || io == Io::kWantWrite) return;
  if (io == Io::kError && out.tls != nullptr) {
    LogTls(absl::StrCat("connection to ", out.address, " refused: ", error));
  }
  if (io != Io::kOk) return Fail(id);
  // Unexpected bytes: ignore them rather than trust a confused peer.
}

bool TcpTransport::IoThread::ReadInbound(Inbound* in) {
  std::string& chunk = read_buffer_;
  if (in->handshaking) {
    if (!ContinueInboundHandshake(in)) return false;
    if (in->handshaking) return true;
  }
  for (int round = 0; round < kReadsPerRound; ++round) {
    size_t n = 0;
    std::string error;
    const Io io = ConnRead(in->fd, in->tls.get(), chunk.data(), chunk.size(), &n, &error);
    if (io == Io::kWantRead || io == Io::kWantWrite) return true;
    if (io == Io::kError && in->tls != nullptr) {
      LogTls(absl::StrCat("connection from ", in->from, ": ", error));
    }
    if (io != Io::kOk) return false;  // closed by the peer, or reset
    in->decoder.Feed(std::string_view(chunk.data(), n));
    TransportHandler* handler = nullptr;
    {
      absl::MutexLock lock(&t_->mu_);
      handler = t_->handler_;
    }
    std::vector<Frame> received;
    const bool ok = DecodeFrames(in, handler != nullptr, &received);
    Deliver(handler, std::move(received));
    if (!ok) return false;
    // A short plaintext read drained the socket; TLS returns one record at a time.
    if (in->tls == nullptr && n < chunk.size()) return true;
  }
  return true;
}

bool TcpTransport::IoThread::DecodeFrames(Inbound* in, bool deliverable,
                                          std::vector<Frame>* received) {
  // Bounded by the bytes fed so far.
  while (true) {
    Frame frame;
    absl::StatusOr<bool> next = in->decoder.Next(&frame);
    if (!next.ok()) {
      local_.bad_frames++;
      return false;
    }
    if (!*next) return true;
    if (frame.from == kQueryFrom) {
      if (!StartQuery(in, std::move(frame.payload))) return false;
      continue;
    }
    if (!deliverable) {
      local_.dropped++;
      continue;
    }
    received->push_back(std::move(frame));
  }
}

void TcpTransport::IoThread::Deliver(TransportHandler* handler, std::vector<Frame> frames) {
  if (frames.empty()) return;
  KEEL_CHECK(handler != nullptr);
  local_.frames_received += frames.size();
  t_->undelivered_->fetch_add(frames.size());
  // One post for every frame of one read: one Loop wake-up and one allocation per read,
  // not per message; the frames are still handled one by one, in stream order.
  t_->loop_->Post([live = t_->live_handler_, undelivered = t_->undelivered_,
                   frames = std::move(frames)]() mutable {
    for (Frame& frame : frames) {
      // Looked up per frame: a handler may detach itself (SetHandler(nullptr)) meanwhile.
      if (TransportHandler* h = live->load()) h->OnMessage(frame.from, std::move(frame.payload));
      undelivered->fetch_sub(1);
    }
  });
}

bool TcpTransport::IoThread::StartQuery(Inbound* in, std::string request) {
  std::shared_ptr<QueryHandler> handler;
  {
    absl::MutexLock lock(&t_->mu_);
    handler = t_->query_handler_;
  }
  if (handler == nullptr || in->query_pending ||
      pending_queries_ >= t_->options_.max_pending_queries) {
    return false;
  }
  in->query_pending = true;
  pending_queries_++;
  t_->loop_->Post([handler, answers = t_->answers_, conn = in->conn_id,
                   request = std::move(request)]() mutable {
    (*handler)(std::move(request), [answers, conn](std::string answer) {
      absl::MutexLock lock(&answers->mu);
      if (answers->closed) return;  // the transport is gone; the asker times out
      // Bounded: at most max_pending_queries answers are ever outstanding.
      answers->ready.emplace_back(conn, std::move(answer));
      const uint64_t one = 1;
      (void)!::write(answers->wake_fd, &one, sizeof(one));
    });
  });
  return true;
}

void TcpTransport::IoThread::CollectAnswers() {
  std::vector<std::pair<uint64_t, std::string>> ready;
  {
    absl::MutexLock lock(&t_->answers_->mu);
    ready.swap(t_->answers_->ready);
  }
  for (auto& [conn, answer] : ready) {
    auto it = std::find_if(inbound_.begin(), inbound_.end(),
                           [conn = conn](const auto& in) { return in->conn_id == conn; });
    // The asker gave up and closed meanwhile, or a reply was called twice.
    if (it == inbound_.end() || !(*it)->query_pending) continue;
    Inbound& in = **it;
    // An answer too large for the asker's frame limit would only be refused there.
    if (answer.size() > t_->options_.max_frame_payload_bytes) answer.clear();
    in.query_pending = false;
    pending_queries_--;
    AppendFrame(t_->self_id_.load(), answer, &in.out);
  }
}

bool TcpTransport::IoThread::WriteInbound(Inbound* in) {
  // Bounded: each pass sends > 0 bytes, or returns.
  while (in->out_offset < in->out.size()) {
    size_t n = 0;
    std::string error;
    const Io io = ConnWrite(in->fd, in->tls.get(), in->out.data() + in->out_offset,
                            in->out.size() - in->out_offset, &n, &error);
    if (io == Io::kWantWrite || io == Io::kWantRead) return true;
    if (io != Io::kOk) return false;
    in->out_offset += n;
  }
  in->out.clear();
  in->out_offset = 0;
  local_.queries_answered++;
  return true;
}

void TcpTransport::IoThread::CloseInbound(size_t index) {
  Inbound& in = *inbound_[index];
  if (in.query_pending) pending_queries_--;
  in.tls.reset();  // before its socket closes
  ::close(in.fd);
  inbound_.erase(inbound_.begin() + static_cast<std::ptrdiff_t>(index));
}

void TcpTransport::IoThread::Accept() {
  // Bounded by the backlog and by the inbound limit.
  while (inbound_.size() < t_->options_.max_inbound_connections) {
    sockaddr_storage from = {};
    socklen_t from_len = sizeof(from);
    const int fd = ::accept4(t_->listen_fd_, reinterpret_cast<sockaddr*>(&from), &from_len,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or a transient error such as ECONNABORTED
    SetNoDelay(fd);
    auto in = std::make_unique<Inbound>(fd, next_conn_id_++,
                                        t_->options_.max_frame_payload_bytes);
    in->from = PeerName(from);
    if (t_->options_.tls_server != nullptr) {
      absl::StatusOr<std::unique_ptr<TlsStream>> tls =
          TlsStream::Create(*t_->options_.tls_server, fd);
      if (!tls.ok()) {
        LogTls(absl::StrCat("connection from ", in->from, ": ", tls.status().message()));
        ::close(fd);
        continue;
      }
      in->tls = *std::move(tls);
      in->handshaking = true;
    }
    inbound_.push_back(std::move(in));
  }
}

void TcpTransport::IoThread::Fail(uint64_t id) {
  Outbound& out = outbound_.at(id);
  // Frames taken for writing are lost with the connection (some may have arrived).
  local_.dropped += out.batch.size() + out.wire_frames;
  CloseOutbound(&out);
  out.retry_at_nanos = MonotonicNanos() + out.backoff_ms * kNanosPerMilli;
  out.backoff_ms = std::min(out.backoff_ms * 2, t_->options_.reconnect_backoff_max_ms);
  {
    absl::MutexLock lock(&t_->mu_);
    auto peer = t_->peers_.find(id);
    if (peer != t_->peers_.end()) {
      local_.dropped += peer->second.messages.size();
      peer->second.messages.clear();
      peer->second.queued_bytes = 0;
    }
  }
  t_->ReportUnreachable(id);
}

void TcpTransport::IoThread::BuildPollSet() {
  fds_.clear();
  watched_.clear();
  fds_.push_back({t_->wake_fd_, POLLIN, 0});
  watched_.push_back({Kind::kWake});
  if (inbound_.size() < t_->options_.max_inbound_connections) {
    fds_.push_back({t_->listen_fd_, POLLIN, 0});
    watched_.push_back({Kind::kListen});
  }
  for (auto& [id, out] : outbound_) {
    if (out.state == State::kIdle) continue;
    if (out.state == State::kHandshaking) {
      fds_.push_back({out.fd, static_cast<short>(out.want == Io::kWantWrite ? POLLOUT : POLLIN), 0});
      watched_.push_back({Kind::kOutbound, id});
      continue;
    }
    short events = POLLIN;  // peers never write to us: readable means closed
    if (out.state == State::kConnecting || out.wire_offset < out.wire.size() ||
        !out.batch.empty()) {
      events |= POLLOUT;
    }
    fds_.push_back({out.fd, events, 0});
    watched_.push_back({Kind::kOutbound, id});
  }
  // Throttled: leave received bytes in the kernel until the Loop catches up (answers to
  // control queries are still written).
  const bool throttled = t_->undelivered_->load() >= t_->options_.max_undelivered_messages;
  tls_buffered_ = false;
  for (size_t i = 0; i < inbound_.size(); ++i) {
    const Inbound& in = *inbound_[i];
    if (in.handshaking) {
      fds_.push_back({in.fd, static_cast<short>(in.want == Io::kWantWrite ? POLLOUT : POLLIN), 0});
      watched_.push_back({Kind::kInbound, 0, i});
      continue;
    }
    tls_buffered_ |= !throttled && in.tls != nullptr && in.tls->HasBuffered();
    const short events = static_cast<short>((throttled ? 0 : POLLIN) |
                                            (inbound_[i]->out.empty() ? 0 : POLLOUT));
    if (events == 0) continue;
    fds_.push_back({inbound_[i]->fd, events, 0});
    watched_.push_back({Kind::kInbound, 0, i});
  }
}

void TcpTransport::IoThread::Dispatch() {
  std::vector<size_t> closed_inbound;
  for (size_t i = 0; i < fds_.size(); ++i) {
    short revents = fds_[i].revents;
    const Watched& w = watched_[i];
    // Decrypted bytes left in an inbound TLS stream count as readable.
    if (tls_buffered_ && w.kind == Kind::kInbound && inbound_[w.inbound]->tls != nullptr &&
        inbound_[w.inbound]->tls->HasBuffered()) {
      revents |= POLLIN;
    }
    if (revents == 0) continue;
    switch (w.kind) {
      case Kind::kWake: {
        uint64_t count = 0;
        (void)!::read(t_->wake_fd_, &count, sizeof(count));
        break;
      }
      case Kind::kListen:
        Accept();
        break;
      case Kind::kOutbound: {
        Outbound& out = outbound_.at(w.peer);
        if (out.state == State::kConnecting) {
          FinishConnect(w.peer);
        } else if (out.state == State::kHandshaking) {
          ContinueHandshake(w.peer);
        } else if (revents & (POLLIN | POLLERR | POLLHUP)) {
          ReadOutbound(w.peer);
        }
        if (out.state == State::kConnected && (revents & POLLOUT)) WriteSome(w.peer);
        break;
      }
      case Kind::kInbound: {
        Inbound* in = inbound_[w.inbound].get();
        bool open = true;
        if (in->handshaking) {
          // ReadInbound continues the handshake, then reads what followed it.
          if (!ReadInbound(in)) closed_inbound.push_back(w.inbound);
          break;
        }
        if (revents & POLLOUT) open = WriteInbound(in);
        if (open && (revents & (POLLIN | POLLERR | POLLHUP))) open = ReadInbound(in);
        if (!open) closed_inbound.push_back(w.inbound);
        break;
      }
    }
  }
  // Close from the back so earlier indices stay valid.
  for (auto it = closed_inbound.rbegin(); it != closed_inbound.rend(); ++it) CloseInbound(*it);
}

void TcpTransport::IoThread::Run() {
  std::vector<uint64_t> to_connect;
  // One round per wake-up, timeout or socket event; ends when the transport stops.
  while (true) {
    to_connect.clear();
    const int timeout_ms = Reconcile(&to_connect);
    if (timeout_ms < 0) return;
    bool connected_at_once = false;
    for (uint64_t id : to_connect) {
      Connect(id);
      connected_at_once |= outbound_.at(id).state == State::kConnected;
    }
    CollectAnswers();
    BuildPollSet();
    // A connection that completed inside connect(2) has a batch to take: poll, don't wait.
    const int ready =
        ::poll(fds_.data(), fds_.size(), connected_at_once || tls_buffered_ ? 0 : timeout_ms);
    if (ready < 0) {
      KEEL_CHECK(errno == EINTR);
      continue;
    }
    Dispatch();
  }
}

// ---------------------------------------------------------------------------------------
// The Loop-facing side.
// ---------------------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<TcpTransport>> TcpTransport::Create(Loop* loop,
                                                                   Options options) {
  if (loop == nullptr) return absl::InvalidArgumentError("TcpTransport: no loop");
  if (options.peer_queue_max_messages == 0 || options.max_inbound_connections == 0 ||
      options.max_pending_queries == 0 ||
      options.max_undelivered_messages == 0 || options.reconnect_backoff_initial_ms <= 0 ||
      options.reconnect_backoff_max_ms < options.reconnect_backoff_initial_ms) {
    return absl::InvalidArgumentError("TcpTransport: bad bounds in options");
  }
  absl::StatusOr<HostPort> hp = ParseHostPort(options.listen_address);
  if (!hp.ok()) return hp.status();
  socklen_t len = 0;
  absl::StatusOr<sockaddr_storage> addr = Resolve(*hp, /*passive=*/true, &len);
  if (!addr.ok()) return addr.status();
  const int listen_fd = ::socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd < 0) return ErrnoToStatus(errno, "socket");
  const int one = 1;
  // A restarted node must be able to rebind its port while old connections linger.
  (void)::setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  const std::string what = absl::StrCat(hp->host, ":", hp->port);
  if (::bind(listen_fd, reinterpret_cast<const sockaddr*>(&*addr), len) != 0 ||
      ::listen(listen_fd, SOMAXCONN) != 0) {
    const int err = errno;
    ::close(listen_fd);
    return ErrnoToStatus(err, absl::StrCat("listen on ", what));
  }
  sockaddr_storage bound = {};
  socklen_t bound_len = sizeof(bound);
  if (::getsockname(listen_fd, reinterpret_cast<sockaddr*>(&bound), &bound_len) != 0) {
    const int err = errno;
    ::close(listen_fd);
    return ErrnoToStatus(err, "getsockname");
  }
  const uint16_t port = ntohs(bound.ss_family == AF_INET6
                                  ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                  : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  const int wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd < 0) {
    const int err = errno;
    ::close(listen_fd);
    return ErrnoToStatus(err, "eventfd");
  }
  const bool v6 = hp->host.find(':') != std::string::npos;
  std::string bound_address =
      v6 ? absl::StrCat("[", hp->host, "]:", port) : absl::StrCat(hp->host, ":", port);
  std::unique_ptr<TcpTransport> transport(
      new TcpTransport(loop, std::move(options), listen_fd, wake_fd, std::move(bound_address)));
  transport->io_ = std::make_unique<IoThread>(transport.get());
  transport->thread_ = std::thread([io = transport->io_.get()] { io->Run(); });
  return transport;
}

TcpTransport::TcpTransport(Loop* loop, Options options, int listen_fd, int wake_fd,
                           std::string listen_address)
    : loop_(loop),
      options_(std::move(options)),
      listen_fd_(listen_fd),
      wake_fd_(wake_fd),
      listen_address_(std::move(listen_address)),
      undelivered_(std::make_shared<std::atomic<size_t>>(0)),
      live_handler_(std::make_shared<std::atomic<TransportHandler*>>(nullptr)),
      answers_(std::make_shared<QueryAnswers>()),
      self_id_(options_.self_id) {
  absl::MutexLock lock(&answers_->mu);
  answers_->wake_fd = wake_fd_;
}

TcpTransport::~TcpTransport() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  Wake();
  thread_.join();
  {
    // Late QueryReply callbacks must not write to the wake fd once it is closed.
    absl::MutexLock lock(&answers_->mu);
    answers_->closed = true;
    answers_->wake_fd = -1;
  }
  io_.reset();  // closes every connection
  ::close(listen_fd_);
  ::close(wake_fd_);
}

void TcpTransport::Wake() {
  const uint64_t one = 1;
  // Cannot fail short of a full counter (2^64 - 2 pending wake-ups); a lost wake-up would
  // only delay the I/O thread until its periodic poll timeout.
  (void)!::write(wake_fd_, &one, sizeof(one));
}

TcpTransport::Stats TcpTransport::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

void TcpTransport::ReportUnreachable(uint64_t peer) {
  TransportHandler* handler = nullptr;
  {
    absl::MutexLock lock(&mu_);
    handler = handler_;
  }
  if (handler == nullptr) return;
  PostUnreachable(peer);
}

void TcpTransport::SetSelfId(uint64_t id) {
  KEEL_CHECK(id != kQueryFrom);
  self_id_.store(id);
}

void TcpTransport::SetQueryHandler(QueryHandler handler) {
  absl::MutexLock lock(&mu_);
  query_handler_ = handler ? std::make_shared<QueryHandler>(std::move(handler)) : nullptr;
}

void TcpTransport::SetHandler(TransportHandler* handler) {
  absl::MutexLock lock(&mu_);
  handler_ = handler;
  live_handler_->store(handler);
}

void TcpTransport::PostUnreachable(uint64_t peer) {
  loop_->Post([live = live_handler_, peer] {
    if (TransportHandler* h = live->load()) h->OnPeerUnreachable(peer);
  });
}

void TcpTransport::AddPeer(uint64_t id, std::string_view address) {
  {
    absl::MutexLock lock(&mu_);
    auto [it, added] = peers_.try_emplace(id);
    PeerQueue& peer = it->second;
    // Re-adding with the same address (a replayed membership change) keeps the stream.
    if (!added && peer.address == address) return;
    peer.address = std::string(address);
    peer.generation = next_generation_++;
    stats_.dropped += peer.messages.size();
    peer.messages.clear();
    peer.queued_bytes = 0;
  }
  Wake();
}

void TcpTransport::RemovePeer(uint64_t id) {
  {
    absl::MutexLock lock(&mu_);
    auto it = peers_.find(id);
    if (it == peers_.end()) return;
    stats_.dropped += it->second.messages.size();
    peers_.erase(it);
  }
  Wake();
}

void TcpTransport::Send(uint64_t to, std::string payload) {
  TransportHandler* report_to = nullptr;
  bool wake = false;
  {
    absl::MutexLock lock(&mu_);
    auto it = peers_.find(to);
    // Until SetSelfId, our frames would read as control queries (from == 0).
    const bool accepted =
        self_id_.load() != kQueryFrom && it != peers_.end() &&
        payload.size() <= options_.max_frame_payload_bytes &&
        it->second.messages.size() < options_.peer_queue_max_messages &&
        it->second.queued_bytes + payload.size() <= options_.peer_queue_max_bytes;
    if (accepted) {
      it->second.queued_bytes += payload.size();
      it->second.messages.push_back(std::move(payload));
      // One eventfd write per I/O round, not per message: the messages of one Ready (one
      // per follower, and more) cost one wake-up and leave in one write per peer.
      wake = !wake_pending_;
      wake_pending_ = true;
    } else {
      stats_.dropped++;
      report_to = handler_;
      if (report_to == nullptr) return;
    }
  }
  if (report_to != nullptr) return PostUnreachable(to);
  if (wake) Wake();
}

// ---------------------------------------------------------------------------------------
// The asking side of a control query: one blocking exchange, bounded by a deadline.
// ---------------------------------------------------------------------------------------
namespace {

class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  const int fd_;
};

// Waits for `events` on `fd` until `deadline_nanos`; false on timeout.
bool PollUntil(int fd, short events, int64_t deadline_nanos) {
  // Bounded: each pass either returns or waits until the deadline (EINTR aside).
  while (true) {
    const int64_t left = deadline_nanos - MonotonicNanos();
    if (left <= 0) return false;
    pollfd p = {fd, events, 0};
    const int ready =
        ::poll(&p, 1, static_cast<int>((left + kNanosPerMilli - 1) / kNanosPerMilli));
    if (ready > 0) return true;
    if (ready < 0 && errno != EINTR) return false;
  }
}

absl::Status Unavailable(std::string_view address, std::string_view what) {
  return absl::UnavailableError(absl::StrCat("query to ", std::string(address), ": ",
                                             std::string(what)));
}

}  // namespace

absl::StatusOr<std::string> TcpTransport::Query(std::string_view address,
                                                std::string_view request, int64_t timeout_ms,
                                                size_t max_answer_bytes, const TlsContext* tls) {
  const int64_t deadline = MonotonicNanos() + timeout_ms * kNanosPerMilli;
  absl::StatusOr<HostPort> hp = ParseHostPort(address);
  if (!hp.ok()) return hp.status();
  if (IsHttps(address) && tls == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("query to ", std::string(address), ": https peer URL without peer TLS"));
  }
  socklen_t len = 0;
  absl::StatusOr<sockaddr_storage> addr = Resolve(*hp, /*passive=*/false, &len);
  if (!addr.ok()) return Unavailable(address, std::string(addr.status().message()));
  const int fd = ::socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoToStatus(errno, "socket");
  FdCloser closer(fd);
  SetNoDelay(fd);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&*addr), len) != 0) {
    if (errno != EINPROGRESS) return Unavailable(address, std::strerror(errno));
    if (!PollUntil(fd, POLLOUT, deadline)) return Unavailable(address, "connect timed out");
    int err = 0;
    socklen_t err_len = sizeof(err);
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len) != 0 || err != 0) {
      return Unavailable(address, std::strerror(err != 0 ? err : errno));
    }
  }
  std::unique_ptr<TlsStream> stream;  // destroyed before `closer` closes the socket
  if (IsHttps(address)) {
    absl::StatusOr<std::unique_ptr<TlsStream>> created = TlsStream::Create(*tls, fd, hp->host);
    if (!created.ok()) return created.status();
    stream = *std::move(created);
    // Bounded: each pass advances the handshake or waits (until the deadline) for the socket.
    while (true) {
      const Io io = stream->Handshake();
      if (io == Io::kOk) break;
      if (io != Io::kWantRead && io != Io::kWantWrite) {
        return Unavailable(address, absl::StrCat("TLS handshake failed: ", stream->error()));
      }
      if (!PollUntil(fd, io == Io::kWantWrite ? POLLOUT : POLLIN, deadline)) {
        return Unavailable(address, "TLS handshake timed out");
      }
    }
  }
  std::string wire;
  AppendFrame(kQueryFrom, request, &wire);
  size_t sent = 0;
  std::string error;
  // Bounded: each pass sends bytes or waits (until the deadline) for room.
  while (sent < wire.size()) {
    size_t n = 0;
    const Io io = ConnWrite(fd, stream.get(), wire.data() + sent, wire.size() - sent, &n, &error);
    if (io == Io::kOk) {
      sent += n;
    } else if (io == Io::kWantRead || io == Io::kWantWrite) {
      if (!PollUntil(fd, io == Io::kWantRead ? POLLIN : POLLOUT, deadline)) {
        return Unavailable(address, "send timed out");
      }
    } else {
      return Unavailable(address, error);
    }
  }
  FrameDecoder decoder(max_answer_bytes);
  std::string chunk(kReadChunkBytes, '\0');
  // Bounded: each pass reads bytes or waits (until the deadline) for them.
  while (true) {
    Frame frame;
    absl::StatusOr<bool> next = decoder.Next(&frame);
    if (!next.ok()) {
      return absl::DataLossError(absl::StrCat("query to ", std::string(address), ": ",
                                              next.status().message()));
    }
    if (*next) return std::move(frame.payload);
    size_t n = 0;
    const Io io = ConnRead(fd, stream.get(), chunk.data(), chunk.size(), &n, &error);
    if (io == Io::kOk) {
      decoder.Feed(std::string_view(chunk.data(), n));
    } else if (io == Io::kClosed) {
      return Unavailable(address, "connection closed before an answer");
    } else if (io == Io::kWantRead || io == Io::kWantWrite) {
      if (!PollUntil(fd, io == Io::kWantWrite ? POLLOUT : POLLIN, deadline)) {
        return Unavailable(address, "no answer in time");
      }
    } else {
      return Unavailable(address, error);
    }
  }
}

}  // namespace keel::env
