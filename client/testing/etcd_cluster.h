// Real etcd 3.4 processes for tests: an N-member cluster on loopback with free ports, data in
// a temporary directory, killed (SIGKILL) and reaped on destruction. `etcd` comes from PATH;
// a missing binary is a test failure, never a skip (tools/setup installs it).
#ifndef KEEL_CLIENT_TESTING_ETCD_CLUSTER_H_
#define KEEL_CLIENT_TESTING_ETCD_CLUSTER_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/testing/free_port.h"

namespace keel::client::testing {

class EtcdCluster {
 public:
  // Starts `size` members and waits (bounded by `ready_timeout`) until each answers on its
  // client port. `binary` may name keeld instead of etcd: same flags. When `binary` is
  // "etcd" and $KEEL_CLIENT_TEST_SERVER is set, that binary is used instead.
  static absl::StatusOr<std::unique_ptr<EtcdCluster>> Start(
      int size, std::string binary = "etcd", absl::Duration ready_timeout = absl::Seconds(30));
  ~EtcdCluster();

  int size() const { return static_cast<int>(members_.size()); }
  // "127.0.0.1:port" of member i.
  std::string ClientAddress(int i) const;
  std::vector<std::string> ClientAddresses() const;
  void Kill(int i);                 // SIGKILL and reap
  absl::Status Restart(int i);      // same data dir and flags; waits until it listens
  bool Running(int i) const { return members_[i].pid > 0; }
  // Index of the member every running member agrees is leader (bounded wait).
  absl::StatusOr<int> LeaderIndex(absl::Duration timeout = absl::Seconds(10)) const;
  void Pause(int i);     // SIGSTOP: alive but silent, as a hung or partitioned member
  void Continue(int i);  // SIGCONT

 private:
  struct Member {
    std::string name;
    int client_port = 0;
    int peer_port = 0;
    pid_t pid = -1;
  };
  EtcdCluster() = default;
  absl::Status Spawn(int i, bool existing);
  absl::Status WaitListening(int i, absl::Duration timeout);
  // Waits until member i answers Maintenance.Status naming a leader.
  absl::Status WaitServing(int i, absl::Duration timeout) const;
  uint64_t MemberIdOf(int i, absl::Duration timeout) const;

  std::string binary_;
  std::string root_dir_;
  std::string initial_cluster_;
  std::vector<Member> members_;
};

}  // namespace keel::client::testing

#endif  // KEEL_CLIENT_TESTING_ETCD_CLUSTER_H_
