#include "chaos/peer_proxy.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/check.h"

namespace keel::chaos {

namespace {

constexpr size_t kBufferBytes = 64 * 1024;  // per direction per connection
constexpr size_t kMaxConns = 256;           // peer links of 5 members are a few dozen
constexpr int kPollMs = 50;                 // also how fast a new rule reaches idle links

bool SetNonBlocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL, 0);
  return flags >= 0 && ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

sockaddr_in Loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  return addr;
}

// A blocking connect bounded by SO_SNDTIMEO (Linux applies it to connect), then
// non-blocking. Loopback answers at once unless the listener's backlog is full.
int ConnectTo(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval tv{0, 200 * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr = Loopback(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      !SetNonBlocking(fd)) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// The inode of the socket whose local port is `local_port` and remote port `remote_port`
// (the dialer's end of a connection we accepted), from /proc/net/tcp and tcp6; 0 if none.
uint64_t FindSocketInode(int local_port, int remote_port) {
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // header
    for (int lines = 0; lines < 100000 && std::getline(in, line); ++lines) {
      std::istringstream fields(line);
      std::string sl, local, remote, token;
      fields >> sl >> local >> remote;
      const auto port_of = [](const std::string& addr) {
        const size_t colon = addr.rfind(':');
        if (colon == std::string::npos) return -1L;
        return std::strtol(addr.c_str() + colon + 1, nullptr, 16);
      };
      if (port_of(local) != local_port || port_of(remote) != remote_port) continue;
      for (int i = 0; i < 6; ++i) fields >> token;  // st, tx:rx, tr:when, retrnsmt, uid, timeout
      uint64_t inode = 0;
      if (fields >> token && absl::SimpleAtoi(token, &inode)) return inode;
    }
  }
  return 0;
}

bool ProcessHoldsSocket(pid_t pid, const std::string& link) {
  const std::string dir = absl::StrCat("/proc/", pid, "/fd");
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return false;
  bool found = false;
  char target[64];
  for (int n = 0; n < 65536 && !found; ++n) {  // bounded by a generous fd count
    dirent* e = ::readdir(d);
    if (e == nullptr) break;
    const std::string path = absl::StrCat(dir, "/", e->d_name);
    const ssize_t len = ::readlink(path.c_str(), target, sizeof(target) - 1);
    if (len <= 0) continue;
    target[len] = '\0';
    found = link == target;
  }
  ::closedir(d);
  return found;
}

struct Buffer {
  std::vector<char> data = std::vector<char>(kBufferBytes);
  size_t begin = 0, end = 0;
  size_t space() const { return data.size() - end; }
  size_t pending() const { return end - begin; }
  void Consumed(size_t n) {
    begin += n;
    if (begin == end) begin = end = 0;
  }
  void Compact() {
    if (begin == 0) return;
    std::memmove(data.data(), data.data() + begin, end - begin);
    end -= begin;
    begin = 0;
  }
};

// Moves bytes src -> buf -> dst as far as `readable`/`writable` allow. False when a side
// closed or failed.
bool Pump(int src, int dst, Buffer& buf, bool readable, bool writable, int64_t* bytes) {
  if (readable) {
    buf.Compact();
    if (buf.space() > 0) {
      const ssize_t n = ::read(src, buf.data.data() + buf.end, buf.space());
      if (n == 0) return false;
      if (n < 0 && errno != EAGAIN && errno != EINTR) return false;
      if (n > 0) buf.end += static_cast<size_t>(n);
    }
  }
  // Forward what was just read without waiting for the next poll round: `readable` is only
  // reported for an open direction, and the socket is non-blocking (EAGAIN keeps the rest).
  if ((writable || readable) && buf.pending() > 0) {
    const ssize_t n = ::send(dst, buf.data.data() + buf.begin, buf.pending(), MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) return false;
    if (n > 0) {
      buf.Consumed(static_cast<size_t>(n));
      *bytes += n;
    }
  }
  return true;
}

}  // namespace

