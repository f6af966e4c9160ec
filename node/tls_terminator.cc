#include "node/tls_terminator.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "node/client_identity.h"
#include "node/client_listener.h"

namespace keel::node {
namespace {

using Io = env::TlsStream::Io;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Plaintext HTTP on a TLS port (Go's tlsRecordHeaderLooksLikeHTTP): etcd 3.4's client
// port closes it without a word (curl: "Empty reply from server"); so do we, rather than
// let OpenSSL answer with an alert record the client would print as garbage.
bool LooksLikeHttp(std::string_view first5) {
  for (std::string_view method : {"GET /", "HEAD ", "POST ", "PUT /", "OPTIO"}) {
    if (first5 == method) return true;
  }
  return false;
}

// Waits for `events` on `fd` (or the stop signal) until `deadline_ms`; false on timeout,
// stop, or error.
bool WaitFor(int fd, short events, int wake_fd, int64_t deadline_ms) {
  // Bounded: returns at the deadline at the latest (EINTR aside).
  while (true) {
    const int64_t left = deadline_ms - NowMs();
    if (left <= 0) return false;
    pollfd fds[2] = {{fd, events, 0}, {wake_fd, POLLIN, 0}};
    const int ready = ::poll(fds, 2, static_cast<int>(left));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0 || fds[1].revents != 0) return false;
    return true;
  }
}

void Log(const std::string& line) {
  const std::string out = absl::StrCat("keeld: client TLS: ", line, "\n");
  std::fwrite(out.data(), 1, out.size(), stderr);
}

std::string PeerAddress(int fd) {
  sockaddr_storage addr = {};
  socklen_t len = sizeof(addr);
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return "?";
  char host[64] = "?";
  if (addr.ss_family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
    return absl::StrCat(host, ":", ntohs(in->sin_port));
  }
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);
  ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
  return absl::StrCat("[", host, "]:", ntohs(in6->sin6_port));
}

}  // namespace

// A fixed-capacity byte buffer: bytes live in [head, tail); room is made at the end by
// moving the live bytes to the front (never allocates after construction).
class TlsTerminator::Buffer {
 public:
  explicit Buffer(size_t capacity) : bytes_(new char[capacity]), capacity_(capacity) {}
  size_t size() const { return tail_ - head_; }
  bool full() const { return size() == capacity_; }
  const char* data() const { return bytes_.get() + head_; }
  void Consume(size_t n) {
    KEEL_CHECK(n <= size());
    head_ += n;
    if (head_ == tail_) head_ = tail_ = 0;
  }
  // Contiguous room at the end (compacting first if needed); write there, then Commit.
  size_t Room() {
    if (tail_ == capacity_ && head_ > 0) {
      std::memmove(bytes_.get(), bytes_.get() + head_, size());
      tail_ -= head_;
      head_ = 0;
    }
    return capacity_ - tail_;
  }
  char* end() { return bytes_.get() + tail_; }
  void Commit(size_t n) {
    KEEL_CHECK(n <= capacity_ - tail_);
    tail_ += n;
  }

 private:
  std::unique_ptr<char[]> bytes_;
  const size_t capacity_;
  size_t head_ = 0;
  size_t tail_ = 0;
};


TlsTerminator::TlsTerminator(std::shared_ptr<const env::TlsContext> context, Options options,
                             Handoff grpc, Handoff http)
    : context_(std::move(context)),
      options_(options),
      grpc_(std::move(grpc)),
      http_(std::move(http)),
      wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  KEEL_CHECK(context_ != nullptr && wake_fd_ >= 0);
  KEEL_CHECK(options_.max_connections > 0 && options_.buffer_bytes > 0);
}

TlsTerminator::~TlsTerminator() {
  Stop();
  ::close(wake_fd_);
}

size_t TlsTerminator::active_connections() const {
  absl::MutexLock lock(&mu_);
  return threads_.size() - finished_.size();
}

