// Wal: the segmented write-ahead log that makes Raft's HardState and entries durable.
// Byte layout and recovery rules: storage/format.h.
//
// Life cycle:
//   Create(fs, dir, metadata)          a new, empty log (segment 0), ready to append;
//   Open(fs, dir, snapshot) + ReadAll  an existing log, replayed from `snapshot`; after a
//                                      successful ReadAll the Wal is ready to append.
//   Save / SaveSnapshotMarker          group commit: ONE AppendAsync + ONE SyncAsync per
//                                      call however many entries it carries; `done` runs
//                                      on the Loop once the bytes are durable (or not).
//   RemoveSegmentsBefore(index)        drop segments a durable snapshot covers.
//
// Threading: not thread-safe; every call and every callback happens on the owning Loop
// (the FileSystem delivers async completions there).
//
// Errors are sticky: once an append, sync or segment cut fails, every later write is
// refused with that status. After a failed fsync the kernel may have dropped the dirty
// pages, so "retry and succeed" would acknowledge lost data (env.h, "fsyncgate").
//
// Ordering: `done` callbacks run in the order the Saves were issued, also across a
// segment cut (the new segment's first write is not issued before every write to the
// old one has completed), so "done(OK) for Save k" implies Saves 1..k are durable.
#ifndef KEEL_STORAGE_WAL_H_
#define KEEL_STORAGE_WAL_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "env/bug_switches.h"
#include "env/env.h"
#include "raft/raftpb/raft.pb.h"
#include "storage/format.h"

namespace keel::storage {

// The (index, term) of a snapshot, as the WAL records it.
struct WalSnapshot {
  uint64_t index = 0;
  uint64_t term = 0;
  friend bool operator==(const WalSnapshot& a, const WalSnapshot& b) {
    return a.index == b.index && a.term == b.term;
  }
};

struct WalOptions {
  // A Save that finds the current segment at or beyond this size starts a new segment.
  // Segments can therefore exceed it by one Save's worth of bytes.
  uint64_t segment_size_bytes = kDefaultSegmentSizeBytes;
  // Saves issued while a segment cut waits for the old segment's writes to complete are
  // queued; beyond this many the Save is refused with kResourceExhausted. Raft's Ready
  // loop keeps a handful in flight, so reaching it means the caller is not waiting.
  size_t max_queued_saves = 1024;
  // keelsim's bug zoo (env/bug_switches.h): all off outside the simulator.
  env::BugSwitches bugs;
};

// What ReadAll recovered.
struct WalContents {
  std::string metadata;
  raftpb::HardState hard_state;        // the last one saved (empty if none)
  std::vector<raftpb::Entry> entries;  // contiguous, first index == snapshot.index + 1
  WalSnapshot latest_snapshot_marker;  // the newest marker in the replayed segments
  uint64_t truncated_tail_bytes = 0;   // torn bytes dropped from the last segment
};

class Wal {
 public:
  // Creates `dir` if needed and a new log in it. kAlreadyExists if `dir` already holds
  // WAL segments. The directory is locked until the Wal is destroyed.
  static absl::StatusOr<std::unique_ptr<Wal>> Create(env::FileSystem* fs, std::string_view dir,
                                                     std::string_view metadata,
                                                     WalOptions options = {});

  // Opens the log in `dir` for replay from `snapshot` (index 0 = from the beginning).
  // kNotFound when `dir` holds no segments or none reaches back to snapshot.index.
  // Segment-set damage (seq gaps, unparsable names) is kDataLoss. Reads nothing else;
  // call ReadAll next.
  static absl::StatusOr<std::unique_ptr<Wal>> Open(env::FileSystem* fs, std::string_view dir,
                                                   WalSnapshot snapshot, WalOptions options = {});

  // Every snapshot marker in the log, oldest first (read-only, takes no lock; the torn
  // tail is tolerated but not truncated). Feed to Snapshotter::LoadNewestAvailable so
  // that the snapshot chosen at restart is one the WAL can replay from.
  static absl::StatusOr<std::vector<WalSnapshot>> ReadSnapshotMarkers(env::FileSystem* fs,
                                                                      std::string_view dir);

  // True if `dir` holds at least one segment.
  static bool Exists(env::FileSystem* fs, std::string_view dir);

  // Fails queued (not yet issued) Saves with kCancelled. Callbacks of writes already
  // issued still run (if the FileSystem delivers them) and reach their `done`.
  ~Wal();
  Wal(const Wal&) = delete;
  Wal& operator=(const Wal&) = delete;

  // Replays the opened segments (see format.h, "Recovery rules" and "Replay"), truncates a
  // torn tail of the last segment, and switches the Wal to appending. Only once, only
  // after Open. kDataLoss (naming file and offset) for corruption; kNotFound if
  // snapshot.index > 0 and no marker for it was found; kFailedPrecondition for a marker
  // with the same index and another term.
  absl::StatusOr<WalContents> ReadAll();

  // Appends `entries` (contiguous; entries[0].index <= last_index() + 1) and then `hs`
  // (skipped if it is the empty HardState) as one write followed by one fsync. Returns
  // non-OK, WITHOUT calling `done`, if the Wal refuses up front (sticky error, not
  // appending yet, invalid entries, queue behind a cut full, or a segment cut made right
  // here failed). Otherwise `done` runs exactly once on the Loop with the outcome.
  // Entries with index <= last_index() overwrite (Raft log truncation). When the segment
  // is full and nothing is in flight, the cut (temp file, fsync, rename, directory fsync)
  // runs synchronously inside this call; otherwise it runs in the completion of the last
  // write to the old segment.
  absl::Status Save(const raftpb::HardState& hs, absl::Span<const raftpb::Entry> entries,
                    env::StatusCallback done);