struct PeerProxy::Conn {
  int dialer_fd = -1;  // accepted from the dialing member
  int dest_fd = -1;    // to the destination member's real listener
  int src = -1;        // dialing member, -1 unknown
  int dst = 0;
  Buffer up;    // dialer -> destination
  Buffer down;  // destination -> dialer
  void Close() {
    ::close(dialer_fd);
    ::close(dest_fd);
  }
};

absl::StatusOr<std::unique_ptr<PeerProxy>> PeerProxy::Start(std::vector<int> listen_ports,
                                                            std::vector<int> target_ports) {
  KEEL_CHECK(listen_ports.size() == target_ports.size());
  std::unique_ptr<PeerProxy> proxy(new PeerProxy(std::move(listen_ports), std::move(target_ports)));
  if (::pipe2(proxy->wake_pipe_, O_NONBLOCK | O_CLOEXEC) != 0) {
    return absl::InternalError("pipe2 failed");
  }
  for (int port : proxy->listen_ports_) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return absl::InternalError("socket failed");
    proxy->listen_fds_.push_back(fd);
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr = Loopback(port);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(fd, 128) != 0) {
      return absl::UnavailableError(
          absl::StrCat("proxy cannot listen on 127.0.0.1:", port, ": ", std::strerror(errno)));
    }
  }
  proxy->thread_ = std::thread([p = proxy.get()] { p->Run(); });
  return proxy;
}

PeerProxy::PeerProxy(std::vector<int> listen_ports, std::vector<int> target_ports)
    : listen_ports_(std::move(listen_ports)), target_ports_(std::move(target_ports)) {
  const size_t n = listen_ports_.size();
  blocked_.assign(n, std::vector<bool>(n, false));
  pids_.assign(n, 0);
}

PeerProxy::~PeerProxy() {
  stop_ = true;
  Wake();
  if (thread_.joinable()) thread_.join();
  for (int fd : listen_fds_) ::close(fd);
  for (int fd : wake_pipe_) {
    if (fd >= 0) ::close(fd);
  }
}

void PeerProxy::Wake() {
  const char c = 1;
  [[maybe_unused]] ssize_t ignored = ::write(wake_pipe_[1], &c, 1);
}

void PeerProxy::SetMemberPid(int member, pid_t pid) {
  absl::MutexLock lock(&mu_);
  pids_.at(member) = pid;
}

void PeerProxy::SetBlocked(LinkMatrix blocked) {
  {
    absl::MutexLock lock(&mu_);
    KEEL_CHECK(blocked.size() == blocked_.size());
    blocked_ = std::move(blocked);
  }
  Wake();
}

void PeerProxy::Heal() {
  const size_t n = listen_ports_.size();
  SetBlocked(LinkMatrix(n, std::vector<bool>(n, false)));
}

void PeerProxy::Cut() {
  {
    absl::MutexLock lock(&mu_);
    cut_requested_ = true;
  }
  Wake();
}

PeerProxy::Stats PeerProxy::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

