// Backups restored on a simulated 3-member cluster: a backup taken with Server::Snapshot
// (what keeld streams for `etcdctl snapshot save`, plus the SHA-256 trailer keeld
// appends) is restored into every member's wiped data directory; the members start on
// it, elect a leader and serve exactly the saved keys at the saved revision, with equal
// HashKV, and take new writes. Damaged files are refused with etcd's messages.
#include "server/restore.h"

#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "env/leveldb_env.h"
#include "gtest/gtest.h"
#include "openssl/sha.h"
#include "sim/cluster/cluster.h"
#include "sim/cluster/scenario.h"
#include "sim/world.h"

namespace keel::server {
namespace {

constexpr int64_t kMs = 1'000'000;

// What sim/cluster/cluster.cc gives its members (token "keelsim", n<i+1>, 127.0.0.1:2380i).
std::vector<PeerConfig> SimInitialCluster(int nodes) {
  std::vector<PeerConfig> peers;
  for (int i = 0; i < nodes; ++i) {
    peers.push_back({absl::StrCat("n", i + 1), {absl::StrFormat("http://127.0.0.1:%d", 23800 + i)}});
  }
  return peers;
}

absl::Status WriteFile(env::FileSystem* fs, const std::string& path, const std::string& bytes) {
  auto file = fs->NewWritableFile(path);
  if (!file.ok()) return file.status();
  absl::Status s = (*file)->Append(bytes);
  if (s.ok()) s = (*file)->Sync();
  if (s.ok()) s = (*file)->Close();
  return s;
}

absl::Status RemoveTree(env::FileSystem* fs, const std::string& path) {
  if (fs->RemoveFile(path).ok()) return absl::OkStatus();
  auto children = fs->GetChildren(path);
  if (!children.ok()) return children.status();
  for (const std::string& child : *children) {
    absl::Status removed = RemoveTree(fs, path + "/" + child);
    if (!removed.ok()) return removed;
  }
  return fs->RemoveDir(path);
}

class RestoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    scenario_.seed = 5;
    scenario_.nodes = 3;
    scenario_.heartbeat_ms = 10;
    scenario_.election_ms = 100;
    scenario_.snapshot_count = 30;  // the source cluster has snapshotted and compacted
    scenario_.network.drop_probability = 0;
    scenario_.network.duplicate_probability = 0;
    auto cluster = sim::SimCluster::Create(&world_, scenario_);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
    WaitForLeader();
  }
  void TearDown() override { cluster_.reset(); }

  void Run(int64_t ns) { world_.RunUntil(world_.now_ns() + ns); }
  void WaitForLeader() {
    for (int i = 0; i < 300 && cluster_->Leader() < 0; ++i) Run(10 * kMs);
    ASSERT_GE(cluster_->Leader(), 0) << "no leader elected";
  }

  // Runs `call(server, done)` on member i's loop until `done` delivered a result.
  template <typename Response, typename Call>
  absl::StatusOr<Response> OnLoop(int i, Call call) {
    std::optional<absl::StatusOr<Response>> result;
    ServerImpl* s = cluster_->server(i);
    cluster_->env(i).loop()->Post([&, s]() {
      call(s, [&](absl::StatusOr<Response> r) { result = std::move(r); });
    });
    for (int step = 0; step < 1'000'000 && !result.has_value(); ++step) {
      if (!world_.Step()) break;
    }
    if (!result.has_value()) return absl::InternalError("no answer");
    return *std::move(result);
  }
  absl::Status Put(int i, const std::string& key, const std::string& value) {
    etcdserverpb::PutRequest put;
    put.set_key(key);
    put.set_value(value);
    return OnLoop<etcdserverpb::PutResponse>(i, [&](ServerImpl* s, auto done) {
                 s->Put(put, std::move(done));
               })
        .status();
  }
  absl::StatusOr<etcdserverpb::RangeResponse> All(int i) {
    etcdserverpb::RangeRequest range;
    range.set_key(std::string(1, '\0'));
    range.set_range_end(std::string(1, '\0'));
    range.set_serializable(true);
    return OnLoop<etcdserverpb::RangeResponse>(
        i, [&](ServerImpl* s, auto done) { s->Range(range, std::move(done)); });
  }
  absl::StatusOr<uint32_t> Hash(int i) {
    auto r = OnLoop<etcdserverpb::HashKVResponse>(i, [&](ServerImpl* s, auto done) {
      s->HashKV(etcdserverpb::HashKVRequest(), std::move(done));
    });
    if (!r.ok()) return r.status();
    return r->hash();
  }

