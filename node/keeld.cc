#include "node/keeld.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/resource_quota.h"
#include "grpcpp/server_posix.h"
#include "node/auth_crypto_pool.h"
#include "base/check.h"
#include "node/client_identity.h"
#include "node/cluster_join.h"
#include "node/initial_corrupt_check.h"
#include "node/grpc/auth_service.h"
#include "node/grpc/cluster_service.h"
#include "node/grpc/election_service.h"
#include "node/grpc/kv_service.h"
#include "node/grpc/lease_service.h"
#include "node/grpc/lock_service.h"
#include "node/grpc/maintenance_service.h"
#include "node/grpc/watch_service.h"
#include "node/jwt_tokens.h"

namespace keel::node {
namespace {

// etcd adds this to --max-request-bytes for gRPC framing (embed/serve.go).
constexpr int kGrpcOverheadBytes = 512 * 1024;
// gRPC's memory quota for all connections' buffers: past it gRPC stops reading from
// sockets (TCP pushes back on clients) instead of growing.
constexpr size_t kGrpcMemoryQuotaBytes = size_t{512} << 20;

// gRPC's channel arguments are ints.
int ClampToInt(int64_t v) { return static_cast<int>(std::min<int64_t>(v, INT32_MAX)); }

// How long gRPC's shutdown lets streams (watches, keep-alives) end on their own before
// cancelling them.
constexpr int64_t kGrpcShutdownGraceMs = 1000;
// How long a joining member waits for each running member's answer to its membership
// query (etcd allows 10 s for the whole round; we ask peers one after another).
constexpr int64_t kJoinQueryTimeoutMs = 3000;

// Failpoints (keeld.h).
constexpr char kLoseUnsyncedVar[] = "KEEL_FAILPOINT_LOSE_UNSYNCED";
constexpr char kLevelDbPosixEnvSyncVar[] = "KEEL_FAILPOINT_LEVELDB_POSIXENV_SYNC";

// An Env that is `base` with other files: what the server core sees under the
// lose-unsynced failpoint.
class FileSystemOverrideEnv final : public env::Env {
 public:
  FileSystemOverrideEnv(env::Env* base, env::FileSystem* fs) : base_(base), fs_(fs) {}
  env::Loop* loop() override { return base_->loop(); }
  env::FileSystem* fs() override { return fs_; }
  env::Transport* transport() override { return base_->transport(); }
  env::Rng NewRng(std::string_view purpose) override { return base_->NewRng(purpose); }
  int64_t WallClockMillis() override { return base_->WallClockMillis(); }

 private:
  env::Env* const base_;
  env::FileSystem* const fs_;
};

bool WalExists(env::FileSystem* fs, const ServerFlags& flags) {
  const std::string dir =
      flags.wal_dir.empty() ? absl::StrCat(flags.data_dir, "/member/wal") : flags.wal_dir;
  absl::StatusOr<std::vector<std::string>> children = fs->GetChildren(dir);
  if (!children.ok()) return false;
  for (const std::string& name : *children) {
    if (absl::EndsWith(name, ".wal")) return true;
  }
  return false;
}

std::optional<std::string> Failpoint(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || value[0] == '\0') return std::nullopt;
  return std::string(value);
}

}  // namespace

