// Backups (`etcdctl snapshot save` against keeld) read, summarized and restored into a
// fresh member data directory: keelctl's `snapshot status` and `snapshot restore`.
//
// A backup file is storage/format.h's "Backup files" layout: magic, payload size, a
// serialized BackendSnapshot (every backend record), zero padding to a multiple of 512,
// then the SHA-256 of everything before it (appended by keeld's Maintenance.Snapshot).
//
// Restore does what etcd's (etcdctl 3.4 snapshot/v3_snapshot.go) does, in Keel's layout:
//   1. verify the file (SHA-256 trailer unless skip_hash_check; etcd's messages);
//   2. member/db: the backup's records minus the old cluster's membership (members,
//      removed IDs, cluster ID, join remotes, refused changes) and consistent index; the
//      new membership computed from --initial-cluster/--initial-cluster-token exactly as a
//      new cluster's (so the IDs are the ones keeld derives from the same flags); the
//      consistent index set to N = number of members, term 1; synced;
//   3. member/snap: a snapshot file at (index N, term 1) whose ConfState lists the N
//      voters (metadata only: the backend is the state, as in every Keel snapshot);
//   4. member/wal: metadata (member ID, cluster ID), the N ConfChangeAddNode entries
//      (term 1), HardState {term 1, vote = first member, commit N}, a snapshot marker at
//      (N, 1); durable.
// A member started on it recovers like any restarted member: Raft from the snapshot at
// N with the N voters, the store at the backup's revision, nothing to replay. Every
// member of the new cluster is restored from the same file with its own --name.
//
// Keys and their revisions, leases and alarms are kept as saved (etcd keeps them too).
//
// Crash safety: the backend is written and synced before the WAL exists. A crash in
// between leaves a data directory with a backend and no WAL, which keeld refuses to
// start on ("has a backend but no WAL"): the operator removes it and restores again.
//
// Memory: the whole backup is read into memory (it is at most the backend's size, bounded
// by --quota-backend-bytes), like the InstallSnapshot image install (server/README.md).
#ifndef KEEL_SERVER_RESTORE_H_
#define KEEL_SERVER_RESTORE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "env/env.h"
#include "leveldb/env.h"
#include "server/config.h"

namespace keel::server {

struct Backup {
  // Raw backend records (bucket '\0' key -> value), in the order the backup holds them.
  std::vector<std::pair<std::string, std::string>> records;
  // Size of the backup without its SHA-256 trailer (etcd's "total size": the db's size).
  uint64_t db_bytes = 0;
  bool has_hash = false;
};

// Reads and verifies `path`. With skip_hash_check false a file without the trailer is
// refused ("snapshot missing hash but --skip-hash-check=false") and a trailer that does
// not match is kDataLoss ("expected sha256 [..], got [..]", Go's formatting, as etcd).
// A truncated or damaged payload is kDataLoss naming the file and what is wrong.
absl::StatusOr<Backup> ReadBackup(env::FileSystem* fs, const std::string& path,
                                  bool skip_hash_check);

// etcdctl's `snapshot status` fields for a Keel backup.
struct BackupStatus {
  // CRC-32C (Castagnoli, as etcd's) over every record's raw key then value, in order.
  uint32_t hash = 0;
  // The highest main revision in the key bucket (etcd: the last key's revision).
  int64_t revision = 0;
  // Records in the backup, all buckets (etcd counts keys in every bucket too).
  uint64_t total_keys = 0;
  uint64_t total_size = 0;
};
BackupStatus SummarizeBackup(const Backup& backup);

struct RestoreOptions {
  std::string backup_path;
  std::string name = "default";
  std::vector<PeerConfig> initial_cluster;  // peer URLs normalized as keeld normalizes them
  std::string initial_cluster_token = "etcd-cluster";
  std::vector<std::string> advertise_peer_urls;
  std::string data_dir;  // empty: "<name>.etcd", as etcd
  std::string wal_dir;   // empty: <data_dir>/member/wal
  bool skip_hash_check = false;
  // LevelDB under the Env seam, as ServerConfig's fields (keelsim passes a queued Env and
  // a hook that drains it after every call).
  leveldb::Env* leveldb_env = nullptr;
  std::function<void()> after_db_call;
};

struct RestoreResult {
  uint64_t cluster_id = 0;
  uint64_t member_id = 0;
  int64_t revision = 0;           // the store's revision after the restore
  uint64_t consistent_index = 0;  // = the number of members
  std::string data_dir;
  std::string wal_dir;
};

// Builds the member data directory described above. Call on env->loop(); `done` runs
// there exactly once, after every file is durable (or with the first error). Refuses an
// existing data directory ("data-dir \"d\" exists") or WAL directory, a --name missing
// from --initial-cluster and advertise URLs that differ from its entry, with etcd's
// messages.
void RestoreBackup(env::Env* env, RestoreOptions options,
                   absl::AnyInvocable<void(absl::StatusOr<RestoreResult>) &&> done);

}  // namespace keel::server

#endif  // KEEL_SERVER_RESTORE_H_
