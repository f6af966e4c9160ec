// A simulated cluster: N real server cores (server/), each on its own SimEnv (simulated
// loop, disk and transport) with LevelDB running on the simulated disk, all on one World.
// This is the code keeld runs; only the Env differs.
//
// Process faults follow a real machine: Crash destroys the server (its volatile state is
// gone), then the disk drops whatever was not synced; Restart builds a fresh server from
// what the disk kept, exactly as keeld would after `kill -9` or power loss. A member that
// refuses to start stays down for the rest of the safety phase, and the refusal is
// recorded; a fail-stop (ServerConfig::on_fatal) is a crash followed by a supervisor's
// restart one election timeout later. The liveness phase restarts every refused member
// once more with the disk's faults off (RetryRefused): only a member whose medium was
// damaged (MediumDamaged) may stay down after that.
//
// LevelDB's background work runs as the scenario's LevelDbTiming says: drained right after
// each DB call, or deferred like keeld's background thread (a crash can then fall between
// a write and the memtable flush it queued; a crash fences LevelDB first, so the pending
// work fails instead of reaching the disk, as in a killed keeld).
#ifndef KEEL_SIM_CLUSTER_CLUSTER_H_
#define KEEL_SIM_CLUSTER_CLUSTER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "env/leveldb_env.h"
#include "server/server_impl.h"
#include "sim/cluster/scenario.h"
#include "sim/network.h"
#include "sim/sim_env.h"
#include "sim/world.h"

namespace keel::sim {

class SimCluster {
 public:
  // Builds and starts every member. `world` outlives the cluster. `bug` switches on a
  // bug-zoo entry (bug_zoo.h) in every member; empty for none.
  static absl::StatusOr<std::unique_ptr<SimCluster>> Create(World* world, const Scenario& scenario,
                                                            std::string_view bug = "");
  ~SimCluster();
  SimCluster(const SimCluster&) = delete;
  SimCluster& operator=(const SimCluster&) = delete;

  // Every member index ever used, removed ones included: indices are stable and never
  // reused (a member added later gets the next one).
  int size() const { return static_cast<int>(nodes_.size()); }
  uint64_t member_id(int i) const { return nodes_[i].member_id; }
  int IndexOf(uint64_t member_id) const;
  // The live server of member i, or nullptr while it is down.
  server::ServerImpl* server(int i) const { return nodes_[i].server.get(); }
  bool up(int i) const { return nodes_[i].server != nullptr; }
  bool paused(int i) const { return nodes_[i].env->node_loop().paused(); }
  SimEnv& env(int i) const { return *nodes_[i].env; }
  SimNetwork& network() { return *network_; }
  World& world() { return *world_; }
  // Why member i is down for good (it refused to start), empty otherwise.
  const std::string& refusal(int i) const { return nodes_[i].refusal; }
  // The last fail-stop of member i (ServerConfig::on_fatal), empty if none.
  const std::string& last_fatal(int i) const { return nodes_[i].last_fatal; }
  // How many times member i fail-stopped, and refused to start.
  int fatals(int i) const { return nodes_[i].fatals; }
  int refusals(int i) const { return nodes_[i].refusals; }
  // True when member i's disk took a fault that damages what is stored (a misdirected
  // write), as opposed to failing an operation (EIO, ENOSPC) or a read (bit flip): the
  // only faults that excuse a member for staying down (sim/README.md, "Disk faults and
  // the server's contract").
  bool MediumDamaged(int i) const;
  // "misdirected_write=1 eio_sync=2": the faults member i's disk fired, or "".
  std::string DiskFaultSummary(int i) const;

