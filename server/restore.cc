// Backup verification, status and restore; the contract is in restore.h.
#include "server/restore.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "kv/crc32c.h"
#include "kv/mvcc_store.h"
#include "kv/revision.h"
#include "openssl/sha.h"
#include "server/membership.h"
#include "server/serverpb/internal.pb.h"
#include "storage/format.h"
#include "storage/snapshotter.h"
#include "storage/wal.h"

namespace keel::server {
namespace {

constexpr size_t kShaBytes = SHA256_DIGEST_LENGTH;
constexpr size_t kHeaderBytes = 16;  // magic + payload size (storage/format.h)
// Reads the backup in pieces of this size (the whole file ends up in memory; restore.h).
constexpr size_t kReadChunkBytes = size_t{1} << 20;

// Go's %v of a []byte: "[1 2 3]".
std::string GoBytes(const unsigned char* bytes, size_t n) {
  std::vector<int> values(bytes, bytes + n);
  return absl::StrCat("[", absl::StrJoin(values, " "), "]");
}

absl::StatusOr<std::string> ReadWholeFile(env::FileSystem* fs, const std::string& path) {
  auto file = fs->NewSequentialFile(path);
  if (!file.ok()) {
    // etcd: "open <path>: no such file or directory".
    if (file.status().code() == absl::StatusCode::kNotFound) {
      return absl::NotFoundError(absl::StrCat("open ", path, ": no such file or directory"));
    }
    return file.status();
  }
  std::string bytes;
  // Bounded: each round either grows `bytes` by up to one chunk or ends at EOF.
  while (true) {
    const size_t before = bytes.size();
    absl::Status read = (*file)->Read(kReadChunkBytes, &bytes);
    if (!read.ok()) return read;
    if (bytes.size() == before) break;
  }
  return bytes;
}

uint64_t DecodeFixed64(std::string_view bytes) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(bytes[i]);
  return v;
}

// The records of the old cluster that a restore must not carry over: its membership
// (server/membership.h buckets) and its consistent index (kv/backend.h "meta" keys).
bool DroppedByRestore(std::string_view raw_key) {
  const size_t sep = raw_key.find('\0');
  if (sep == std::string_view::npos) return false;
  const std::string_view bucket = raw_key.substr(0, sep);
  const std::string_view key = raw_key.substr(sep + 1);
  if (bucket == kv::kMetaBucket) return key == "consistent_index" || key == "term";
  return Membership::IsMembershipBucket(bucket);
}

std::string DefaultDataDir(const RestoreOptions& o) {
  return o.data_dir.empty() ? absl::StrCat(o.name, ".etcd") : o.data_dir;
}

// etcd's ServerConfig.VerifyBootstrap checks, with its messages.
absl::Status VerifyBootstrap(const RestoreOptions& o) {
  const PeerConfig* self = nullptr;
  for (const PeerConfig& peer : o.initial_cluster) {
    if (peer.name == o.name) self = &peer;
  }
  if (self == nullptr) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "couldn't find local name \"%s\" in the initial cluster configuration", o.name));
  }
  std::vector<std::string> listed = self->peer_urls;
  std::vector<std::string> advertised = o.advertise_peer_urls;
  std::sort(listed.begin(), listed.end());
  std::sort(advertised.begin(), advertised.end());
  if (listed != advertised) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--initial-cluster has ", o.name, "=", absl::StrJoin(self->peer_urls, ","),
        " but missing from --initial-advertise-peer-urls=",
        absl::StrJoin(o.advertise_peer_urls, ",")));
  }
  return absl::OkStatus();
}

// Creates `path` and its missing parents (Go's MkdirAll).
absl::Status CreateDirs(env::FileSystem* fs, const std::string& path) {
  std::string prefix = path.front() == '/' ? "/" : "";
  for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    absl::StrAppend(&prefix, part);
    absl::Status made = fs->CreateDir(prefix);
    if (!made.ok()) return made;
    prefix.push_back('/');
  }
  return absl::OkStatus();
}

// Step 2 of restore.h: the backend, synced. Returns the store's revision.
absl::StatusOr<int64_t> WriteBackend(const RestoreOptions& o, const std::string& db_dir,
                                     const Backup& backup, const Membership& membership,
                                     uint64_t consistent_index) {
  std::vector<std::pair<std::string, std::string>> kept;
  kept.reserve(backup.records.size());
  for (const auto& record : backup.records) {
    if (!DroppedByRestore(record.first)) kept.push_back(record);
  }
  kv::MvccStoreOptions options;
  options.backend.path = db_dir;
  options.backend.env = o.leveldb_env;
  options.backend.after_db_call = o.after_db_call;
  auto store = kv::MvccStore::Open(std::move(options));
  if (!store.ok()) return store.status();
  if ((*store)->consistent_index() != 0) {
    return absl::FailedPreconditionError(absl::StrCat("backend ", db_dir, " is not empty"));
  }
  absl::Status restored = (*store)->RestoreFromRecords(kept);
  if (!restored.ok()) return restored;
  membership.SaveAll((*store)->backend());
  (*store)->SetConsistentIndex(consistent_index, /*term=*/1);
  absl::Status synced = (*store)->Sync();
  if (!synced.ok()) return synced;
  return (*store)->current_revision();
}