int PeerProxy::Attribute(int accepted_fd, int listen_port) {
  sockaddr_in peer{};
  socklen_t len = sizeof(peer);
  if (::getpeername(accepted_fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0) return -1;
  const uint64_t inode = FindSocketInode(ntohs(peer.sin_port), listen_port);
  if (inode == 0) return -1;
  std::vector<pid_t> pids;
  {
    absl::MutexLock lock(&mu_);
    pids = pids_;
  }
  const std::string link = absl::StrCat("socket:[", inode, "]");
  for (size_t j = 0; j < pids.size(); ++j) {
    if (pids[j] > 0 && ProcessHoldsSocket(pids[j], link)) return static_cast<int>(j);
  }
  return -1;
}

void PeerProxy::Run() {
  std::vector<std::unique_ptr<Conn>> conns;
  std::vector<pollfd> fds;
  while (!stop_) {
    LinkMatrix blocked;
    bool cut = false;
    {
      absl::MutexLock lock(&mu_);
      blocked = blocked_;
      cut = cut_requested_;
      cut_requested_ = false;
    }
    const size_t n = blocked.size();
    std::vector<bool> touched(n, false);  // a rule involves this member
    for (size_t a = 0; a < n; ++a) {
      for (size_t b = 0; b < n; ++b) {
        if (blocked[a][b]) touched[a] = touched[b] = true;
      }
    }
    // Direction open? up = dialer -> destination.
    const auto up_open = [&](const Conn& c) {
      return c.src >= 0 ? !blocked[c.src][c.dst] : !touched[c.dst];
    };
    const auto down_open = [&](const Conn& c) {
      return c.src >= 0 ? !blocked[c.dst][c.src] : !touched[c.dst];
    };
    int64_t closed_by_rule = 0;
    for (auto& c : conns) {
      if (c == nullptr) continue;
      if (cut || (!up_open(*c) && !down_open(*c))) {
        c->Close();
        c.reset();
        ++closed_by_rule;
      }
    }
    conns.erase(std::remove(conns.begin(), conns.end(), nullptr), conns.end());

    fds.clear();
    fds.push_back({wake_pipe_[0], POLLIN, 0});
    for (int fd : listen_fds_) fds.push_back({fd, POLLIN, 0});
    for (auto& c : conns) {
      short dialer_events = 0, dest_events = 0;
      if (up_open(*c)) {
        if (c->up.space() > 0 || c->up.begin > 0) dialer_events |= POLLIN;
        if (c->up.pending() > 0) dest_events |= POLLOUT;
      }
      if (down_open(*c)) {
        if (c->down.space() > 0 || c->down.begin > 0) dest_events |= POLLIN;
        if (c->down.pending() > 0) dialer_events |= POLLOUT;
      }
      fds.push_back({c->dialer_fd, dialer_events, 0});
      fds.push_back({c->dest_fd, dest_events, 0});
    }
    const int ready = ::poll(fds.data(), fds.size(), kPollMs);
    int64_t accepted = 0, refused = 0, unattributed = 0, bytes = 0;
    if (ready > 0) {
      if (fds[0].revents & POLLIN) {
        char drain[64];
        while (::read(wake_pipe_[0], drain, sizeof(drain)) > 0) {
        }
      }
      for (size_t l = 0; l < listen_fds_.size(); ++l) {
        if (!(fds[1 + l].revents & POLLIN)) continue;
        for (int burst = 0; burst < 16; ++burst) {  // bounded per poll round
          const int fd = ::accept4(listen_fds_[l], nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0) break;
          auto c = std::make_unique<Conn>();
          c->dialer_fd = fd;
          c->dst = static_cast<int>(l);
          c->src = Attribute(fd, listen_ports_[l]);
          if (c->src < 0) ++unattributed;
          if (conns.size() >= kMaxConns || (!up_open(*c) && !down_open(*c)) ||
              (c->dest_fd = ConnectTo(target_ports_[l])) < 0) {
            ::close(fd);
            ++refused;
            continue;
          }
          ++accepted;
          conns.push_back(std::move(c));
        }
      }
      size_t i = 1 + listen_fds_.size();
      for (auto& c : conns) {
        if (i + 1 >= fds.size() || fds[i].fd != c->dialer_fd) break;  // accepted this round
        const short dialer = fds[i].revents, dest = fds[i + 1].revents;
        i += 2;
        bool alive = !((dialer | dest) & POLLNVAL);
        if (alive && (dialer | dest) & (POLLIN | POLLOUT)) {
          alive = Pump(c->dialer_fd, c->dest_fd, c->up, dialer & POLLIN, dest & POLLOUT, &bytes) &&
                  Pump(c->dest_fd, c->dialer_fd, c->down, dest & POLLIN, dialer & POLLOUT, &bytes);
        } else if ((dialer | dest) & (POLLHUP | POLLERR)) {
          alive = false;
        }
        if (!alive) {
          c->Close();
          c.reset();
        }
      }
      conns.erase(std::remove(conns.begin(), conns.end(), nullptr), conns.end());
    }
    absl::MutexLock lock(&mu_);
    stats_.accepted += accepted;
    stats_.refused += refused;
    stats_.cut += closed_by_rule;
    stats_.unattributed += unattributed;
    stats_.bytes += bytes;
  }
  for (auto& c : conns) c->Close();
}

}  // namespace keel::chaos
