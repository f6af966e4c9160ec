// Start-up: bootstrapping a new member, or recovering one from its snapshot, WAL and
// backend. The rules are in server_impl.h's file comment.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/check.h"
#include "env/buggify.h"
#include "raft/entry_util.h"
#include "server/force_new_cluster.h"
#include "server/member_id.h"
#include "server/server_impl.h"
#include "storage/backend_image.h"
#include "storage/file_util.h"
#include "storage/format.h"

namespace keel::server {
namespace {

// raft::RandomSource over a named env::Rng stream, so elections replay from the seed.
class RngRandomSource final : public raft::RandomSource {
 public:
  explicit RngRandomSource(env::Rng rng) : rng_(rng) {}
  uint64_t Uniform(uint64_t n) override { return rng_.Uniform(n); }

 private:
  env::Rng rng_;
};

// "http://127.0.0.1:2380" -> "127.0.0.1:2380", what env::Transport dials.
std::string HostPort(const std::string& url) {
  const size_t scheme = url.find("://");
  std::string rest = scheme == std::string::npos ? url : url.substr(scheme + 3);
  const size_t slash = rest.find('/');
  return slash == std::string::npos ? rest : rest.substr(0, slash);
}

}  // namespace

// The lessor as the store's lease hooks: the store attaches and detaches keys as puts and
// deletes apply, and asks whether a lease exists before a put names it.
class ServerImpl::LessorHooks final : public kv::LeaseHooks {
 public:
  explicit LessorHooks(kv::Lessor* lessor) : lessor_(lessor) {}
  bool LeaseExists(int64_t lease_id) const override { return lessor_->Exists(lease_id); }
  void Attach(int64_t lease_id, std::string_view key) override {
    // The store checked LeaseExists first; a failure here is a broken invariant.
    absl::Status attached = lessor_->Attach(lease_id, key);
    // With the bug-zoo entry server-lease-revoke-keeps-key, a revoked lease's keys stay
    // behind and a later put may re-attach one; the simulator's lease checker must see
    // that state instead of this assertion ending the run.
    if (tolerate_dangling_leases) return;
    KEEL_CHECK(attached.ok());
    (void)attached;
  }
  bool tolerate_dangling_leases = false;  // only under that bug-zoo entry
  void Detach(int64_t lease_id, std::string_view key) override { lessor_->Detach(lease_id, key); }