server::ServerConfig MakeServerConfig(const KeeldConfig& config) {
  const ServerFlags& f = config.server;
  server::ServerConfig s;
  s.name = f.name;
  s.data_dir = f.data_dir;
  s.advertise_client_urls = f.advertise_client_urls;
  s.advertise_peer_urls = f.advertise_peer_urls;
  for (const Member& member : f.initial_cluster) {
    s.initial_cluster.push_back(server::PeerConfig{member.name, member.peer_urls});
  }
  s.initial_cluster_token = f.initial_cluster_token;
  s.initial_cluster_state_new = f.initial_cluster_state_new;
  // Used by the core only when joining (state existing, no WAL yet); blocks Open for at
  // most kJoinQueryTimeoutMs per remote peer URL.
  s.fetch_existing_cluster = [initial_cluster = s.initial_cluster, name = f.name] {
    return FetchExistingCluster(initial_cluster, name, kJoinQueryTimeoutMs);
  };
  s.heartbeat_interval_ms = f.heartbeat_interval_ms;
  s.election_timeout_ms = f.election_timeout_ms;
  s.snapshot_count = f.snapshot_count;
  s.max_snapshots = f.max_snapshots;
  s.max_wals = f.max_wals;
  s.quota_backend_bytes = f.quota_backend_bytes;
  s.max_request_bytes = f.max_request_bytes;
  s.max_txn_ops = f.max_txn_ops;
  s.request_timeout_ms = f.request_timeout_ms;
  s.wal_dir = f.wal_dir;
  s.force_new_cluster = f.force_new_cluster;
  s.pre_vote = f.pre_vote;
  s.strict_reconfig_check = f.strict_reconfig_check;
  s.auto_compaction_periodic = f.auto_compaction_periodic;
  s.auto_compaction_retention_ns = f.auto_compaction_retention_ns;
  s.auto_compaction_retention_revisions = f.auto_compaction_retention_revisions;
  s.corrupt_check_time_ms = f.corrupt_check_time_ms;
  s.warn_log = [name = f.name](std::string_view line) {
    std::string out = absl::StrCat("keeld ", name, ": WARNING: ", std::string(line), "\n");
    std::fwrite(out.data(), 1, out.size(), stderr);
  };
  s.bcrypt_cost = static_cast<int>(f.bcrypt_cost);
  s.auth_token_ttl_ms = f.auth_token_ttl_s * 1000;
  if (config.log_level == LogLevel::kDebug) {
    // --log-level=debug: the core's debug log (server/README.md), one fwrite per line on
    // unbuffered stderr so no other output splits a line.
    s.debug_log = [name = f.name](std::string_view line) {
      const absl::Time now = absl::Now();
      std::string out = absl::StrCat(absl::FormatTime("%H:%M:%E3S", now, absl::UTCTimeZone()),
                                     " keeld ", name, ": ", std::string(line), "\n");
      std::fwrite(out.data(), 1, out.size(), stderr);
    };
  }
  return s;
}

