// keelctl snapshot status / snapshot restore: etcdctl 3.4's offline snapshot commands over
// a backup file saved from keeld (`etcdctl snapshot save` or `keelctl snapshot save`).
// The work is server/restore.h's; this file is flags, output and exit codes.
#include "client/keelctl/commands_backup.h"

#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/notification.h"
#include "client/keelctl/text_format.h"
#include "env/leveldb_env.h"
#include "env/posix_env.h"
#include "node/url.h"
#include "server/restore.h"

namespace keel::client::keelctl {
namespace {

std::unique_ptr<env::PosixEnv> FileEnv() {
  auto env = env::PosixEnv::Create(env::PosixEnv::Options());
  if (!env.ok()) Fail(kExitError, env.status().message());
  return *std::move(env);
}

void Status(const std::vector<std::string>& args, Format format) {
  if (args.size() != 1) Fail(kExitBadArgs, "snapshot status requires exactly one argument");
  std::unique_ptr<env::PosixEnv> env = FileEnv();
  // etcdctl's status does not check the hash; ours verifies it when the file has one,
  // so a damaged backup is found before anyone relies on it.
  absl::StatusOr<server::Backup> backup =
      server::ReadBackup(env->fs(), args[0], /*skip_hash_check=*/true);
  if (backup.ok() && backup->has_hash) {
    backup = server::ReadBackup(env->fs(), args[0], /*skip_hash_check=*/false);
  }
  if (!backup.ok()) FailOn(backup.status());
  const server::BackupStatus s = server::SummarizeBackup(*backup);
  switch (format) {
    case Format::kJson:
      std::cout << absl::StrFormat("{\"hash\":%d,\"revision\":%d,\"totalKey\":%d,\"totalSize\":%d}\n",
                                   s.hash, s.revision, s.total_keys, s.total_size);
      return;
    case Format::kTable:
      std::cout << RenderTable({"hash", "revision", "total keys", "total size"},
                               {{absl::StrFormat("%x", s.hash), absl::StrCat(s.revision),
                                 absl::StrCat(s.total_keys), HumanBytes(s.total_size)}});
      return;
    case Format::kSimple:
      std::cout << absl::StrFormat("%x, %d, %d, %s\n", s.hash, s.revision, s.total_keys,
                                   HumanBytes(s.total_size));
      return;
  }
}

// "a=http://x:1,b=http://y:2" with URLs normalized as keeld normalizes --initial-cluster, so
// the member IDs derived here are the ones keeld derives from the same flags.
std::vector<server::PeerConfig> ParseInitialCluster(const std::string& text) {
  std::vector<server::PeerConfig> peers;
  for (absl::string_view entry : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(entry, absl::MaxSplits('=', 1));
    const std::string name(absl::StripAsciiWhitespace(kv.first));
    absl::StatusOr<node::Url> url = node::ParseUrl(absl::StripAsciiWhitespace(kv.second));
    if (name.empty() || !url.ok()) {
      Fail(kExitError, absl::StrCat("invalid --initial-cluster \"", text, "\""));
    }
    server::PeerConfig* peer = nullptr;
    for (server::PeerConfig& p : peers) {
      if (p.name == name) peer = &p;
    }
    if (peer == nullptr) peer = &peers.emplace_back(server::PeerConfig{name, {}});
    peer->peer_urls.push_back(url->ToString());
  }
  return peers;
}

std::vector<std::string> ParseUrls(const std::string& text) {
  absl::StatusOr<std::vector<node::Url>> urls = node::ParseUrlList(text);
  if (!urls.ok()) Fail(kExitError, urls.status().message());
  std::vector<std::string> out;
  for (const node::Url& url : *urls) out.push_back(url.ToString());
  return out;
}

struct RestoreFlags {
  std::string data_dir;
  std::string wal_dir;
  std::string name = "default";
  std::string initial_cluster = "default=http://localhost:2380";
  std::string initial_cluster_token = "etcd-cluster";
  std::string advertise_peer_urls = "http://localhost:2380";
  bool skip_hash_check = false;
};

void Restore(const std::vector<std::string>& args, const RestoreFlags& f) {
  if (args.size() != 1) Fail(kExitBadArgs, "snapshot restore requires exactly one argument");
  server::RestoreOptions o;
  o.backup_path = args[0];
  o.name = f.name;
  o.initial_cluster = ParseInitialCluster(f.initial_cluster);
  o.initial_cluster_token = f.initial_cluster_token;
  o.advertise_peer_urls = ParseUrls(f.advertise_peer_urls);
  o.data_dir = f.data_dir;
  o.wal_dir = f.wal_dir;
  o.skip_hash_check = f.skip_hash_check;

  std::unique_ptr<env::PosixEnv> env = FileEnv();
  env::LevelDbEnv::Options ldb;
  ldb.fs = env->fs();
  env::Loop* loop = env->loop();
  ldb.now_micros = [loop] { return static_cast<uint64_t>(loop->NowNanos() / 1000); };
  auto leveldb = env::LevelDbEnv::Create(std::move(ldb));
  if (!leveldb.ok()) Fail(kExitError, leveldb.status().message());
  o.leveldb_env = leveldb->get();

  std::optional<absl::StatusOr<server::RestoreResult>> result;
  absl::Notification finished;
  loop->Post([&, env_ptr = env.get()]() mutable {
    server::RestoreBackup(env_ptr, std::move(o), [&](absl::StatusOr<server::RestoreResult> r) {
      result = std::move(r);
      finished.Notify();
    });
  });
  finished.WaitForNotification();
  if (!result->ok()) FailOn(result->status());
  const server::RestoreResult& r = **result;
  // etcdctl logs what it restored as a JSON line on stderr; stdout stays empty.
  std::cerr << absl::StrFormat(
      "{\"level\":\"info\",\"msg\":\"restored snapshot\",\"path\":\"%s\",\"wal-dir\":\"%s\","
      "\"data-dir\":\"%s\",\"snap-dir\":\"%s/member/snap\",\"member-id\":\"%x\","
      "\"cluster-id\":\"%x\",\"revision\":%d}\n",
      args[0], r.wal_dir, r.data_dir, r.data_dir, r.member_id, r.cluster_id, r.revision);
}

}  // namespace

void AddSnapshotFileCommands(CLI::App& snapshot, Context& ctx) {
  auto args = std::make_shared<std::vector<std::string>>();
  auto status = snapshot.add_subcommand("status", "Gets backend snapshot status of a given file");
  status->add_option("filename", *args);
  status->callback([args, &ctx] { Status(*args, ctx.format()); });

  auto flags = std::make_shared<RestoreFlags>();
  auto restore = snapshot.add_subcommand(
      "restore", "Restores an etcd member snapshot to an etcd directory");
  restore->add_option("filename", *args);
  restore->add_option("--data-dir", flags->data_dir, "Path to the data directory");
  restore->add_option("--wal-dir", flags->wal_dir,
                      "Path to the WAL directory (use --data-dir if none given)");
  restore->add_option("--name", flags->name, "Human-readable name for this member");
  restore->add_option("--initial-cluster", flags->initial_cluster,
                      "Initial cluster configuration for restore bootstrap");
  restore->add_option("--initial-cluster-token", flags->initial_cluster_token,
                      "Initial cluster token for the etcd cluster during restore bootstrap");
  restore->add_option("--initial-advertise-peer-urls", flags->advertise_peer_urls,
                      "List of this member's peer URLs to advertise to the rest of the cluster");
  restore->add_flag("--skip-hash-check", flags->skip_hash_check,
                    "Ignore snapshot integrity hash value (required if copied from data directory)");
  restore->callback([args, flags] { Restore(*args, *flags); });
}

}  // namespace keel::client::keelctl