void TlsTerminator::Reap() {
  for (uint64_t id : finished_) {
    auto it = threads_.find(id);
    KEEL_CHECK(it != threads_.end());
    it->second.join();  // the relay has returned: join does not wait
    threads_.erase(it);
  }
  finished_.clear();
}

void TlsTerminator::Serve(int fd) {
  absl::MutexLock lock(&mu_);
  Reap();
  if (stopping_ || threads_.size() >= options_.max_connections) {
    ::close(fd);  // over the bound: the client sees a closed connection and retries
    return;
  }
  const uint64_t id = next_id_++;
  threads_.emplace(id, std::thread([this, id, fd] { Relay(id, fd); }));
}

void TlsTerminator::Stop() {
  std::map<uint64_t, std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    threads.swap(threads_);
    finished_.clear();
  }
  const uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof(one));
  for (auto& [id, thread] : threads) thread.join();
}

std::unique_ptr<env::TlsStream> TlsTerminator::Handshake(int fd, int64_t deadline_ms) {
  const std::string peer = PeerAddress(fd);  // now: a refused client may be gone when logged
  // Plaintext HTTP on the TLS port: closed, as etcd does.
  char first[5];
  if (!WaitFor(fd, POLLIN, wake_fd_, deadline_ms)) return nullptr;
  const ssize_t peeked = ::recv(fd, first, sizeof(first), MSG_PEEK);
  if (peeked == static_cast<ssize_t>(sizeof(first)) &&
      LooksLikeHttp(std::string_view(first, sizeof(first)))) {
    // Consume the request first: closing with unread bytes would send a reset, not EOF.
    char sink[4096];
    for (int i = 0; i < 16 && ::recv(fd, sink, sizeof(sink), 0) > 0; ++i) {
    }
    ::shutdown(fd, SHUT_RDWR);
    return nullptr;
  }
  absl::StatusOr<std::unique_ptr<env::TlsStream>> created = env::TlsStream::Create(*context_, fd);
  if (!created.ok()) {
    Log(std::string(created.status().message()));
    return nullptr;
  }
  std::unique_ptr<env::TlsStream> tls = *std::move(created);
  // Bounded by the deadline.
  while (true) {
    const Io io = tls->Handshake();
    if (io == Io::kOk) return tls;
    if (io != Io::kWantRead && io != Io::kWantWrite) {
      // etcd's wording for a refused client.
      Log(absl::StrCat("rejected connection from \"", peer, "\" (error \"",
                       io == Io::kClosed ? "EOF" : tls->error(), "\")"));
      return nullptr;
    }
    if (!WaitFor(fd, io == Io::kWantWrite ? POLLOUT : POLLIN, wake_fd_, deadline_ms)) {
      return nullptr;
    }
  }
}

ClientListener::Protocol TlsTerminator::ReadFirstBytes(env::TlsStream* tls, int fd,
                                                       int64_t deadline_ms, Buffer* to_plain) {
  ClientListener::Protocol protocol = ClientListener::Protocol::kUndecided;
  // Bounded by the deadline and by the preface's length (far below the buffer's).
  while (protocol == ClientListener::Protocol::kUndecided) {
    size_t n = 0;
    const Io io = tls->Read(to_plain->end(), to_plain->Room(), &n);
    to_plain->Commit(n);
    if (io == Io::kOk) {
      protocol = ClientListener::Classify(std::string_view(to_plain->data(), to_plain->size()));
      continue;
    }
    if (io != Io::kWantRead && io != Io::kWantWrite) break;
    if (!WaitFor(fd, io == Io::kWantWrite ? POLLOUT : POLLIN, wake_fd_, deadline_ms)) break;
  }
  return protocol;
}