absl::StatusOr<std::unique_ptr<Keeld>> Keeld::Start(
    const KeeldConfig& config, std::function<void(const absl::Status&)> on_fatal) {
  std::unique_ptr<Keeld> keeld(new Keeld());
  // TLS first: bad cipher names and unreadable certificates fail the start before any
  // port is bound (etcd's order); --auto-tls writes into the data dir.
  absl::StatusOr<TlsContexts> tls = MakeTlsContexts(config);
  if (!tls.ok()) return tls.status();
  keeld->tls_ = *std::move(tls);

  env::PosixEnv::Options env_options;
  env::TcpTransport::Options transport;
  // The member ID is known only once the data directory is read (a restarted or joining
  // member's comes from its WAL or from the running cluster): the transport starts without
  // one and OpenServer sets it before anything is sent.
  transport.self_id = 0;
  KEEL_CHECK(!config.listen_peer_urls.empty());
  transport.listen_address = config.listen_peer_urls.front().HostPort();
  transport.tls_server = keeld->tls_.peer_server;
  // The core names peers by host:port; the cluster's peer URLs share one scheme, ours.
  if (keeld->tls_.peer_server != nullptr) transport.tls_client = keeld->tls_.peer_client;
  env_options.transport = transport;
  absl::StatusOr<std::unique_ptr<env::PosixEnv>> env = env::PosixEnv::Create(env_options);
  if (!env.ok()) return env.status();
  keeld->env_ = *std::move(env);
  if (std::optional<std::string> setting = Failpoint(kLoseUnsyncedVar)) {
    absl::Status started = keeld->StartLoseUnsyncedFailpoint(*setting);
    if (!started.ok()) return started;
  }

  env::LevelDbEnv::Options leveldb_options;
  leveldb_options.fs = keeld->core_env()->fs();
  if (std::optional<std::string> setting = Failpoint(kLevelDbPosixEnvSyncVar)) {
    std::fprintf(stderr,
                 "keeld: WARNING: failpoint %s=%s: LevelDB uses PosixEnv's sync rule, which "
                 "loses synced writes on power loss (test only)\n",
                 kLevelDbPosixEnvSyncVar, setting->c_str());
    leveldb_options.sync_rule = env::LevelDbEnv::SyncRule::kPosixEnv;
  }
  leveldb_options.background = env::LevelDbEnv::BackgroundMode::kThread;
  env::Loop* loop = keeld->env_->loop();
  leveldb_options.now_micros = [loop] { return static_cast<uint64_t>(loop->NowNanos() / 1000); };
  absl::StatusOr<std::unique_ptr<env::LevelDbEnv>> leveldb_env =
      env::LevelDbEnv::Create(leveldb_options);
  if (!leveldb_env.ok()) return leveldb_env.status();
  keeld->leveldb_env_ = *std::move(leveldb_env);

  // etcd's memberInitialized: only a member restarting from its WAL is checked.
  const bool member_initialized = WalExists(keeld->env_->fs(), config.server);
  absl::Status opened = keeld->OpenServer(config, std::move(on_fatal));
  if (!opened.ok()) return opened;
  if (config.server.initial_corrupt_check && member_initialized) {
    absl::Status consistent = keeld->CheckInitialCorruption(config);
    if (!consistent.ok()) return consistent;
  }
  absl::Status grpc = keeld->StartGrpc(config);
  if (!grpc.ok()) return grpc;
  // /health and /metrics: on --listen-metrics-urls (if any) and on the client port, with
  // etcd's JSON gateway and /version on the client port only.
  absl::StatusOr<HttpEndpoints::ClientPortExtension> gateway = keeld->StartGateway(config);
  if (!gateway.ok()) return gateway.status();
  absl::StatusOr<std::unique_ptr<HttpEndpoints>> http =
      HttpEndpoints::Start(config.listen_metrics_urls, loop, keeld->server_.get(),
                           &keeld->node_metrics_, 1000, *std::move(gateway));
  if (!http.ok()) return http.status();
  keeld->http_ = *std::move(http);
  grpc::Server* grpc_server = keeld->grpc_server_.get();
  HttpEndpoints* endpoints = keeld->http_.get();
  auto to_grpc = [grpc_server](int fd) { grpc::AddInsecureChannelFromFd(grpc_server, fd); };
  auto to_http = [endpoints](int fd) { endpoints->ServeConnection(fd); };
  ClientListener::Handoff to_tls;
  if (keeld->tls_.client_server != nullptr) {
    // https client URLs: TLS terminated, then the same two hand-overs (tls_terminator.h).
    keeld->tls_terminator_ = std::make_unique<TlsTerminator>(
        keeld->tls_.client_server, TlsTerminator::Options(), to_grpc, to_http);
    to_tls = [terminator = keeld->tls_terminator_.get()](int fd) { terminator->Serve(fd); };
  }
  // gRPC takes a plaintext socket as if it had accepted it: no proxy hop.
  keeld->client_listener_->Start(to_grpc, to_http, to_tls);
  server::Server* server = keeld->server_.get();
  keeld->RunOnLoop([server] { server->Start(); });
  return keeld;
}

absl::Status Keeld::StartLoseUnsyncedFailpoint(const std::string& setting) {
  // "<journal path>[:<seed>]": a trailing ":<digits>" is the torn-write seed.
  std::string journal = setting;
  std::optional<uint64_t> seed;
  const size_t colon = setting.rfind(':');
  uint64_t parsed = 0;
  if (colon != std::string::npos && absl::SimpleAtoi(setting.substr(colon + 1), &parsed)) {
    journal = setting.substr(0, colon);
    seed = parsed;
  }
  std::fprintf(stderr,
               "keeld: WARNING: failpoint %s=%s: unsynced writes are dropped at the next "
               "start, as after power loss (test only)\n",
               kLoseUnsyncedVar, setting.c_str());
  // Before anything opens the data directory.
  absl::StatusOr<env::UnsyncedLossFileSystem::RecoveryReport> report =
      env::UnsyncedLossFileSystem::Recover(env_->fs(), journal, seed);
  if (!report.ok()) return report.status();
  std::fprintf(stderr,
               "keeld: failpoint %s: replayed %zu records: %zu files removed (entry not "
               "durable), %zu truncated, %llu unsynced bytes dropped%s\n",
               kLoseUnsyncedVar, report->records, report->files_removed,
               report->files_truncated, static_cast<unsigned long long>(report->bytes_dropped),
               seed.has_value() ? " (torn tails kept)" : "");
  absl::StatusOr<std::unique_ptr<env::UnsyncedLossFileSystem>> fs =
      env::UnsyncedLossFileSystem::Create(env_->fs(), journal);
  if (!fs.ok()) return fs.status();
  lose_unsynced_fs_ = *std::move(fs);
  core_env_ = std::make_unique<FileSystemOverrideEnv>(env_.get(), lose_unsynced_fs_.get());
  return absl::OkStatus();
}