  // Server::Snapshot's stream plus the trailer keeld's Maintenance service appends.
  std::string TakeBackup(int i) {
    std::string bytes;
    cluster_->env(i).loop()->Post([&]() {
      auto reader = cluster_->server(i)->Snapshot();
      EXPECT_TRUE(reader.ok()) << reader.status();
      if (!reader.ok()) return;
      uint64_t remaining = 1;
      while (remaining > 0) {
        auto chunk = (*reader)->Next(4096, &remaining);
        EXPECT_TRUE(chunk.ok());
        if (!chunk.ok()) return;
        bytes += *chunk;
      }
    });
    Run(kMs);
    unsigned char sha[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), sha);
    bytes.append(reinterpret_cast<const char*>(sha), sizeof(sha));
    return bytes;
  }

  // Member i crashed and its process up again (no server): the operator's hands.
  absl::StatusOr<RestoreResult> RestoreInto(int i, RestoreOptions options) {
    env::FileSystem* fs = cluster_->env(i).fs();
    env::LevelDbEnv::Options ldb;
    ldb.fs = fs;
    ldb.background = env::LevelDbEnv::BackgroundMode::kQueued;
    env::Loop* loop = cluster_->env(i).loop();
    ldb.now_micros = [loop]() { return static_cast<uint64_t>(loop->NowNanos() / 1000); };
    auto leveldb = env::LevelDbEnv::Create(std::move(ldb));
    if (!leveldb.ok()) return leveldb.status();
    env::LevelDbEnv* raw = leveldb->get();
    options.leveldb_env = raw;
    options.after_db_call = [raw]() { raw->RunQueuedWork(); };
    std::optional<absl::StatusOr<RestoreResult>> result;
    loop->Post([&, env = &cluster_->env(i)]() {
      RestoreBackup(env, std::move(options),
                    [&](absl::StatusOr<RestoreResult> r) { result = std::move(r); });
    });
    for (int step = 0; step < 1'000'000 && !result.has_value(); ++step) {
      if (!world_.Step()) break;
    }
    Run(kMs);  // the Wal is released after done
    if (!result.has_value()) return absl::InternalError("restore never finished");
    return *std::move(result);
  }

  RestoreOptions OptionsFor(int i) {
    RestoreOptions o;
    o.backup_path = "/backup.db";
    o.name = absl::StrCat("n", i + 1);
    o.initial_cluster = SimInitialCluster(3);
    o.initial_cluster_token = "keelsim";
    o.advertise_peer_urls = o.initial_cluster[i].peer_urls;
    o.data_dir = "/data";
    return o;
  }

  sim::World world_{5};
  sim::Scenario scenario_;
  std::unique_ptr<sim::SimCluster> cluster_;
};