 private:
  kv::Lessor* const lessor_;
};

absl::StatusOr<std::unique_ptr<Server>> Server::Open(env::Env* env, ServerConfig config) {
  auto server = std::make_unique<ServerImpl>(env, std::move(config));
  absl::Status init = server->Init();
  if (!init.ok()) return init;
  return server;
}

ServerImpl::ServerImpl(env::Env* env, ServerConfig config)
    : env_(env), loop_(env->loop()), config_(std::move(config)) {
  const std::string member_dir = config_.data_dir + "/member";
  wal_dir_ = config_.wal_dir.empty() ? member_dir + "/wal" : config_.wal_dir;
  snap_dir_ = member_dir + "/snap";
  db_dir_ = member_dir + "/db";
  election_ticks_ = static_cast<int>(
      std::max<int64_t>(2, config_.election_timeout_ms / std::max<int64_t>(1, config_.heartbeat_interval_ms)));
  tokens_ = std::make_unique<SimpleTokens>(config_.auth_token_ttl_ms * 1'000'000);
  auth_crypto_ = config_.auth_crypto;
  if (auth_crypto_ == nullptr) {
    auth_crypto_ = std::make_shared<InlineAuthCrypto>(env_->NewRng("auth"), config_.bcrypt_cost);
  }
}

ServerImpl::~ServerImpl() { Stop(); }

absl::Status ServerImpl::Init() {
  if (config_.data_dir.empty()) return absl::InvalidArgumentError("--data-dir is empty");
  absl::Status dirs = OpenDirectories();
  if (!dirs.ok()) return dirs;
  auto snapshotter = storage::Snapshotter::Create(env_->fs(), snap_dir_);
  if (!snapshotter.ok()) return snapshotter.status();
  snapshotter_ = *std::move(snapshotter);
  absl::Status opened = storage::Wal::Exists(env_->fs(), wal_dir_) ? Recover() : Bootstrap();
  if (!opened.ok()) return opened;
  // Seeded from the wall clock, as etcd's: the Loop's clock starts over with each keeld
  // process, and a restarted member that re-issued its previous life's IDs had every
  // forwarded proposal dropped by a leader that had accepted those IDs before
  // (AcceptForwardedProposal), and its reads answered for an old ReadIndex context.
  ids_.emplace(member_id_, static_cast<uint64_t>(env_->WallClockMillis()));
  // Recovery has installed any received image it needed (durably): every transfer file
  // left by a previous life is garbage now.
  absl::Status cleaned = SnapshotReceiver::RemoveLeftovers(env_->fs(), snap_dir_);
  if (!cleaned.ok()) return cleaned;
  CreateSnapshotTransfers();
  watch_hub_ = std::make_unique<kv::WatchHub>(store_.get());
  ConnectPeers();
  return absl::OkStatus();
}

absl::Status ServerImpl::OpenDirectories() {
  for (const std::string& dir :
       {config_.data_dir, config_.data_dir + "/member", wal_dir_, snap_dir_}) {
    absl::Status made = env_->fs()->CreateDir(dir);
    if (!made.ok()) {
      return absl::Status(made.code(),
                          absl::StrCat("cannot create data directory ", dir, ": ", made.message()));
    }
  }
  return absl::OkStatus();
}

storage::WalOptions ServerImpl::WalOptions() const {
  storage::WalOptions options;
  options.bugs = config_.bugs;
  // BUGGIFY: tiny segments, so segment cuts (and, after snapshots, segment removal) happen
  // every few Readies instead of every 64 MiB.
  if (KEEL_BUGGIFY("wal.segment_8kib")) options.segment_size_bytes = 8 << 10;
  return options;
}

absl::Status ServerImpl::OpenBackend() {
  kv::MvccStoreOptions options;
  options.backend.path = db_dir_;
  options.backend.env = config_.leveldb_env;
  options.backend.after_db_call = config_.after_db_call;
  options.backend.run_queued_work = config_.run_queued_db_work;
  options.max_txn_ops = static_cast<int>(config_.max_txn_ops);
  options.max_request_bytes = static_cast<int64_t>(config_.max_request_bytes);
  if (config_.quota_backend_bytes > 0) options.quota_bytes = config_.quota_backend_bytes;
  if (config_.backend_write_buffer_bytes > 0) {
    options.backend.write_buffer_size_bytes = config_.backend_write_buffer_bytes;
  }
  // BUGGIFY: a tiny LevelDB memtable, so flushes and compactions (and their files on the
  // simulated disk) happen every few applies instead of every few thousand.
  if (KEEL_BUGGIFY("backend.memtable_16kib")) options.backend.write_buffer_size_bytes = 16 << 10;
  auto store = kv::MvccStore::Open(std::move(options));
  if (!store.ok()) {
    return absl::Status(store.status().code(),
                        absl::StrCat("cannot open backend ", db_dir_, ": ", store.status().message()));
  }
  store_ = *std::move(store);
  return absl::OkStatus();
}

// The part of a first start that Bootstrap and BootstrapJoining share, once membership_,
// member_id_ and cluster_id_ are known: an empty backend that records the membership,
// synced before the WAL exists, so a restart finds either no WAL (and starts over) or a
// backend that knows the cluster and whom to talk to.
//
// A backend may also hold the apply of some initial ConfChanges with no WAL beside it: the
// first Ready applies the committed bootstrap entries while the WAL write that holds them
// is still in flight, and if that write fails (EIO, then a fail-stop) the WAL file may not
// survive while the backend's batch did (keelsim seed 2330). Bootstrap recreates exactly
// those entries, and replaying entries the backend already holds is the ordinary restart
// path, so that is an unfinished bootstrap: start it again. Nothing was ever voted or
// acknowledged, since every HardState and ack waits for the WAL. A backend past the
// recreated entries, or of another cluster, is a damaged directory: refuse.
absl::Status ServerImpl::StartFreshDataDir(uint64_t redoable_entries,
                                           absl::string_view backend_without_wal) {
  absl::Status backend = OpenBackend();
  if (!backend.ok()) return backend;
  const uint64_t applied = store_->consistent_index();
  if (applied > redoable_entries) {
    return absl::FailedPreconditionError(
        absl::StrCat("data directory ", config_.data_dir, backend_without_wal));
  }
  if (applied != 0) {
    auto recorded = Membership::Load(store_->backend());
    if (!recorded.ok()) return recorded.status();
    if (recorded->cluster_id() != cluster_id_) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "data directory %s holds a backend of cluster %x, not of %x: refusing to start "
          "(wipe the directory)",
          config_.data_dir, recorded->cluster_id(), cluster_id_));
    }
  }
  membership_->SaveAll(store_->backend());
  absl::Status committed = store_->Sync();
  if (!committed.ok()) return committed;

  serverpb::WalMetadata metadata;
  metadata.set_member_id(member_id_);
  metadata.set_cluster_id(cluster_id_);
  auto wal = storage::Wal::Create(env_->fs(), wal_dir_, metadata.SerializeAsString(), WalOptions());
  if (!wal.ok()) return wal.status();
  wal_ = *std::move(wal);
  return ReloadStateFromBackend();
}