absl::Status Keeld::OpenServer(const KeeldConfig& config,
                               std::function<void(const absl::Status&)> on_fatal) {
  server::ServerConfig server_config = MakeServerConfig(config);
  if (tls_.peer_client != nullptr) {
    // Joining over https peer URLs: the membership query is TLS too.
    server_config.fetch_existing_cluster = [initial_cluster = server_config.initial_cluster,
                                            name = config.server.name,
                                            tls = tls_.peer_client] {
      return FetchExistingCluster(initial_cluster, name, kJoinQueryTimeoutMs, tls.get());
    };
  }
  // --auth-token=jwt,...: JWTs signed and checked with OpenSSL (node/jwt_tokens.h); any
  // token type but simple and jwt fails as etcd's NewTokenProvider does.
  if (absl::StartsWith(config.server.auth_token, "jwt")) {
    std::string warning;
    absl::StatusOr<std::shared_ptr<server::JwtTokens>> jwt =
        MakeJwtTokens(config.server.auth_token, &warning);
    if (!jwt.ok()) return jwt.status();
    if (!warning.empty()) std::fprintf(stderr, "keeld: warning: %s\n", warning.c_str());
    server_config.jwt_tokens = *std::move(jwt);
  } else if (config.server.auth_token != "simple" &&
             !absl::StartsWith(config.server.auth_token, "simple,")) {
    return absl::InvalidArgumentError("auth: invalid auth options");
  }
  // bcrypt off the Loop, with the OS's randomness (node/auth_crypto_pool.h).
  server_config.auth_crypto =
      std::make_shared<AuthCryptoPool>(core_env()->loop(), server_config.bcrypt_cost);
  server_config.leveldb_env = leveldb_env_.get();
  server_config.on_fatal = std::move(on_fatal);
  absl::Status status;
  RunOnLoop([this, &status, server_config = std::move(server_config)]() mutable {
    absl::StatusOr<std::unique_ptr<server::Server>> server =
        server::Server::Open(core_env(), std::move(server_config));
    if (server.ok()) {
      server_ = *std::move(server);
      // In the same Loop task: peer messages may arrive (and Raft answer them) as soon as
      // Open has set the transport's handler; until now our frames were held back.
      const uint64_t member_id = server_->Stats().member_id;
      KEEL_CHECK(member_id != 0);
      env_->tcp_transport()->SetSelfId(member_id);
    } else {
      status = server.status();
    }
  });
  if (!status.ok()) return status;
  env::TcpTransport* transport = env_->tcp_transport();
  // Members joining later ask us who is in the cluster (cluster_join.h).
  transport->SetQueryHandler([this](std::string request, env::TcpTransport::QueryReply reply) {
    AnswerQuery(std::move(request), std::move(reply));
  });
  return absl::OkStatus();
}

absl::Status Keeld::CheckInitialCorruption(const KeeldConfig& config) {
  server::Server* server = server_.get();
  std::optional<absl::StatusOr<etcdserverpb::HashKVResponse>> local;
  std::vector<etcdserverpb::Member> members;
  uint64_t self_id = 0;
  RunOnLoop([&] {
    self_id = server->Stats().member_id;
    members = server->KnownMembers();
    server->HashKV(etcdserverpb::HashKVRequest(),
                   [&local](absl::StatusOr<etcdserverpb::HashKVResponse> r) { local = std::move(r); });
  });
  KEEL_CHECK(local.has_value());  // HashKV answers at once, from the local store
  const std::string self = server::MemberIdHex(self_id);
  if (!local->ok()) {
    return absl::DataLossError(
        absl::StrCat(self, " failed to fetch hash (", local->status().message(), ")"));
  }
  std::fprintf(stderr, "keeld %s: starting initial corruption check (local member %s)\n",
               config.server.name.c_str(), self.c_str());
  const server::KvHash hash{(*local)->hash(), (*local)->header().revision(),
                            (*local)->compact_revision()};
  absl::Status checked = CheckInitialHashKv(
      self_id, hash, members, config.server.request_timeout_ms, tls_.peer_client.get(),
      [&config](const std::string& line) {
        std::fprintf(stderr, "keeld %s: WARNING: %s\n", config.server.name.c_str(), line.c_str());
      });
  if (checked.ok()) {
    std::fprintf(stderr, "keeld %s: initial corruption checking passed; no corruption\n",
                 config.server.name.c_str());
  }
  return checked;
}

