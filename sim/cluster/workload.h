// Simulated clients: each issues one etcd request at a time to a member of its choice
// (through server::Server, the same interface keeld's gRPC layer calls), with a client-side
// timeout, and records what it invoked and what came back. A request whose answer never
// came (member crashed, timeout) or came as kUnavailable is recorded with an UNKNOWN
// outcome: it may or may not have taken effect, and the checkers must allow both.
//
// Watchers keep one watch stream over the whole workload key space; when their member
// dies they resume on another from the last revision they saw + 1, as clientv3 does.
#ifndef KEEL_SIM_CLUSTER_WORKLOAD_H_
#define KEEL_SIM_CLUSTER_WORKLOAD_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "api/etcdserverpb/rpc.pb.h"
#include "env/rng.h"
#include "sim/cluster/cluster.h"
#include "sim/cluster/scenario.h"
#include "sim/world.h"

namespace keel::sim {

enum class OpKind { kPut, kGet, kSerializableGet, kDelete, kCas, kLeasePut };
enum class Outcome { kPending, kOk, kFail, kUnknown };

const char* OpKindName(OpKind kind);

// One client operation and its result. Times are global simulated nanoseconds.
struct ClientOp {
  int client = 0;
  int member = 0;  // index of the member it was sent to
  OpKind kind = OpKind::kPut;
  std::string key;
  std::string value;           // put / cas: the new value
  std::string expected;        // cas: the value compared for equality ("" + expect_absent)
  bool expect_absent = false;  // cas: compare version == 0 instead
  int64_t lease_id = 0;        // lease put
  int64_t invoke_ns = 0;
  int64_t complete_ns = 0;
  Outcome outcome = Outcome::kPending;
  std::string error;
  // Results (kOk only).
  int64_t revision = 0;        // response header revision
  bool found = false;          // get: key present
  std::string read_value;      // get
  int64_t read_mod_revision = 0;
  bool cas_succeeded = false;  // cas: the compare held and the put happened
  int64_t deleted = 0;         // delete: keys deleted
};

// One watch stream (one Watch RPC) as the client saw it: where it asked to start, over the
// key range ["k", "l") with prev_kv, and every response in arrival order.
struct WatchStreamLog {
  int member = 0;
  int64_t start_revision = 1;
  std::vector<etcdserverpb::WatchResponse> responses;
};

// What one watcher saw: its streams in order; streams[i + 1] resumed streams[i] from the
// last revision seen + 1 after streams[i]'s member died.
struct WatchLog {
  int watcher = 0;
  std::vector<WatchStreamLog> streams;
};

class Workload {
 public:
  Workload(World* world, SimCluster* cluster, const WorkloadMix& mix, env::Rng rng);
  ~Workload();
  Workload(const Workload&) = delete;
  Workload& operator=(const Workload&) = delete;

  // Clients start issuing operations now and stop issuing new ones at `stop_ns`.
  void Start(int64_t stop_ns);
  // Every client has finished its last operation.
  bool Done() const;
  // Re-opens watch streams whose member died (called after faults heal, and periodically).
  void ReviveWatchers();

  const std::vector<ClientOp>& history() const { return ops_; }
  const std::vector<WatchLog>& watch_logs() const { return watch_logs_; }
  // Keys written under leases (not part of the linearizability model: a lease may expire
  // them at any time) and the lease of each.
  std::string KeyName(int k) const;
  static bool IsLeaseKey(const std::string& key);

 private:
  struct Client;
  class Watcher;

  void Issue(int client);
  void Finish(size_t op_index, Outcome outcome, std::string error);
  int PickMember();
  int64_t ClientTimeoutNs() const;

  World* const world_;
  SimCluster* const cluster_;
  const WorkloadMix mix_;
  env::Rng rng_;
  int64_t stop_ns_ = 0;
  std::vector<Client> clients_;
  std::vector<std::unique_ptr<Watcher>> watchers_;
  std::vector<ClientOp> ops_;
  std::vector<WatchLog> watch_logs_;
  uint64_t value_counter_ = 0;
};

}  // namespace keel::sim

#endif  // KEEL_SIM_CLUSTER_WORKLOAD_H_
