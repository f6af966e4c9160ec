#include "node/client_listener.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/check.h"

namespace keel::node {
namespace {

constexpr std::string_view kHttp2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

absl::StatusOr<int> Listen(const Url& url, int* port) {
  absl::Status bindable = CheckBindable(url);  // Go's wording for a busy port
  if (!bindable.ok()) return bindable;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* addresses = nullptr;
  const std::string port_text = std::to_string(url.port);
  const int resolved = ::getaddrinfo(url.host.c_str(), port_text.c_str(), &hints, &addresses);
  if (resolved != 0 || addresses == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen tcp ", url.HostPort(), ": ", ::gai_strerror(resolved)));
  }
  const addrinfo* a = addresses;
  const int fd = ::socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int err = fd < 0 ? errno : 0;
  if (fd >= 0) {
    const int one = 1;
    // SO_REUSEADDR alone, as every listener in keeld: a restart after kill -9 rebinds
    // despite TIME_WAIT, and a second keeld cannot share the port (no SO_REUSEPORT).
    (void)::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, SOMAXCONN) != 0) err = errno;
  }
  ::freeaddrinfo(addresses);
  if (err != 0) {
    if (fd >= 0) ::close(fd);
    return absl::UnavailableError(
        absl::StrCat("listen tcp ", url.HostPort(), ": bind: ", std::strerror(err)));
  }
  sockaddr_storage bound = {};
  socklen_t len = sizeof(bound);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  *port = ntohs(bound.ss_family == AF_INET6
                    ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                    : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return fd;
}

}  // namespace

ClientListener::Protocol ClientListener::Classify(std::string_view first_bytes) {
  const size_t n = std::min(first_bytes.size(), kHttp2Preface.size());
  if (first_bytes.substr(0, n) != kHttp2Preface.substr(0, n)) return Protocol::kHttp1;
  return n == kHttp2Preface.size() ? Protocol::kHttp2 : Protocol::kUndecided;
}

absl::StatusOr<std::unique_ptr<ClientListener>> ClientListener::Create(
    const std::vector<Url>& urls, Options options) {
  if (options.max_pending == 0 || options.peek_timeout_ms <= 0) {
    return absl::InvalidArgumentError("ClientListener: bad bounds in options");
  }
  std::vector<int> fds;
  std::vector<bool> tls_fds;
  std::vector<int> ports;
  auto close_all = [&fds] {
    for (int fd : fds) ::close(fd);
  };
  for (const Url& url : urls) {
    int port = 0;
    absl::StatusOr<int> fd = Listen(url, &port);
    if (!fd.ok()) {
      close_all();
      return fd.status();
    }
    fds.push_back(*fd);
    tls_fds.push_back(url.scheme == "https");
    ports.push_back(port);
  }
  const int wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd < 0) {
    close_all();
    return absl::InternalError(absl::StrCat("eventfd: ", std::strerror(errno)));
  }
  return std::unique_ptr<ClientListener>(
      new ClientListener(options, std::move(fds), std::move(tls_fds), std::move(ports), wake_fd));
}

ClientListener::ClientListener(Options options, std::vector<int> listen_fds,
                               std::vector<bool> tls_fds, std::vector<int> ports, int wake_fd)
    : options_(options), listen_fds_(std::move(listen_fds)), tls_fds_(std::move(tls_fds)),
      ports_(std::move(ports)), wake_fd_(wake_fd) {}

ClientListener::~ClientListener() {
  Stop();
  ::close(wake_fd_);
}

void ClientListener::Start(Handoff grpc, Handoff http, Handoff tls) {
  KEEL_CHECK(!thread_.joinable() && !stopping_.load());
  grpc_ = std::move(grpc);
  http_ = std::move(http);
  tls_ = std::move(tls);
  thread_ = std::thread([this] { Run(); });
}

void ClientListener::Stop() {
  if (stopping_.exchange(true)) return;
  const uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
  for (int fd : listen_fds_) ::close(fd);
  listen_fds_.clear();
}

void ClientListener::Run() {
  struct Pending {
    int fd;
    int64_t deadline_ms;
    bool partial = false;  // has shown a strict prefix of the HTTP/2 preface
  };
  // A partial preface keeps the socket readable: re-peek on a timer instead of spinning.
  constexpr int64_t kPartialRecheckMs = 5;
  std::vector<Pending> pending;
  std::vector<pollfd> fds;
  char peek[kHttp2Preface.size()];
  // One round per wake-up, timeout or socket event; ends on Stop.
  while (!stopping_.load()) {
    fds.clear();
    fds.push_back({wake_fd_, POLLIN, 0});
    const bool room = pending.size() < options_.max_pending;
    for (int fd : listen_fds_) fds.push_back({fd, static_cast<short>(room ? POLLIN : 0), 0});
    const size_t first_pending = fds.size();
    int64_t timeout_ms = 1000;
    const int64_t now = NowMs();
    for (const Pending& p : pending) {
      fds.push_back({p.fd, static_cast<short>(p.partial ? 0 : POLLIN), 0});
      timeout_ms = std::min(timeout_ms, std::max<int64_t>(0, p.deadline_ms - now));
      if (p.partial) timeout_ms = std::min(timeout_ms, kPartialRecheckMs);
    }
    const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(timeout_ms));
    if (ready < 0 && errno != EINTR) break;
    // Decide or expire the connections being sniffed (before accepting more, so the
    // indexes in `fds` still match `pending`).
    const int64_t after = NowMs();
    std::vector<Pending> still;
    for (size_t i = 0; i < pending.size(); ++i) {
      Pending& p = pending[i];
      Protocol protocol = Protocol::kUndecided;
      bool closed = false;
      if (p.partial || (ready > 0 && fds[first_pending + i].revents != 0)) {
        const ssize_t n = ::recv(p.fd, peek, sizeof(peek), MSG_PEEK);
        if (n > 0) {
          protocol = Classify(std::string_view(peek, static_cast<size_t>(n)));
          p.partial = protocol == Protocol::kUndecided;
        } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
          closed = true;
        }
      }
      if (protocol == Protocol::kHttp2) {
        grpc_(p.fd);
      } else if (protocol == Protocol::kHttp1) {
        http_(p.fd);
      } else if (closed || after >= p.deadline_ms) {
        ::close(p.fd);
      } else {
        // Nothing yet, or still a prefix of the preface (MSG_PEEK left the bytes): wait
        // for more, until the deadline.
        still.push_back(p);
      }
    }
    pending.swap(still);
    if (ready > 0 && fds[0].revents != 0) {
      uint64_t count = 0;
      (void)!::read(wake_fd_, &count, sizeof(count));
    }
    for (size_t l = 0; l < listen_fds_.size(); ++l) {
      if (ready <= 0 || (fds[1 + l].revents & POLLIN) == 0) continue;
      // Bounded by max_pending.
      while (pending.size() < options_.max_pending) {
        const int fd = ::accept4(listen_fds_[l], nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) break;  // EAGAIN, or a transient error such as ECONNABORTED
        const int one = 1;
        (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (tls_fds_[l]) {
          // TLS: sniffed after decryption, by the terminator (which bounds its own work).
          if (tls_) {
            tls_(fd);
          } else {
            ::close(fd);
          }
          continue;
        }
        pending.push_back({fd, after + options_.peek_timeout_ms});
      }
    }
  }
  for (const Pending& p : pending) ::close(p.fd);
}

}  // namespace keel::node