void Keeld::AnswerQuery(std::string request, env::TcpTransport::QueryReply reply) {
  // On the Loop, where server_ is created and destroyed.
  if (server_ == nullptr) return std::move(reply)("");
  if (std::optional<int64_t> revision = ParseHashKvQuery(request)) {
    // A restarting member's initial corruption check (initial_corrupt_check.h).
    etcdserverpb::HashKVRequest hash_request;
    hash_request.set_revision(*revision);
    return server_->HashKV(hash_request, [reply = std::move(reply)](
                                             absl::StatusOr<etcdserverpb::HashKVResponse> r) mutable {
      std::move(reply)(HashKvAnswer(r));
    });
  }
  if (request != kMembersQuery) return std::move(reply)("");
  server_->MemberList(
      etcdserverpb::MemberListRequest(),
      [reply = std::move(reply)](absl::StatusOr<etcdserverpb::MemberListResponse> r) mutable {
        std::move(reply)(r.ok() ? r->SerializeAsString() : std::string());
      });
}

absl::Status Keeld::StartGrpc(const KeeldConfig& config) {
  env::Loop* loop = env_->loop();
  server::Server* server = server_.get();
  // The caller's verified client-certificate CN for --client-cert-auth (etcd: with no
  // token, the CN is the user). The TLS terminator publishes it per connection; without
  // --client-cert-auth no certificate is verified and nobody is named by one.
  CommonNameFn common_name;
  if (config.client_tls.client_cert_auth) {
    common_name = [](const grpc::ServerContextBase& context) { return VerifiedCommonName(context); };
  }
  services_.push_back(std::make_unique<KvService>(loop, server, common_name));
  services_.push_back(std::make_unique<WatchService>(loop, server, WatchQueueLimits(),
                                                     common_name));
  services_.push_back(std::make_unique<LeaseService>(loop, server, common_name));
  services_.push_back(std::make_unique<ClusterService>(loop, server));
  services_.push_back(std::make_unique<MaintenanceService>(
      loop, server, MaintenanceService::kDefaultSnapshotChunkBytes, common_name));
  services_.push_back(std::make_unique<LockService>(loop, server, common_name));
  services_.push_back(std::make_unique<ElectionService>(loop, server, common_name));
  services_.push_back(std::make_unique<AuthService>(loop, server, common_name));

  // keeld owns the client sockets (etcd's cmux): ClientListener hands gRPC connections to
  // this server with AddInsecureChannelFromFd and HTTP/1.x ones to HttpEndpoints. The
  // gRPC server itself listens nowhere. TLS (https URLs) would have to be terminated
  // before the hand-over; the refusal is in ParseUrlsFlag.
  absl::StatusOr<std::unique_ptr<ClientListener>> listener =
      ClientListener::Create(config.listen_client_urls, ClientListener::Options());
  if (!listener.ok()) return listener.status();
  client_listener_ = *std::move(listener);
  client_ports_ = client_listener_->ports();
  grpc::ServerBuilder builder;
  for (auto& service : services_) builder.RegisterService(service.get());
  // go-grpc-prometheus' grpc_server_* counters, as etcd registers them (/metrics).
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(MakeMetricsInterceptorFactory(&node_metrics_.grpc));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  builder.SetMaxReceiveMessageSize(static_cast<int>(config.server.max_request_bytes) +
                                   kGrpcOverheadBytes);
  builder.SetMaxSendMessageSize(INT32_MAX);
  // etcdctl and clientv3 ping idle connections (grpc-go clamps to >= 10 s); etcd permits
  // pings every --grpc-keepalive-min-time (5 s) even without calls, so we must not answer
  // them with GOAWAY.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             ClampToInt(config.grpc_keepalive_min_time_ms));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  // etcd's server keepalive: ping each client every --grpc-keepalive-interval, close it
  // after --grpc-keepalive-timeout without an answer; 0 disables (gRPC: "never").
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS,
                             config.grpc_keepalive_interval_ms == 0
                                 ? INT32_MAX
                                 : ClampToInt(config.grpc_keepalive_interval_ms));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                             config.grpc_keepalive_timeout_ms == 0
                                 ? INT32_MAX
                                 : ClampToInt(config.grpc_keepalive_timeout_ms));
  // Backpressure (node/README.md "Backpressure"): streams per connection, and one memory
  // quota for all of gRPC's buffers, past which gRPC stops reading from sockets.
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             ClampToInt(config.max_concurrent_streams));
  grpc::ResourceQuota quota("keeld-grpc");
  quota.Resize(kGrpcMemoryQuotaBytes);
  builder.SetResourceQuota(quota);
  // gRPC's default SO_REUSEPORT would let a second keeld share our client port.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  grpc_server_ = builder.BuildAndStart();
  if (grpc_server_ == nullptr) return absl::UnavailableError("cannot start the gRPC server");
  return absl::OkStatus();
}

