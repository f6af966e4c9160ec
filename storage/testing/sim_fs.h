// Test fixture: one simulated node (World + NodeLoop + SimDisk from sim/) whose disk the
// storage tests write to, crash and corrupt. Deterministic for a given seed.
#ifndef KEEL_STORAGE_TESTING_SIM_FS_H_
#define KEEL_STORAGE_TESTING_SIM_FS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "env/env.h"
#include "raft/raftpb/raft.pb.h"
#include "sim/disk.h"
#include "sim/node_loop.h"
#include "sim/world.h"

namespace keel::storage::testing {

// Faults off; torn final writes on crash enabled (they only matter at Crash()); no
// implicit directory syncs (see sim/disk.h).
sim::DiskOptions QuietDisk();

class SimFs {
 public:
  explicit SimFs(uint64_t seed, sim::DiskOptions options = QuietDisk());

  env::FileSystem* fs() { return disk_.get(); }
  sim::SimDisk& disk() { return *disk_; }
  sim::World& world() { return world_; }
  sim::NodeLoop& loop() { return *loop_; }

  // Runs every pending event (async disk operations and their callbacks).
  void RunUntilIdle();
  // Power loss and process death: unsynced data is lost (maybe torn), pending callbacks
  // are dropped, then the process restarts.
  void Crash();

 private:
  sim::World world_;
  std::unique_ptr<sim::NodeLoop> loop_;
  std::unique_ptr<sim::SimDisk> disk_;
};

// Records the outcomes of asynchronous operations in completion order.
class Completions {
 public:
  // A callback that appends {tag, status} when it runs.
  env::StatusCallback Track(int tag);
  struct Done {
    int tag;
    absl::Status status;
  };
  const std::vector<Done>& done() const { return *done_; }

 private:
  std::shared_ptr<std::vector<Done>> done_ = std::make_shared<std::vector<Done>>();
};

raftpb::Entry MakeEntry(uint64_t index, uint64_t term, std::string_view data);
raftpb::HardState MakeHardState(uint64_t term, uint64_t vote, uint64_t commit);

// Rewrites `path` with one bit flipped (through the FileSystem, synced). For corruption
// sweeps at bit granularity; SimDisk::CorruptByte flips a whole byte.
absl::Status FlipBit(env::FileSystem* fs, std::string_view path, uint64_t bit_offset);

}  // namespace keel::storage::testing

#endif  // KEEL_STORAGE_TESTING_SIM_FS_H_