absl::Status ServerImpl::Bootstrap() {
  if (!config_.initial_cluster_state_new) return BootstrapJoining();
  auto membership = Membership::Bootstrap(config_.initial_cluster, config_.initial_cluster_token);
  if (!membership.ok()) return membership.status();
  const serverpb::Member* self = membership->FindByName(config_.name);
  if (self == nullptr) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "couldn't find local name \"%s\" in the initial cluster configuration", config_.name));
  }
  member_id_ = self->id();
  cluster_id_ = membership->cluster_id();
  membership_ = *std::move(membership);

  absl::Status fresh = StartFreshDataDir(
      membership_->List().size(), " has a backend but no WAL: refusing to start (restore the WAL or wipe the directory)");
  if (!fresh.ok()) return fresh;

  // As etcd: the log starts with one committed ConfChangeAddNode per initial member, in
  // ID order, identical on every member, so a member that later joins (or a follower far
  // behind) learns the initial configuration from the log itself.
  std::vector<raftpb::Entry> entries;
  uint64_t index = 0;
  for (const serverpb::Member& member : membership_->List()) {
    raftpb::ConfChange cc;
    cc.set_type(raftpb::ConfChangeAddNode);
    cc.set_node_id(member.id());
    serverpb::ConfChangeContext context;
    *context.mutable_member() = member;
    cc.set_context(context.SerializeAsString());
    raftpb::Entry& e = entries.emplace_back();
    e.set_term(1);
    e.set_index(++index);
    e.set_type(raftpb::EntryConfChange);
    e.set_data(cc.SerializeAsString());
  }
  raftpb::HardState hs;
  hs.set_term(1);
  hs.set_commit(index);
  absl::Status appended = raft_storage_.Append(entries);
  if (!appended.ok()) return appended;
  raft_storage_.SetHardState(hs);
  // Durable before any Ready of ours: WAL operations complete in order, and nothing we
  // send depends on these entries until the first Ready's own Save completes after them.
  absl::Status saved = wal_->Save(hs, entries, [this](absl::Status s) {
    if (!s.ok()) Fatal(s);
  });
  if (!saved.ok()) return saved;
  return CreateRaftNode(/*applied=*/0);
}