absl::StatusOr<HttpEndpoints::ClientPortExtension> Keeld::StartGateway(
    const KeeldConfig& config) {
  // The gateway dials our own gRPC services, as etcd's dials its client port: auth,
  // quotas and errors are the gRPC ones. No size limit on answers (etcd: MaxInt32).
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  gateway::Gateway::Options options;
  options.current_connection_fd = &HttpEndpoints::CurrentConnectionFd;
  // JSON carries bytes as base64 (4/3) plus field names and quoting.
  options.max_body_bytes = static_cast<size_t>(config.server.max_request_bytes) * 2 + (1 << 20);
  absl::StatusOr<std::unique_ptr<gateway::Gateway>> created =
      gateway::Gateway::Create(grpc_server_->InProcessChannel(args), options);
  if (!created.ok()) return created.status();
  gateway_ = *std::move(created);
  HttpEndpoints::ClientPortExtension extension;
  extension.add_handlers = [gateway = gateway_.get()](httplib::Server* http) {
    gateway->Register(http);
  };
  // One worker per possible stream: watches never starve short requests.
  extension.extra_workers = static_cast<int>(options.max_streams);
  return extension;
}

void Keeld::RunOnLoop(absl::AnyInvocable<void() &&> fn) {
  absl::Notification done;
  env_->loop()->Post([&fn, &done]() mutable {
    std::move(fn)();
    done.Notify();
  });
  done.WaitForNotification();
}

Keeld::~Keeld() { Shutdown(); }

void Keeld::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  // No new connections first: the listener hands over to gRPC and HTTP, stopped below.
  if (client_listener_ != nullptr) client_listener_->Stop();
  // Closes every TLS relay: gRPC and HTTP see their sockets close.
  if (tls_terminator_ != nullptr) tls_terminator_->Stop();
  if (http_ != nullptr) http_->Stop();
  // Its workers are joined: no gateway call is pending (each was cancelled when Stop
  // shut its connection down).
  gateway_.reset();
  if (env_ != nullptr && env_->tcp_transport() != nullptr) {
    env_->tcp_transport()->SetQueryHandler(nullptr);
  }
  if (server_ != nullptr) {
    server::Server* server = server_.get();
    RunOnLoop([server] { server->Stop(); });
  }
  if (grpc_server_ != nullptr) {
    grpc_server_->Shutdown(std::chrono::system_clock::now() +
                           std::chrono::milliseconds(kGrpcShutdownGraceMs));
    grpc_server_.reset();
  }
  if (server_ != nullptr) {
    // Tasks that finished reactors posted (releasing watch streams and lock waiters that
    // still point at the Server) must run before the Server goes; some post one follow-up.
    constexpr int kDrainRounds = 3;
    for (int i = 0; i < kDrainRounds; ++i) RunOnLoop([] {});
    // The transport outlives the server (it is part of env_): detached first, on the
    // Loop, so no message or unreachable report still queued reaches a deleted server.
    env::TcpTransport* transport = env_ != nullptr ? env_->tcp_transport() : nullptr;
    RunOnLoop([this, transport] {
      if (transport != nullptr) transport->SetHandler(nullptr);
      server_.reset();
    });
  }
  services_.clear();
  http_.reset();
  tls_terminator_.reset();
  client_listener_.reset();
  leveldb_env_.reset();
  core_env_.reset();
  lose_unsynced_fs_.reset();
  env_.reset();
}

}  // namespace keel::node
