// A real keeld (or etcd 3.4: same flags) cluster on loopback whose peer links all pass
// through a PeerProxy, with the process operations faults need: kill -9, restart on the same
// data dir, SIGSTOP/SIGCONT. Members are children of the Supervisor (supervisor.h).
// Client links pass through a second proxy (advertised client URLs point at it), so a fault
// can cut clients off mid-request; the harness's own checks (Status, HashKV) go direct.
#ifndef KEEL_CHAOS_CHAOS_CLUSTER_H_
#define KEEL_CHAOS_CHAOS_CLUSTER_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "api/etcdserverpb/rpc.pb.h"
#include "chaos/peer_proxy.h"
#include "client/endpoint.h"

namespace keel::chaos {

struct ClusterOptions {
  std::string binary;    // path of keeld or etcd
  int nodes = 3;
  std::string work_dir;  // data dirs and logs: <work_dir>/mN.data, mN.log
  int heartbeat_ms = 50;
  int election_ms = 500;
  // keeld only: every member runs with KEEL_FAILPOINT_LOSE_UNSYNCED (env/unsynced_loss_fs.h),
  // journal <work_dir>/mN.journal, so every kill -9 acts as a power loss: what was not
  // fsynced is gone at the restart.
  bool lose_unsynced = false;
};

class ChaosCluster {
 public:
  // Spawns every member and waits (bounded) until all agree on a leader.
  static absl::StatusOr<std::unique_ptr<ChaosCluster>> Start(ClusterOptions options);
  ~ChaosCluster();

  int size() const { return static_cast<int>(members_.size()); }
  const ClusterOptions& options() const { return options_; }
  std::string name(int i) const { return members_[i].name; }
  // Through the client proxy: what workloads and the admin client use.
  std::string ClientAddress(int i) const;
  std::vector<std::string> ClientAddresses() const;
  // Closes every client connection now (clients reconnect).
  void CutClientLinks() { client_proxy_->Cut(); }
  const PeerProxy& client_proxy() const { return *client_proxy_; }
  pid_t pid(int i) const { return members_[i].pid; }
  bool Running(int i) const { return members_[i].pid > 0; }
  bool Paused(int i) const { return members_[i].paused; }
  PeerProxy& proxy() { return *proxy_; }

  std::string PeerUrl(int i) const;  // the advertised (proxied) peer URL
  void Kill(int i);              // SIGKILL + reap
  void WipeData(int i);          // removes a killed member's data dir (membership replace)
  absl::Status Restart(int i);   // same flags and data dir; does not wait for it
  void Pause(int i);             // SIGSTOP
  void Continue(int i);          // SIGCONT

  // Maintenance.Status / HashKV of member i, 1 s deadline, no failover.
  absl::StatusOr<etcdserverpb::StatusResponse> Status(int i) const;
  absl::StatusOr<etcdserverpb::HashKVResponse> HashKV(int i, int64_t revision) const;
  // The member every running, unpaused member names as leader (bounded wait).
  absl::StatusOr<int> WaitLeader(absl::Duration timeout) const;
  // Members that exited without keelchaos killing them, each with its log tail.
  std::vector<std::string> UnexpectedExits();
  std::string LogTail(int i, int lines) const;

 private:
  struct Member {
    std::string name;
    int client_port = 0;
    int peer_port = 0;        // the real listener
    int proxy_port = 0;       // advertised; the proxy forwards to peer_port
    int client_proxy_port = 0;  // advertised client URL; forwards to client_port
    pid_t pid = -1;
    bool paused = false;
  };
  explicit ChaosCluster(ClusterOptions options) : options_(std::move(options)) {}
  absl::Status Spawn(int i, bool existing);
  std::vector<std::string> Flags(int i, bool existing) const;
  std::unique_ptr<client::Endpoint> FreshEndpoint(int i) const;
  std::string JournalPath(int i) const;

  const ClusterOptions options_;
  std::string initial_cluster_;
  std::vector<Member> members_;
  std::unique_ptr<PeerProxy> proxy_;
  std::unique_ptr<PeerProxy> client_proxy_;  // no rules, only Cut()
  mutable std::atomic<int> endpoint_generation_{0};  // distinct channel per call
};

}  // namespace keel::chaos

#endif  // KEEL_CHAOS_CHAOS_CLUSTER_H_