// etcd's `!haveWAL && !cfg.NewCluster`: after `member add`, a new member with an empty
// data directory asks the running cluster who it is, then starts Raft with no entries of
// its own (etcd's raft.StartNode(c, nil)): the leader sends it the log from index 1 (the
// initial members' ConfChanges, then every later one, ours included) or a snapshot, and
// applying them builds its membership exactly as every other member built theirs.
absl::Status ServerImpl::BootstrapJoining() {
  if (!config_.fetch_existing_cluster) {
    return absl::FailedPreconditionError(
        "--initial-cluster-state=existing: no way to ask the running cluster for its members");
  }
  absl::StatusOr<ExistingCluster> existing = config_.fetch_existing_cluster();
  if (!existing.ok()) return existing.status();
  uint64_t self_id = 0;
  auto membership = Membership::Join(config_.initial_cluster, config_.name,
                                     config_.advertise_peer_urls, *existing, &self_id);
  if (!membership.ok()) return membership.status();
  member_id_ = self_id;
  cluster_id_ = membership->cluster_id();
  membership_ = *std::move(membership);

  absl::Status fresh = StartFreshDataDir(
      /*redoable_entries=*/0, " already holds a member's backend but no WAL: refusing to join with it (wipe the "
      "directory to join as a new member)");
  if (!fresh.ok()) return fresh;
  return CreateRaftNode(/*applied=*/0);
}