// Steps 3 and 4: the N bootstrap ConfChange entries, committed, behind a snapshot at N.
struct RaftBootstrap {
  std::vector<raftpb::Entry> entries;
  raftpb::HardState hard_state;
  raftpb::Snapshot snapshot;
};

RaftBootstrap MakeRaftBootstrap(const Membership& membership) {
  RaftBootstrap b;
  uint64_t index = 0;
  for (const serverpb::Member& member : membership.List()) {
    raftpb::ConfChange cc;
    cc.set_type(raftpb::ConfChangeAddNode);
    cc.set_node_id(member.id());
    serverpb::ConfChangeContext context;
    *context.mutable_member() = member;
    cc.set_context(context.SerializeAsString());
    raftpb::Entry& e = b.entries.emplace_back();
    e.set_term(1);
    e.set_index(++index);
    e.set_type(raftpb::EntryConfChange);
    e.set_data(cc.SerializeAsString());
    b.snapshot.mutable_metadata()->mutable_conf_state()->add_voters(member.id());
  }
  b.hard_state.set_term(1);
  // As etcd's restore: term 1 already voted for the lowest ID, so no one wins term 1.
  b.hard_state.set_vote(membership.List().front().id());
  b.hard_state.set_commit(index);
  b.snapshot.mutable_metadata()->set_index(index);
  b.snapshot.mutable_metadata()->set_term(1);
  return b;
}

}  // namespace

absl::StatusOr<Backup> ReadBackup(env::FileSystem* fs, const std::string& path,
                                  bool skip_hash_check) {
  absl::StatusOr<std::string> bytes = ReadWholeFile(fs, path);
  if (!bytes.ok()) return bytes.status();
  Backup backup;
  backup.has_hash = bytes->size() % storage::kBackupAlignmentBytes == kShaBytes;
  if (!backup.has_hash && !skip_hash_check) {
    return absl::InvalidArgumentError("snapshot missing hash but --skip-hash-check=false");
  }
  if (backup.has_hash) {
    const size_t body = bytes->size() - kShaBytes;
    if (!skip_hash_check) {
      unsigned char sha[kShaBytes];
      SHA256(reinterpret_cast<const unsigned char*>(bytes->data()), body, sha);
      const auto* stored = reinterpret_cast<const unsigned char*>(bytes->data() + body);
      if (!std::equal(sha, sha + kShaBytes, stored)) {
        return absl::DataLossError(absl::StrCat("expected sha256 ", GoBytes(stored, kShaBytes),
                                                ", got ", GoBytes(sha, kShaBytes)));
      }
    }
    bytes->resize(body);
  }
  backup.db_bytes = bytes->size();
  if (bytes->size() < kHeaderBytes ||
      std::string_view(*bytes).substr(0, storage::kBackupMagic.size()) != storage::kBackupMagic) {
    return absl::DataLossError(
        absl::StrCat("snapshot ", path, " is not a Keel backup (bad magic or too short)"));
  }
  const uint64_t payload_bytes = DecodeFixed64(std::string_view(*bytes).substr(8, 8));
  if (payload_bytes > bytes->size() - kHeaderBytes) {
    return absl::DataLossError(absl::StrFormat(
        "snapshot %s is truncated: header names a %d-byte payload, %d bytes follow it", path,
        payload_bytes, bytes->size() - kHeaderBytes));
  }
  serverpb::BackendSnapshot payload;
  if (!payload.ParseFromArray(bytes->data() + kHeaderBytes, static_cast<int>(payload_bytes)) ||
      payload.keys_size() != payload.values_size()) {
    return absl::DataLossError(absl::StrCat("snapshot ", path, " has a corrupt payload"));
  }
  backup.records.reserve(payload.keys_size());
  for (int i = 0; i < payload.keys_size(); ++i) {
    backup.records.emplace_back(std::move(*payload.mutable_keys(i)),
                                std::move(*payload.mutable_values(i)));
  }
  return backup;
}

