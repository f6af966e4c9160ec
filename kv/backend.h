// The MVCC store's durable state on LevelDB, laid out like etcd's bbolt buckets:
//
//   LevelDB key = <bucket name> '\0' <key within bucket>
//
//   bucket "key":   17/18-byte revision (kv/revision.h) -> serialized mvccpb.KeyValue
//                   (a tombstone's value holds only the key)
//   bucket "meta":  "consistent_index", "term"      -> 8-byte big-endian
//                   "scheduledCompactRev", "finishedCompactRev" -> 17-byte revision
//   other buckets (e.g. "lease") belong to whoever writes them; names must not contain '\0'.
//
// Writes are staged in memory and reach LevelDB in ONE WriteBatch per Commit(); the store
// stages the Raft consistent index in the same batch as the entry's effects, so after a
// crash the index on disk says exactly which entries the data on disk contains.
//
// Threading: single-threaded (the node loop). Errors are sticky: after a failed Commit every
// later call returns the same status, because LevelDB may hold a partial view of our
// intent and continuing would build on it.
//
// Determinism (simulation): `env` lets the simulator supply a leveldb::Env whose Schedule
// only queues background work (env::LevelDbEnv kQueued), and two hooks let it decide when
// that queue runs, on this thread (see DESIGN.md):
//   after_db_call    after every LevelDB call: run the queue now (keelsim's "drained"
//                    timing), or schedule a later run (its "deferred" timing, which
//                    models keeld's background thread);
//   run_queued_work  deferred timing only: runs the whole queue now. The backend calls it
//                    before a write LevelDB could otherwise wait for queued work in
//                    (WriteCouldWaitForQueuedWork below: one thread waiting on itself never
//                    wakes) and before closing the DB (its destructor waits for the
//                    queue). Unset: after_db_call serves before closing.
#ifndef KEEL_KV_BACKEND_H_
#define KEEL_KV_BACKEND_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "leveldb/cache.h"
#include "leveldb/db.h"
#include "leveldb/env.h"

namespace keel::kv {

inline constexpr std::string_view kKeyBucket = "key";
inline constexpr std::string_view kMetaBucket = "meta";

// For owners of queued LevelDB background work (env::LevelDbEnv kQueued) that defer the
// queue instead of running it after every call
// (keelsim's "deferred" timing, which models keeld's background thread): whether the next
// write to `db` could wait for queued background work, so the owner must run the queue
// first (one thread waiting on itself never wakes). LevelDB's foreground waits only in
// MakeRoomForWrite, when the current memtable exceeds write_buffer_size while the
// previous (immutable) one is unflushed, or level 0 is at its stop trigger (checked only
// after the same "memtable full" test). A memtable is made immutable only once it
// exceeds write_buffer_size, so while both memtables together use at most twice that,
// the current one cannot be full. `block_cache` must be the DB's Options::block_cache
// (LevelDB's memory-usage property includes its charge). If this were ever wrong, the
// LevelDbEnv's info logger aborts on LevelDB's "waiting" message rather than hang.
bool WriteCouldWaitForQueuedWork(leveldb::DB* db, const leveldb::Cache* block_cache,
                                 size_t write_buffer_size);

struct BackendOptions {
  std::string path;                        // LevelDB directory; created if missing
  leveldb::Env* env = nullptr;             // not owned; nullptr = leveldb::Env::Default()
  std::function<void()> after_db_call;     // optional hooks; see file comment
  std::function<void()> run_queued_work;
  bool sync = false;                       // fsync every Commit (the WAL usually suffices)
  size_t write_buffer_size_bytes = 4 << 20;
};

class Backend {
 public:
  static absl::StatusOr<std::unique_ptr<Backend>> Open(BackendOptions options);
  ~Backend();
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  // Reads one key, seeing staged (uncommitted) writes first.
  absl::StatusOr<std::optional<std::string>> Get(std::string_view bucket,
                                                 std::string_view key) const;

  // Stage a write for the next Commit.
  void Put(std::string_view bucket, std::string_view key, std::string_view value);
  void Delete(std::string_view bucket, std::string_view key);
  bool HasStaged() const { return !staged_.empty(); }

  // Writes everything staged as one atomic LevelDB WriteBatch. A no-op when nothing is
  // staged.
  absl::Status Commit();

  // Visits committed records of `bucket` with start <= key < end (end empty = to the end
  // of the bucket) in key order, at most `limit_records` of them (0 = no limit), until `fn`
  // returns false. Requires nothing staged: a scan never mixes two versions of the data.
  absl::Status Scan(std::string_view bucket, std::string_view start, std::string_view end,
                    size_t limit_records,
                    absl::FunctionRef<bool(std::string_view key, std::string_view value)> fn)
      const;

  // Commits anything staged and makes everything committed so far durable (one synced
  // LevelDB write). Commits are unsynced by default because the WAL can replay them; a
  // caller that is about to stop relying on the WAL (a snapshot releases it) calls this.
  absl::Status Sync();

  // Visits every committed record of every bucket, as raw LevelDB keys (bucket '\0' key),
  // in key order, until `fn` returns false. Requires nothing staged. For shipping the whole
  // state to a follower in a Raft snapshot.
  absl::Status ScanAll(absl::FunctionRef<bool(std::string_view raw_key, std::string_view value)> fn) const;

  // Replaces everything with `records` (raw keys, as ScanAll yields them) in ONE atomic
  // WriteBatch: a crash leaves either the old state or the new one. Requires nothing staged.
  absl::Status ReplaceAll(const std::vector<std::pair<std::string, std::string>>& records);

  // Compacts the whole key range (etcd's Defragment, in LevelDB's terms). Blocks until
  // LevelDB's background work finishes, so it must not be called with a queued background
  // (the simulator's mode): nothing would ever run the work it waits for.
  void CompactAll();

  // LevelDB's estimate of its table files' size (not deterministic across replicas: it
  // depends on when compactions ran). For status reporting only.
  uint64_t ApproximateSizeBytes() const;

  const std::string& path() const { return options_.path; }

 private:
  Backend(BackendOptions options, std::unique_ptr<leveldb::Cache> block_cache,
          std::unique_ptr<leveldb::DB> db);
  void AfterDbCall() const;
  void BeforeDbWrite() const;
  // FromLevelDb, and for a corruption the table file and offset it is in.
  absl::Status ReadError(const leveldb::Status& s, std::string_view context) const;

  const BackendOptions options_;
  // Ours, not LevelDB's default, so that BeforeDbWrite can tell its charge from the
  // memtables' in LevelDB's memory-usage property. Outlives db_.
  std::unique_ptr<leveldb::Cache> block_cache_;
  std::unique_ptr<leveldb::DB> db_;
  // Full LevelDB key -> value (nullopt = delete). Ordered so that the WriteBatch, and thus
  // LevelDB's files, are byte-identical across replays.
  std::map<std::string, std::optional<std::string>, std::less<>> staged_;
  absl::Status sticky_error_;
};

// Converts a leveldb::Status to an absl::Status with a precise code (corruption is
// DATA_LOSS, not INTERNAL).
absl::Status FromLevelDb(const leveldb::Status& s, std::string_view context);

}  // namespace keel::kv

#endif  // KEEL_KV_BACKEND_H_