  // ---- Membership changes (sim/cluster/membership_ops.h drives them).
  // The peer URL member index i advertises; a new member gets a fresh one, so a
  // replacement never reuses a removed member's URL (nor, therefore, its ID).
  static std::string PeerUrlOf(int i);
  // A member the cluster just added (MemberAdd answered with `member_id` for `peer_url`):
  // a new process with an empty disk at the next index. It starts (TryStartJoiners) as
  // keeld does with --initial-cluster-state=existing, once a live member's applied
  // membership lists it: --initial-cluster and the fetched membership come from that
  // member, as an operator would paste `member add`'s output.
  int AddJoiner(uint64_t member_id, const std::string& peer_url);
  const std::string& peer_url(int i) const { return nodes_[i].peer_url; }
  // Starts joiners that never started (or whose first start was refused before they
  // ever ran, e.g. no member could answer the fetch). Returns how many started.
  int TryStartJoiners();
  // Member i was removed from the cluster: its process stops for good and is never
  // restarted (etcd exits once it applies its removal or its peers answer "removed").
  void Retire(int i, std::string why);
  bool retired(int i) const { return nodes_[i].retired; }
  const std::string& retired_reason(int i) const { return nodes_[i].retired_reason; }
  bool joiner(int i) const { return nodes_[i].joiner; }
  // Whether member i ever ran a server (a joiner may be waiting for its first start).
  bool ever_started(int i) const { return nodes_[i].ever_started; }
  int retired_count() const;

  void Crash(int i);
  // Starts member i again from its disk. Returns the start-up error if it refused.
  absl::Status Restart(int i);
  void Pause(int i);
  void Resume(int i);
  // Clears every fault that can be cleared: partitions, pauses; restarts crashed members
  // and retries refused ones (the caller turns the disks' faults off first).
  void HealAll();

  // kDeferred LevelDB timing: whether a member may lose power at the end of a deferred
  // window (Scenario::leveldb_power_cut_probability); the run turns it off for the
  // liveness phase, like every other fault.
  void set_leveldb_power_cuts(bool on) { leveldb_power_cuts_ = on; }

  // Member index believed leader by a quorum of live members at the highest term, or -1.
  int Leader() const;

  // Called after every applied entry of every member (for the state-machine checker).
  std::function<void(int node, const raftpb::Entry&)> on_apply;

  // The first restart that came back without state the member had persisted and acted on
  // (a vote, a term, acknowledged entries): "n2 restarted at term 7 with vote 0, but
  // persisted a vote for 3 in term 7". A member that lost such state must refuse to start
  // (sim/README.md, "Disk faults and the server's contract").
  const std::optional<std::string>& amnesia() const { return amnesia_; }

 private:
  struct Node {
    uint64_t member_id = 0;
    std::string peer_url;
    bool joiner = false;        // added by MemberAdd during the run
    bool ever_started = false;
    bool retired = false;       // removed from the cluster: never restarted
    std::string retired_reason;
    std::unique_ptr<SimEnv> env;
    std::unique_ptr<env::LevelDbEnv> leveldb;
    std::unique_ptr<server::ServerImpl> server;
    server::ServerConfig config;
    std::string refusal;
    std::optional<env::Rng> leveldb_rng;  // kDeferred: drain delays
    bool drain_scheduled = false;         // kDeferred: a drain timer is pending
    uint64_t snapshot_index_at_queue = 0;  // kDeferred: when the pending drain was scheduled
    // What the member persisted and acted on last (ServerConfig::on_persisted).
    struct Promise {
      bool valid = false;
      uint64_t term = 0, vote = 0, last_index = 0, last_term = 0;
    } promise;
    std::string last_fatal;
    int fatals = 0;
    int refusals = 0;
  };

  SimCluster(World* world, const Scenario& scenario);
  // The configuration every member shares (timing, snapshots, bug switches), for member i.
  absl::Status Configure(int i);
  // Joiner i: --initial-cluster and the fetched membership from a live member whose
  // applied membership lists it; false if no such member is up.
  bool PrepareJoin(int i);
  absl::Status StartNode(int i);
  void OnFatal(int i, const absl::Status& status);
  // Crashes member i on the next world event and restarts it one election timeout later
  // (a supervisor restarting keeld): after a fail-stop or a power cut.
  void CrashNowRestartLater(int i);
  // kDeferred: after a DB call, runs member i's queued LevelDB work after a random delay.
  void ScheduleDeferredDrain(int i);
  void Refused(int i, const absl::Status& status);
  void RecordPromise(int i);
  // After a successful restart: the recovered state against the last promise.
  void CheckPromise(int i);

  World* const world_;
  const Scenario scenario_;
  std::string bug_;
  bool leveldb_power_cuts_ = true;
  std::unique_ptr<SimNetwork> network_;
  std::vector<Node> nodes_;
  std::optional<std::string> amnesia_;
};

}  // namespace keel::sim

#endif  // KEEL_SIM_CLUSTER_CLUSTER_H_
