// SimEnv: the whole simulated world of one node (env::Env), composed of its NodeLoop, its
// SimDisk and its SimTransport onto the cluster's shared SimNetwork.
//
// The disk outlives crashes (it is the node's persistent medium); the loop and the
// transport outlive them too but forget everything volatile. A cluster layer crashes a
// node by destroying its server core and calling Crash(), and restarts it by calling
// Restart() and building a fresh core on the same SimEnv.
#ifndef KEEL_SIM_SIM_ENV_H_
#define KEEL_SIM_SIM_ENV_H_

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "env/env.h"
#include "sim/disk.h"
#include "sim/network.h"
#include "sim/node_loop.h"
#include "sim/process_fs.h"
#include "sim/world.h"

namespace keel::sim {

struct SimEnvOptions {
  ClockConfig clock;
  DiskOptions disk;
};

class SimEnv final : public env::Env {
 public:
  // Crashes per node per run; far beyond any useful scenario.
  static constexpr size_t kMaxIncarnations = 100'000;

  // `world` and `network` must outlive the SimEnv. kInvalidArgument for node id 0 or a
  // clock rate out of range.
  static absl::StatusOr<std::unique_ptr<SimEnv>> Create(World* world, SimNetwork* network,
                                                        uint64_t node_id,
                                                        SimEnvOptions options);
  ~SimEnv() override;

  env::Loop* loop() override { return loop_.get(); }
  // The current incarnation's view of the disk: calls through a view handed out before a
  // crash fail (see process_fs.h).
  env::FileSystem* fs() override { return fs_.back().get(); }
  env::Transport* transport() override { return transport_.get(); }
  // Derived from the run seed, the node id, the incarnation and `purpose`: stable for a
  // seed, distinct per node, and fresh after a restart (a rebooted process does not
  // replay its previous life's random choices).
  env::Rng NewRng(std::string_view purpose) override;
  // The node machine's clock (NodeLoop::MachineNanos), which runs on through crashes.
  int64_t WallClockMillis() override { return loop_->MachineNanos() / 1'000'000; }

  // Power loss / kill -9: the loop discards all pending work, the disk loses unsynced
  // state, the old fs() view goes dead, and the transport forgets the handler (which the
  // caller destroys, before or after). Requires the node to be up.
  void Crash();
  // Requires a crashed node. The new process calls transport()->SetHandler again.
  void Restart();

  uint64_t node_id() const { return node_id_; }
  NodeLoop& node_loop() { return *loop_; }
  SimDisk& disk() { return *disk_; }
  SimTransport& sim_transport() { return *transport_; }

 private:
  SimEnv(World* world, uint64_t node_id) : world_(world), node_id_(node_id) {}

  World* const world_;
  const uint64_t node_id_;
  // Declaration order is destruction order reversed: the loop goes last because the disk
  // and transport hold pointers to it.
  std::unique_ptr<NodeLoop> loop_;
  std::unique_ptr<SimDisk> disk_;
  // One view per incarnation, the current one last. Old views stay alive (and dead) for
  // objects of crashed incarnations that are torn down later; one small object per crash.
  std::vector<std::unique_ptr<ProcessFileSystem>> fs_;
  std::unique_ptr<SimTransport> transport_;
};

}  // namespace keel::sim

#endif  // KEEL_SIM_SIM_ENV_H_