absl::Status ServerImpl::Recover() {
  auto markers = storage::Wal::ReadSnapshotMarkers(env_->fs(), wal_dir_);
  if (!markers.ok()) return markers.status();
  raftpb::Snapshot snapshot;
  auto loaded = snapshotter_->LoadNewestAvailable(*markers);
  if (loaded.ok()) {
    snapshot = std::move(loaded->snapshot);
  } else if (loaded.status().code() != absl::StatusCode::kNotFound) {
    return loaded.status();
  }
  const storage::WalSnapshot at{snapshot.metadata().index(), snapshot.metadata().term()};
  auto wal = storage::Wal::Open(env_->fs(), wal_dir_, at, WalOptions());
  if (!wal.ok()) return wal.status();
  wal_ = *std::move(wal);
  auto contents = wal_->ReadAll();
  if (!contents.ok()) return contents.status();

  serverpb::WalMetadata metadata;
  if (!metadata.ParseFromString(contents->metadata) || metadata.member_id() == 0) {
    return absl::DataLossError(absl::StrCat("WAL in ", wal_dir_, " has unreadable metadata"));
  }
  member_id_ = metadata.member_id();
  cluster_id_ = metadata.cluster_id();
  if (config_.initial_cluster_state_new) {
    auto expected = Membership::Bootstrap(config_.initial_cluster, config_.initial_cluster_token);
    const serverpb::Member* self = expected.ok() ? expected->FindByName(config_.name) : nullptr;
    if (self != nullptr && self->id() != member_id_) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "data directory %s belongs to member %x, but the flags describe member %x",
          config_.data_dir, member_id_, self->id()));
    }
  }

  absl::Status backend = OpenBackend();
  if (!backend.ok()) return backend;
  if (!raft::IsEmptySnapshot(snapshot)) {
    if (store_->consistent_index() < snapshot.metadata().index()) {
      // Crashed between saving a received snapshot and installing it in the backend.
      auto records = ReadBackendImage(snapshot);
      if (!records.ok()) return records.status();
      absl::Status restored = RestoreBackend(snapshot, *records);
      if (!restored.ok()) return restored;
    }
    snapshot.clear_data();  // the backend holds the state; keep only the metadata around
    absl::Status applied = raft_storage_.ApplySnapshot(snapshot);
    if (!applied.ok()) return applied;
    conf_state_ = snapshot.metadata().conf_state();
    snapshot_index_ = snapshot.metadata().index();
  }
  // A joiner's WAL starts empty by design (it waits for the leader's log): recover it as
  // is, with the join remotes its backend remembers.
  absl::StatusOr<Membership> persisted = Membership::Load(store_->backend());
  const bool joining = persisted.ok() && persisted->joining();
  if (!joining && raft::IsEmptyHardState(contents->hard_state) &&
      raft::IsEmptySnapshot(snapshot)) {
    // The WAL was created but the bootstrap never became durable. Bootstrap saves its
    // ConfChange entries and then its HardState (term 1) as ONE write; every later record
    // follows it and replay keeps a prefix. So no HardState means that write was lost or
    // torn: what survived (nothing, or a prefix of the bootstrap entries, seed 7828) was
    // never committed, applied, acknowledged or voted on. Recovering it as is would leave
    // a member at term 0 that knows no configuration (its ConfChanges are uncommitted),
    // so it could never campaign or be reached: bootstrap again from scratch instead.
    for (const raftpb::Entry& e : contents->entries) {
      if (e.term() != 1 || e.type() != raftpb::EntryConfChange) {
        return absl::DataLossError(absl::StrFormat(
            "WAL in %s has no HardState but entry %d (term %d) is not a bootstrap entry",
            wal_dir_, e.index(), e.term()));
      }
    }
    wal_.reset();    // releases the WAL lock
    store_.reset();  // releases the backend; StartFreshDataDir reopens it (and checks it is empty)
    absl::Status removed = RemoveUnbootstrappedWal();
    if (!removed.ok()) return removed;
    return Bootstrap();
  }
  std::vector<raftpb::Entry> entries = std::move(contents->entries);
  raftpb::HardState hs = HardStateCoveringSnapshot(contents->hard_state, snapshot);
  if (config_.force_new_cluster) {
    // server/force_new_cluster.h: this member alone, its data kept. The removals are
    // durable (WAL writes complete in order) before any Ready of ours is.
    auto standalone =
        MakeStandaloneLog(member_id_, snapshot.metadata().conf_state(), std::move(entries), hs);
    if (!standalone.ok()) return standalone.status();
    absl::Status saved = wal_->Save(standalone->hard_state, standalone->appended,
                                    [this](absl::Status s) {
                                      if (!s.ok()) Fatal(s);
                                    });
    if (!saved.ok()) return saved;
    entries = std::move(standalone->entries);
    hs = standalone->hard_state;
  }
  absl::Status appended = raft_storage_.Append(std::move(entries));
  if (!appended.ok()) return appended;
  raft_storage_.SetHardState(hs);

  absl::Status state = ReloadStateFromBackend();
  if (!state.ok()) return state;
  applied_index_ = snapshot_index_;
  return CreateRaftNode(/*applied=*/snapshot_index_);
}

// A received snapshot is installed (snapshot file, WAL installed marker) before the Save of
// the Ready that carried it, whose HardState (the leader's term, commit at the snapshot)
// may be lost in a crash between the two: the WAL then holds a HardState older than the
// snapshot (keelsim seeds 831 and 876: "hard state commit 15 is out of range [279, 279]",
// a member that could never restart). The snapshot is committed state from a leader of
// at least its term, so its index is committed and its term was reached; a term raised
// here carries no vote (a vote in that term would have been durable before it was sent).
raftpb::HardState ServerImpl::HardStateCoveringSnapshot(raftpb::HardState hs,
                                                        const raftpb::Snapshot& snapshot) {
  if (raft::IsEmptySnapshot(snapshot)) return hs;
  const raftpb::SnapshotMetadata& m = snapshot.metadata();
  if (hs.term() < m.term()) {
    hs.set_term(m.term());
    hs.set_vote(0);
  }
  if (hs.commit() < m.index()) hs.set_commit(m.index());
  return hs;
}

