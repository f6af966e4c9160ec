#include "storage/testing/sim_fs.h"

#include <utility>

#include "storage/file_util.h"

namespace keel::storage::testing {

sim::DiskOptions QuietDisk() {
  sim::DiskOptions options;
  options.torn_write_probability = 0.5;
  // The strict reading of env.h: only explicit Sync/SyncDir make anything durable, so the
  // tests catch a missing SyncDir even though the real file system forgives it.
  options.implicit_syncs = false;
  return options;
}

SimFs::SimFs(uint64_t seed, sim::DiskOptions options)
    : world_(seed),
      loop_(std::make_unique<sim::NodeLoop>(&world_, /*node_id=*/1, sim::ClockConfig{})),
      disk_(std::make_unique<sim::SimDisk>(&world_, loop_.get(), options, world_.NewRng("disk"))) {}

void SimFs::RunUntilIdle() { world_.RunUntilIdle(/*max_events=*/10'000'000); }

void SimFs::Crash() {
  disk_->Crash();
  loop_->Crash();
  loop_->Restart();
}

env::StatusCallback Completions::Track(int tag) {
  return [done = done_, tag](absl::Status s) { done->push_back(Done{tag, std::move(s)}); };
}

raftpb::Entry MakeEntry(uint64_t index, uint64_t term, std::string_view data) {
  raftpb::Entry e;
  e.set_index(index);
  e.set_term(term);
  e.set_type(raftpb::EntryNormal);
  e.set_data(std::string(data));
  return e;
}

raftpb::HardState MakeHardState(uint64_t term, uint64_t vote, uint64_t commit) {
  raftpb::HardState hs;
  hs.set_term(term);
  hs.set_vote(vote);
  hs.set_commit(commit);
  return hs;
}

absl::Status FlipBit(env::FileSystem* fs, std::string_view path, uint64_t bit_offset) {
  absl::StatusOr<std::string> data = ReadWholeFile(fs, path);
  if (!data.ok()) return data.status();
  if (bit_offset / 8 >= data->size()) return absl::OutOfRangeError("bit past end of file");
  (*data)[bit_offset / 8] ^= static_cast<char>(1u << (bit_offset % 8));
  return WriteFileSync(fs, path, *data);
}

}  // namespace keel::storage::testing
