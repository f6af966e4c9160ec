// A loopback TCP proxy in front of every member's peer listener, so keelchaos can partition
// real processes without root, iptables or network namespaces.
//
// Topology: member j advertises (in --initial-cluster and --initial-advertise-peer-urls) the
// proxy's port for j, and listens itself on a private port the proxy forwards to. A per-
// directed-link proxy is not possible: etcd derives member ids (and the cluster id) from the
// advertised peer URLs, so every member must see the same URL for j. The proxy instead finds
// out who dialed: the accepted socket's source port is looked up in /proc/net/tcp{,6} (its
// inode) and then among the members' /proc/PID/fd links. A connection whose dialer is not
// found counts as "unknown" and is refused while any rule involves its destination.
//
// Rules, per ordered pair: blocked[a][b] means bytes from member a do not reach member b.
//   - both directions of a pair blocked: existing connections between them are closed and
//     new ones are closed on accept (isolate, split);
//   - one direction blocked: that direction of every connection between them stalls (not
//     read, not written), the other keeps flowing; TCP back-pressure reaches the sender as it
//     would when packets are dropped (asymmetric);
//   - Cut(): every connection is closed once, new ones are accepted normally.
// One thread polls every socket; each connection holds two bounded buffers; the number of
// connections is bounded (beyond it, accepted sockets are closed at once).
#ifndef KEEL_CHAOS_PEER_PROXY_H_
#define KEEL_CHAOS_PEER_PROXY_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace keel::chaos {

using LinkMatrix = std::vector<std::vector<bool>>;  // [from][to]

class PeerProxy {
 public:
  struct Stats {
    int64_t accepted = 0;
    int64_t refused = 0;        // closed on accept by a rule or the connection bound
    int64_t cut = 0;            // existing connections closed by a rule or Cut()
    int64_t unattributed = 0;   // dialer not found among the members
    int64_t bytes = 0;
  };

  // listen_ports[j]: the advertised port of member j; target_ports[j]: its real listener.
  static absl::StatusOr<std::unique_ptr<PeerProxy>> Start(std::vector<int> listen_ports,
                                                          std::vector<int> target_ports);
  ~PeerProxy();

  // Who member j is now (for attribution); 0 when it is not running.
  void SetMemberPid(int member, pid_t pid);
  // Replaces the rules (see above); an all-false matrix heals.
  void SetBlocked(LinkMatrix blocked);
  void Heal();
  void Cut();
  Stats stats() const;

 private:
  struct Conn;
  PeerProxy(std::vector<int> listen_ports, std::vector<int> target_ports);
  void Run();
  int Attribute(int accepted_fd, int listen_port);
  void Wake();

  const std::vector<int> listen_ports_;
  const std::vector<int> target_ports_;
  std::vector<int> listen_fds_;
  int wake_pipe_[2] = {-1, -1};
  std::atomic<bool> stop_{false};
  std::thread thread_;

  mutable absl::Mutex mu_;
  LinkMatrix blocked_ ABSL_GUARDED_BY(mu_);
  std::vector<pid_t> pids_ ABSL_GUARDED_BY(mu_);
  bool cut_requested_ ABSL_GUARDED_BY(mu_) = false;
  Stats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace keel::chaos

#endif  // KEEL_CHAOS_PEER_PROXY_H_
