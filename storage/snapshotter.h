// Snapshotter: raftpb::Snapshot files in one directory (layout in storage/format.h).
//
// Save publishes atomically (write <name>.tmp, Sync, Rename, SyncDir), so after a crash
// a snapshot file is either absent or complete. Loading verifies every byte (header crc,
// payload crc, size, and that the name, header and metadata agree); a file that fails is
// renamed <name>.broken (as etcd does), reported, and the next older one is tried.
//
// All operations are synchronous (the sync half of env::WritableFile) and run on the
// caller's thread; snapshots are rare and the Raft driver calls them off the hot path.
// Not thread-safe.
#ifndef KEEL_STORAGE_SNAPSHOTTER_H_
#define KEEL_STORAGE_SNAPSHOTTER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "env/env.h"
#include "raft/raftpb/raft.pb.h"
#include "storage/wal.h"

namespace keel::storage {

struct SnapshotFileInfo {
  uint64_t term = 0;
  uint64_t index = 0;
  std::string name;  // "%016x-%016x.snap"
};

struct LoadedSnapshot {
  raftpb::Snapshot snapshot;
  std::string name;
  // Files that failed verification on the way, now renamed "<name>.broken", newest
  // first. Non-empty means the operator should know: log it.
  std::vector<std::string> broken;
};

class Snapshotter {
 public:
  // Creates `dir` if needed and removes leftover "*.snap.tmp" files (never published).
  static absl::StatusOr<std::unique_ptr<Snapshotter>> Create(env::FileSystem* fs,
                                                             std::string_view dir);

  // Writes `snapshot` as "<term>-<index>.snap", durably. Requires metadata.index > 0.
  // kAlreadyExists if that file exists (the same (term, index) is the same snapshot).
  absl::Status Save(const raftpb::Snapshot& snapshot);

  // The newest snapshot that verifies. kNotFound if there is none (broken ones are
  // renamed on the way; the NotFound message names them).
  absl::StatusOr<LoadedSnapshot> LoadNewest();
  // As LoadNewest, but only snapshots whose (index, term) is in `wal_markers`: a crash
  // between Snapshotter::Save and Wal::SaveSnapshotMarker leaves a snapshot the WAL cannot
  // replay from (Wal::ReadSnapshotMarkers lists the markers).
  absl::StatusOr<LoadedSnapshot> LoadNewestAvailable(absl::Span<const WalSnapshot> wal_markers);
  // Reads and verifies one file (by name). kDataLoss if it does not verify; nothing is
  // renamed.
  absl::StatusOr<raftpb::Snapshot> Load(std::string_view name);

  // Published snapshot files, newest (highest index, then term) first.
  absl::StatusOr<std::vector<SnapshotFileInfo>> List();

  // Removes all but the newest `keep` (>= 1) snapshot files. ".broken" files are kept.
  absl::Status Purge(size_t keep);

  const std::string& dir() const { return dir_; }
  env::FileSystem* fs() const { return fs_; }

 private:
  Snapshotter(env::FileSystem* fs, std::string dir) : fs_(fs), dir_(std::move(dir)) {}
  // Load's work; sets *verification_failed when the bytes (not the I/O) are at fault.
  absl::StatusOr<raftpb::Snapshot> LoadFile(std::string_view name, bool* verification_failed);
  absl::StatusOr<LoadedSnapshot> LoadNewestMatching(bool filter,
                                                    absl::Span<const WalSnapshot> wal_markers);

  env::FileSystem* const fs_;
  const std::string dir_;
};

}  // namespace keel::storage

#endif  // KEEL_STORAGE_SNAPSHOTTER_H_