BackupStatus SummarizeBackup(const Backup& backup) {
  BackupStatus status;
  kv::Crc32c crc;
  const std::string key_prefix = std::string(kv::kKeyBucket) + '\0';
  for (const auto& [key, value] : backup.records) {
    crc.Update(key);
    crc.Update(value);
    if (key.compare(0, key_prefix.size(), key_prefix) == 0) {
      std::optional<kv::DecodedRevision> rev =
          kv::DecodeRevision(std::string_view(key).substr(key_prefix.size()));
      if (rev.has_value()) status.revision = std::max(status.revision, rev->rev.main);
    }
  }
  status.hash = crc.value();
  status.total_keys = backup.records.size();
  status.total_size = backup.db_bytes;
  return status;
}

void RestoreBackup(env::Env* env, RestoreOptions o,
                   absl::AnyInvocable<void(absl::StatusOr<RestoreResult>) &&> done) {
  env::FileSystem* fs = env->fs();
  RestoreResult result;
  result.data_dir = DefaultDataDir(o);
  result.wal_dir = o.wal_dir.empty() ? result.data_dir + "/member/wal" : o.wal_dir;
  absl::Status verified = VerifyBootstrap(o);
  if (!verified.ok()) return std::move(done)(verified);
  auto membership = Membership::Bootstrap(o.initial_cluster, o.initial_cluster_token);
  if (!membership.ok()) return std::move(done)(membership.status());
  const serverpb::Member* self = membership->FindByName(o.name);
  if (self == nullptr) return std::move(done)(absl::InternalError("member vanished"));
  result.member_id = self->id();
  result.cluster_id = membership->cluster_id();
  if (fs->FileExists(result.data_dir)) {
    return std::move(done)(
        absl::AlreadyExistsError(absl::StrFormat("data-dir \"%s\" exists", result.data_dir)));
  }
  if (!o.wal_dir.empty() && fs->FileExists(o.wal_dir)) {
    return std::move(done)(
        absl::AlreadyExistsError(absl::StrFormat("wal-dir \"%s\" exists", o.wal_dir)));
  }
  absl::StatusOr<Backup> backup = ReadBackup(fs, o.backup_path, o.skip_hash_check);
  if (!backup.ok()) return std::move(done)(backup.status());

  const std::string member_dir = result.data_dir + "/member";
  for (const std::string& dir : {member_dir + "/snap", result.wal_dir}) {
    absl::Status made = CreateDirs(fs, dir);
    if (!made.ok()) return std::move(done)(made);
  }
  const RaftBootstrap raft_state = MakeRaftBootstrap(*membership);
  result.consistent_index = raft_state.hard_state.commit();
  absl::StatusOr<int64_t> revision =
      WriteBackend(o, member_dir + "/db", *backup, *membership, result.consistent_index);
  if (!revision.ok()) return std::move(done)(revision.status());
  result.revision = *revision;

  auto snapshotter = storage::Snapshotter::Create(fs, member_dir + "/snap");
  if (!snapshotter.ok()) return std::move(done)(snapshotter.status());
  absl::Status saved = (*snapshotter)->Save(raft_state.snapshot);
  if (!saved.ok()) return std::move(done)(saved);

  serverpb::WalMetadata metadata;
  metadata.set_member_id(result.member_id);
  metadata.set_cluster_id(result.cluster_id);
  auto wal = storage::Wal::Create(fs, result.wal_dir, metadata.SerializeAsString());
  if (!wal.ok()) return std::move(done)(wal.status());
  // Both writes complete in order on the Loop; the marker's completion implies the
  // entries' (storage/wal.h, "Ordering"). The Wal lives until then.
  std::shared_ptr<storage::Wal> shared_wal = *std::move(wal);
  absl::Status entries_saved =
      shared_wal->Save(raft_state.hard_state, raft_state.entries, [](absl::Status) {});
  if (!entries_saved.ok()) return std::move(done)(entries_saved);
  const raftpb::SnapshotMetadata& at = raft_state.snapshot.metadata();
  auto finish = std::make_shared<absl::AnyInvocable<void(absl::StatusOr<RestoreResult>) &&>>(
      std::move(done));
  env::Loop* loop = env->loop();
  absl::Status marked = shared_wal->SaveSnapshotMarker(
      {at.index(), at.term()}, [loop, shared_wal, finish, result](absl::Status s) mutable {
        // A failed Save is sticky: the marker after it fails too and reports it.
        absl::Status status = s.ok() ? shared_wal->status() : s;
        // The Wal (and its directory lock) goes after this callback has returned, never
        // inside its own completion.
        loop->Post([keep = std::move(shared_wal)] {});
        if (!status.ok()) return std::move(*finish)(status);
        std::move(*finish)(result);
      });
  if (!marked.ok()) std::move(*finish)(marked);
}

}  // namespace keel::server