TEST_F(RestoreTest, RestoredClusterServesExactlyTheSavedDataAtTheSavedRevision) {
  const int leader = cluster_->Leader();
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(Put(leader, absl::StrCat("k", i % 20), absl::StrCat(i)).ok());
  auto saved = All(leader);
  ASSERT_TRUE(saved.ok()) << saved.status();
  auto saved_hash = Hash(leader);
  ASSERT_TRUE(saved_hash.ok());
  const std::string backup = TakeBackup(leader);
  ASSERT_EQ(backup.size() % 512, 32u);

  // Writes after the backup must not survive the restore.
  ASSERT_TRUE(Put(leader, "after-backup", "x").ok());
  for (int i = 0; i < 3; ++i) {
    cluster_->Crash(i);
    cluster_->env(i).Restart();
    env::FileSystem* fs = cluster_->env(i).fs();
    ASSERT_TRUE(RemoveTree(fs, "/data").ok());
    ASSERT_TRUE(WriteFile(fs, "/backup.db", backup).ok());
    auto backup_read = ReadBackup(fs, "/backup.db", false);
    ASSERT_TRUE(backup_read.ok()) << backup_read.status();
    const BackupStatus status = SummarizeBackup(*backup_read);
    EXPECT_EQ(status.revision, saved->header().revision());
    EXPECT_EQ(status.total_size, backup.size() - 32);
    EXPECT_GT(status.total_keys, 20u);

    auto restored = RestoreInto(i, OptionsFor(i));
    ASSERT_TRUE(restored.ok()) << restored.status();
    EXPECT_EQ(restored->member_id, cluster_->member_id(i));  // etcd's IDs from the same flags
    EXPECT_EQ(restored->revision, saved->header().revision());
    EXPECT_EQ(restored->consistent_index, 3u);
    ASSERT_TRUE(cluster_->Restart(i).ok()) << cluster_->refusal(i);
  }
  WaitForLeader();
  for (int i = 0; i < 3; ++i) {
    auto now = All(i);
    ASSERT_TRUE(now.ok()) << now.status();
    EXPECT_EQ(now->header().revision(), saved->header().revision()) << "member " << i;
    ASSERT_EQ(now->kvs_size(), saved->kvs_size());
    for (int k = 0; k < now->kvs_size(); ++k) {
      EXPECT_EQ(now->kvs(k).SerializeAsString(), saved->kvs(k).SerializeAsString());
    }
    auto hash = Hash(i);
    ASSERT_TRUE(hash.ok());
    EXPECT_EQ(*hash, *saved_hash) << "member " << i;
    // Raft restarted from the restore's snapshot at index 3 (three voters), not from a log.
    EXPECT_EQ(cluster_->server(i)->raft_log().FirstIndex().value_or(0), 4u);
  }
  // The new cluster takes writes at the next revision, replicated to all.
  ASSERT_TRUE(Put(cluster_->Leader(), "new", "v").ok());
  Run(200 * kMs);
  for (int i = 0; i < 3; ++i) {
    auto now = All(i);
    ASSERT_TRUE(now.ok());
    EXPECT_EQ(now->header().revision(), saved->header().revision() + 1);
  }
}

TEST_F(RestoreTest, DamagedOrTruncatedBackupsAndBadFlagsAreRefused) {
  ASSERT_TRUE(Put(cluster_->Leader(), "k", "v").ok());
  const std::string backup = TakeBackup(cluster_->Leader());
  cluster_->Crash(0);
  cluster_->env(0).Restart();
  env::FileSystem* fs = cluster_->env(0).fs();

  std::string flipped = backup;
  flipped[40] ^= 0x01;
  ASSERT_TRUE(WriteFile(fs, "/flipped.db", flipped).ok());
  auto read = ReadBackup(fs, "/flipped.db", false);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StartsWith(read.status().message(), "expected sha256 [")) << read.status();

  ASSERT_TRUE(WriteFile(fs, "/short.db", backup.substr(0, backup.size() - 100)).ok());
  read = ReadBackup(fs, "/short.db", false);
  EXPECT_EQ(read.status().message(), "snapshot missing hash but --skip-hash-check=false");

  // Cut to a length that still looks like "data + trailer": the payload is incomplete.
  ASSERT_TRUE(WriteFile(fs, "/cut.db", backup.substr(0, 32 + 32)).ok());
  read = ReadBackup(fs, "/cut.db", /*skip_hash_check=*/true);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss) << read.status();

  read = ReadBackup(fs, "/missing.db", false);
  EXPECT_EQ(read.status().message(), "open /missing.db: no such file or directory");

  ASSERT_TRUE(WriteFile(fs, "/backup.db", backup).ok());
  auto refused = RestoreInto(0, OptionsFor(0));  // /data still holds the old member
  EXPECT_EQ(refused.status().message(), "data-dir \"/data\" exists");
  RestoreOptions stranger = OptionsFor(0);
  stranger.name = "zz";
  stranger.data_dir = "/fresh";
  refused = RestoreInto(0, stranger);
  EXPECT_EQ(refused.status().message(),
            "couldn't find local name \"zz\" in the initial cluster configuration");
  RestoreOptions moved = OptionsFor(0);
  moved.data_dir = "/fresh";
  moved.advertise_peer_urls = {"http://127.0.0.1:9"};
  refused = RestoreInto(0, moved);
  EXPECT_EQ(refused.status().message(),
            "--initial-cluster has n1=http://127.0.0.1:23800 but missing from "
            "--initial-advertise-peer-urls=http://127.0.0.1:9");
  EXPECT_FALSE(fs->FileExists("/fresh"));  // nothing written for a refused restore
}

}  // namespace
}  // namespace keel::server