  // Records that a snapshot at (index, term) was saved; same contract as Save. After it,
  // Open(snapshot) can replay from here. For a snapshot taken locally: the entries after
  // its index that are already in the log stay the live log.
  absl::Status SaveSnapshotMarker(WalSnapshot snapshot, env::StatusCallback done);

  // The same for a snapshot RECEIVED from the leader and installed: it replaces the whole
  // log, so replay discards every entry written before this marker (format.h, "Replay"),
  // and the next entry follows the snapshot (last_index() becomes snapshot.index).
  absl::Status SaveInstalledSnapshotMarker(WalSnapshot snapshot, env::StatusCallback done);

  // Removes every segment before the last one whose first_index <= `index`, never the
  // current one. Call with the index of a snapshot whose file AND marker are durable, and
  // no newer than the oldest snapshot you may still fall back to (Snapshotter keeps N).
  // `max_segments` > 0 (etcd's --max-wals): remove those, oldest first, only while more
  // than `max_segments` segments remain; 0 = remove all of them.
  absl::Status RemoveSegmentsBefore(uint64_t index, size_t max_segments = 0);

  // OK, or the sticky error that refuses writes.
  const absl::Status& status() const { return sticky_error_; }
  // Index of the last entry replayed or saved; a snapshot marker saved since raises it to
  // the marker's index if that is greater (the next entry follows the snapshot), an
  // installed one sets it to the marker's index.
  uint64_t last_index() const { return last_index_; }
  // Names of the segments this Wal knows, oldest first (including one being cut).
  std::vector<std::string> SegmentNames() const;

  static std::string SegmentName(uint64_t seq, uint64_t first_index);

 private:
  struct Segment {
    uint64_t seq = 0;
    uint64_t first_index = 0;
    std::string name;
  };
  // A Save encoded but not yet issued because a segment cut waits for the old segment.
  struct QueuedSave {
    std::string bytes;
    env::StatusCallback done;
  };
  // A new segment whose header records are encoded; it is published once every write to
  // the previous segment has completed.
  struct PendingCut {
    Segment segment;
    std::string header_bytes;  // magic + the four leading records
    std::deque<QueuedSave> queue;
  };

  Wal(env::FileSystem* fs, std::string dir, WalOptions options,
      std::unique_ptr<env::FileLock> lock);

  // The segments in `dir` sorted by seq; kDataLoss on bad names, kNotFound if none.
  // Optionally deletes "*.wal.tmp" leftovers of interrupted cuts. `*stale` (the caller's
  // count) is how many of the oldest come before the last seq gap: leftovers of a removal
  // that did not finish (etcd ignores them the same way). Replay never reads them; a
  // replay that needs one of them (its snapshot is behind the gap) is kDataLoss.
  static absl::StatusOr<std::vector<Segment>> ListSegments(env::FileSystem* fs,
                                                           std::string_view dir, bool remove_tmp,
                                                           size_t* stale);

  std::string PathOf(std::string_view name) const;
  // Encodes the segment's magic and leading records, advancing the chain crc.
  std::string EncodeSegmentHead(const Segment& segment);
  // Writes `head` as <name>.tmp, syncs, renames, syncs the directory.
  absl::Status PublishSegment(const Segment& segment, std::string_view head);
  // Writes the pending segment and makes it the one appended to. Requires no Save in
  // flight on the old segment, so the new segment never holds durable bytes while the
  // old one may still lose some (a gap recovery would have to call corruption).
  absl::Status PublishPendingSegment();
  absl::Status CheckWritable() const;
  absl::Status SaveMarker(WalSnapshot snapshot, bool installed, env::StatusCallback done);
  // Starts a cut if the current segment is full and none is pending.
  void MaybeStartCut();
  absl::Status Submit(std::string bytes, env::StatusCallback done);
  void Issue(std::string bytes, env::StatusCallback done);
  void OnSaveComplete(absl::Status status, env::StatusCallback done);
  // Called when the last in-flight Save of the old segment completed: publishes the
  // pending segment and issues its queued Saves. On failure returns the queued
  // callbacks, which the caller must fail (after its own callback, to keep the order).
  std::vector<env::StatusCallback> FinishCut();
  void Fail(const absl::Status& status);

  // Constant after construction.
  env::FileSystem* const fs_;
  const std::string dir_;
  const WalOptions options_;
  const std::unique_ptr<env::FileLock> lock_;
  // Callbacks hold a weak reference so a callback arriving after destruction only
  // reaches the caller's `done`.
  const std::shared_ptr<Wal*> self_;

  // Replay parameters (Open), consumed by ReadAll.
  WalSnapshot open_snapshot_;
  size_t replay_from_ = 0;  // the segment holding the snapshot index; older ones stay in
                            // segments_ so RemoveSegmentsBefore removes them, oldest first
  bool replayed_ = false;   // ReadAll ran (or Create made a fresh log)
  bool appending_ = false;  // Saves accepted

  std::vector<Segment> segments_;            // on disk, oldest first; back() is being appended
  std::unique_ptr<env::WritableFile> file_;  // back() of segments_, async mode
  uint64_t file_size_bytes_ = 0;             // bytes written or issued to file_
  int inflight_saves_ = 0;                   // Saves issued to file_ whose done has not run
  std::optional<PendingCut> pending_cut_;

  uint32_t chain_crc_ = 0;  // data_crc of the last record encoded
  std::string metadata_;
  raftpb::HardState hard_state_;  // latest encoded, repeated at each segment head
  WalSnapshot snapshot_marker_;   // latest encoded, repeated at each segment head
  uint64_t last_index_ = 0;
  absl::Status sticky_error_;
};

}  // namespace keel::storage

#endif  // KEEL_STORAGE_WAL_H_