// Removes the segments of a WAL whose bootstrap never became durable, so that Bootstrap
// can create it anew (Wal::Create refuses a directory that holds segments). A crash in
// here leaves either the same undurable WAL (removed again at the next start) or none.
absl::Status ServerImpl::RemoveUnbootstrappedWal() {
  absl::Status removed = storage::RemoveFilesWithSuffix(env_->fs(), wal_dir_, storage::kWalSuffix);
  if (!removed.ok()) return removed;
  return env_->fs()->SyncDir(wal_dir_);
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ServerImpl::ReadBackendImage(
    const raftpb::Snapshot& snapshot) {
  const std::string& name = snapshot.data();
  if (name.empty() || name.find('/') != std::string::npos ||
      !storage::HasSuffix(name, storage::kImageSuffix)) {
    return absl::DataLossError(absl::StrFormat(
        "snapshot at index %d names no backend image", snapshot.metadata().index()));
  }
  auto reader = storage::BackendImageReader::Open(env_->fs(), storage::JoinPath(snap_dir_, name));
  if (!reader.ok()) return reader.status();
  // The whole image is verified (trailer crc) before the caller changes anything. Held
  // in memory because kv::MvccStore::RestoreFromRecords replaces the backend in one
  // atomic batch (see README "Not done yet").
  std::vector<std::pair<std::string, std::string>> records;
  std::string key, value;
  while (true) {
    absl::StatusOr<bool> more = (*reader)->Next(&key, &value);
    if (!more.ok()) return more.status();
    if (!*more) break;
    records.emplace_back(std::move(key), std::move(value));
  }
  return records;
}

absl::Status ServerImpl::RestoreBackend(
    const raftpb::Snapshot& snapshot,
    const std::vector<std::pair<std::string, std::string>>& records) {
  absl::Status restored = store_->RestoreFromRecords(records);
  if (!restored.ok()) return restored;
  if (store_->consistent_index() < snapshot.metadata().index()) {
    return absl::DataLossError(absl::StrFormat(
        "snapshot at index %d holds a backend at consistent index %d", snapshot.metadata().index(),
        store_->consistent_index()));
  }
  // Durable before the image that holds it may be removed.
  return store_->Sync();
}

void ServerImpl::CreateSnapshotTransfers() {
  SnapshotTransferOptions options;
  options.stall_timeout_ns =
      std::max<int64_t>(4 * config_.election_timeout_ms, 1000) * 1'000'000;
  options.max_outgoing = config_.max_outgoing_snapshots;
  options.chunk_bytes = config_.snapshot_chunk_bytes;
  // BUGGIFY: the sender cuts images into tiny chunks (many acks, stalls and duplicates per
  // transfer). Only the sender: a receiver refuses chunks far above its own size.
  SnapshotTransferOptions sender_options = options;
  if (KEEL_BUGGIFY("snapshot.chunk_1kib")) sender_options.chunk_bytes = std::min<size_t>(options.chunk_bytes, 1024);
  auto send = [this](uint64_t to, const serverpb::PeerMessage& m) { SendPeer(to, m); };
  snapshot_sender_ = std::make_unique<SnapshotSender>(
      loop_, env_->fs(), snap_dir_, sender_options, send,
      [this](uint64_t to, bool ok) {
        if (raft_ == nullptr) return;
        raft_->ReportSnapshot(to, ok);
        MaybeProcessReady();
      },
      &snapshot_stats_);
  snapshot_receiver_ = std::make_unique<SnapshotReceiver>(
      loop_, env_->fs(), snap_dir_, options, send,
      [this](raftpb::Message m) { StepReceivedSnapshot(std::move(m)); }, &snapshot_stats_);
}

absl::Status ServerImpl::ReloadStateFromBackend() {
  auto membership = Membership::Load(store_->backend());
  if (!membership.ok()) return membership.status();
  membership_ = *std::move(membership);
  if (membership_->cluster_id() != cluster_id_) {
    return absl::DataLossError(absl::StrFormat("backend belongs to cluster %x, WAL to cluster %x",
                                               membership_->cluster_id(), cluster_id_));
  }
  auto alarms = Alarms::Load(store_->backend());
  if (!alarms.ok()) return alarms.status();
  alarms_ = *std::move(alarms);
  auto leases = LoadLeases(store_->backend());
  if (!leases.ok()) return leases.status();
  if (lessor_ == nullptr) {
    kv::LessorOptions options;
    // etcd: a lease must outlive an election, so the minimum TTL is 3 election timeouts.
    options.min_ttl_seconds =
        std::max<int64_t>(1, (3 * config_.election_timeout_ms + 999) / 1000);
    lessor_ = std::make_unique<kv::Lessor>(options);
    lessor_hooks_ = std::make_unique<LessorHooks>(lessor_.get());
  }
  lessor_->Restore(*leases);
  lessor_hooks_->tolerate_dangling_leases = config_.bugs.on(env::Bug::kServerLeaseRevokeKeepsKey);
  store_->SetLeaseHooks(lessor_hooks_.get());
  auto auth = AuthStore::Load(&store_->backend());
  if (!auth.ok()) return auth.status();
  auth_ = *std::move(auth);
  applier_ = std::make_unique<Applier>(store_.get(), lessor_.get(), &*alarms_, &*membership_,
                                       auth_.get(), tokens_.get(), config_.jwt_tokens.get());
  applier_->set_bugs(config_.bugs);
  return absl::OkStatus();
}

absl::Status ServerImpl::CreateRaftNode(uint64_t applied) {
  raft::Config c;
  c.id = member_id_;
  c.election_tick = election_ticks_;
  c.heartbeat_tick = 1;
  c.storage = &raft_storage_;
  c.applied = applied;
  c.max_size_per_msg = 1 << 20;
  // BUGGIFY: Raft's flow control at its tightest, one MsgApp in flight per follower.
  c.max_inflight_msgs = KEEL_BUGGIFY("raft.max_inflight_one") ? 1 : 512;
  c.max_uncommitted_entries_size = 1 << 30;
  c.check_quorum = config_.check_quorum;
  c.pre_vote = config_.pre_vote;
  c.logger = config_.debug_log;
  raft_random_ = std::make_unique<RngRandomSource>(env_->NewRng("raft.election"));
  c.bugs = config_.bugs;
  if (config_.sim_max_size_per_msg > 0) c.max_size_per_msg = config_.sim_max_size_per_msg;
  c.random = raft_random_.get();
  auto node = raft::RawNode::Create(std::move(c));
  if (!node.ok()) return node.status();
  raft_ = *std::move(node);
  return absl::OkStatus();
}

void ServerImpl::LearnRemote(uint64_t from, const std::string& peer_url) {
  // etcd's addRemoteFromRequest: a sender this member's membership does not list yet (it
  // joined while this member was down) becomes a remote, so answers reach it. Listed
  // members already have their address; removed ones are never answered.
  if (from == member_id_ || membership_->Find(from) != nullptr || membership_->IsRemoved(from)) return;
  // Re-adding a peer with the same address is a no-op for the transport.
  env_->transport()->AddPeer(from, HostPort(peer_url));
}

void ServerImpl::ConnectPeers() {
  env_->transport()->SetHandler(this);
  for (const serverpb::Member& member : membership_->List()) {
    if (member.id() == member_id_ || member.peer_urls().empty()) continue;
    env_->transport()->AddPeer(member.id(), HostPort(member.peer_urls(0)));
  }
  if (membership_->Find(member_id_) == nullptr) {
    // Joining (or restored to a snapshot from before our addition): until the log adds
    // us, answer the members that answered our query (etcd's "remotes"). Re-adding a
    // peer with the same address is a no-op for the transport.
    for (const serverpb::Member& remote : membership_->join_remotes()) {
      if (remote.id() == member_id_ || remote.peer_urls().empty()) continue;
      if (membership_->Find(remote.id()) != nullptr || membership_->IsRemoved(remote.id())) continue;
      env_->transport()->AddPeer(remote.id(), HostPort(remote.peer_urls(0)));
    }
  }
}

}  // namespace keel::server
