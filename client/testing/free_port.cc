#include "client/testing/free_port.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/check.h"

namespace keel::client::testing {

namespace {

// Linux's ephemeral range: bind(port 0) and every outgoing connection take ports from it.
std::pair<int, int> EphemeralRange() {
  std::ifstream f("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 32768, high = 60999;
  if (!(f >> low >> high)) return {32768, 60999};
  return {low, high};
}

// Held for the life of the process: the kernel drops the flock when it dies, however it dies.
// Shared with tests/harness/cluster.py (same directory, one file per port).
bool ReservePort(int port) {
  static std::vector<int>* held = new std::vector<int>();
  std::error_code ignored;
  std::filesystem::create_directories("/tmp/keel-test-ports", ignored);
  const int fd = ::open(absl::StrCat("/tmp/keel-test-ports/", port).c_str(),
                        O_CREAT | O_WRONLY | O_APPEND | O_CLOEXEC, 0666);
  if (fd < 0) return true;  // no shared directory: the bind check alone
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return false;  // another test holds it
  }
  held->push_back(fd);
  return true;
}

bool CanBind(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  KEEL_CHECK(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

// A port picked OUTSIDE the ephemeral range and reserved against every other test on the
// machine, as tests/harness/cluster.py's free_ports does: a port bound with port 0 and
// released before etcd binds it could be taken meanwhile by any outgoing connection
// (ClientEtcd.FailsOverWhenAnEndpointIsDown once failed to start its cluster that way under
// a parallel `bazel test //...`).
int PickFreePort() {
  const auto [low, high] = EphemeralRange();
  const int pool_low = low - 10000 >= 4096 ? 10000 : high + 1;
  const int pool_high = low - 10000 >= 4096 ? low - 1 : 65535;
  static std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> pick(pool_low, pool_high);
  for (int attempt = 0; attempt < 1000; ++attempt) {  // bounded: busy ports are skipped
    const int port = pick(rng);
    if (ReservePort(port) && CanBind(port)) return port;
  }
  KEEL_CHECK(false && "no free port outside the ephemeral range");
  return 0;
}

}  // namespace keel::client::testing