void TlsTerminator::Pump(env::TlsStream* tls, int fd, int outer, Buffer* to_plain) {
  Buffer to_tls(options_.buffer_bytes);  // handed-over socket -> TLS
  bool done = false;
  // One round per poll; ends when either side closes or fails, or at Stop.
  while (!done) {
    // Move bytes until nothing moves (bounded: every pass moves bytes or stops, and the
    // buffers are fixed).
    bool moved = true;
    bool tls_wants_write = false;  // the last TLS call waits for POLLOUT
    while (moved && !done) {
      moved = false;
      if (!to_plain->full()) {
        size_t n = 0;
        const Io io = tls->Read(to_plain->end(), to_plain->Room(), &n);
        to_plain->Commit(n);
        moved |= io == Io::kOk;
        tls_wants_write |= io == Io::kWantWrite;
        done |= io == Io::kClosed || io == Io::kError;
      }
      if (to_plain->size() > 0) {
        const ssize_t n = ::send(outer, to_plain->data(), to_plain->size(), MSG_NOSIGNAL);
        if (n > 0) {
          to_plain->Consume(static_cast<size_t>(n));
          moved = true;
        }
        done |= n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
      }
      if (!to_tls.full()) {
        const ssize_t n = ::recv(outer, to_tls.end(), to_tls.Room(), 0);
        to_tls.Commit(n > 0 ? static_cast<size_t>(n) : 0);
        moved |= n > 0;
        // gRPC or HTTP closed its end: flush what it wrote last (below), then close.
        done |= n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
      }
      if (to_tls.size() > 0) {
        size_t n = 0;
        const Io io = tls->Write(to_tls.data(), to_tls.size(), &n);
        if (io == Io::kOk) {
          to_tls.Consume(n);
          moved = true;
        }
        tls_wants_write |= io == Io::kWantWrite;
        done |= io == Io::kClosed || io == Io::kError;
      }
    }
    if (done) break;
    pollfd fds[3] = {
        {fd, static_cast<short>((!to_plain->full() ? POLLIN : 0) |
                                (tls_wants_write ? POLLOUT : 0)),
         0},
        {outer, static_cast<short>((!to_tls.full() ? POLLIN : 0) |
                                   (to_plain->size() > 0 ? POLLOUT : 0)),
         0},
        {wake_fd_, POLLIN, 0},
    };
    const int ready = ::poll(fds, 3, -1);
    if (ready < 0 && errno != EINTR) break;
    if (fds[2].revents != 0) break;  // Stop()
  }
  // Best effort: what the server wrote last (an HTTP response before close) goes out.
  for (int i = 0; i < 16 && to_tls.size() > 0; ++i) {
    size_t n = 0;
    if (tls->Write(to_tls.data(), to_tls.size(), &n) != Io::kOk) break;
    to_tls.Consume(n);
  }
}

void TlsTerminator::Relay(uint64_t id, int fd) {
  const int64_t deadline_ms = NowMs() + options_.handshake_timeout_ms;
  std::unique_ptr<env::TlsStream> tls = Handshake(fd, deadline_ms);
  Buffer to_plain(options_.buffer_bytes);  // TLS -> handed-over socket
  const ClientListener::Protocol protocol =
      tls != nullptr ? ReadFirstBytes(tls.get(), fd, deadline_ms, &to_plain)
                     : ClientListener::Protocol::kUndecided;
  int pair[2] = {-1, -1};
  if (protocol != ClientListener::Protocol::kUndecided &&
      ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) != 0) {
    Log(absl::StrCat("socketpair: ", std::strerror(errno)));
  }
  if (pair[0] >= 0) {
    const int inner = pair[0];  // gRPC's or HTTP's from now on
    const int outer = pair[1];
    PublishCommonName(inner, id, tls->PeerCommonName());
    if (protocol == ClientListener::Protocol::kHttp2) {
      grpc_(inner);
    } else {
      http_(inner);
    }
    Pump(tls.get(), fd, outer, &to_plain);
    ForgetCommonName(inner, id);
    ::close(outer);
  }
  tls.reset();  // before its socket closes
  ::close(fd);
  absl::MutexLock lock(&mu_);
  if (!stopping_) finished_.push_back(id);
}

}  // namespace keel::node
