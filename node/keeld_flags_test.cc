#include "node/keeld_flags.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace keel::node {
namespace {

using ::testing::HasSubstr;

// A valid three-member configuration for member "a", in etcd's --flag=value form.
std::vector<std::string> ThreeMemberArgs() {
  return {"--name=a",
          "--listen-client-urls=http://127.0.0.1:2379",
          "--advertise-client-urls=http://127.0.0.1:2379",
          "--listen-peer-urls=http://127.0.0.1:2380",
          "--initial-advertise-peer-urls=http://127.0.0.1:2380",
          "--initial-cluster=a=http://127.0.0.1:2380,b=http://127.0.0.1:12380,"
          "c=http://127.0.0.1:22380"};
}

std::string ErrorOf(const std::vector<std::string>& args) {
  absl::StatusOr<KeeldConfig> config = ParseKeeldFlags(args);
  EXPECT_FALSE(config.ok());
  return config.ok() ? "" : std::string(config.status().message());
}

TEST(KeeldFlagsTest, DefaultsMatchEtcd) {
  absl::StatusOr<KeeldConfig> config = ParseKeeldFlags({});
  ASSERT_TRUE(config.ok()) << config.status();
  const ServerFlags& s = config->server;
  EXPECT_EQ(s.name, "default");
  EXPECT_EQ(s.data_dir, "default.etcd");
  EXPECT_EQ(s.heartbeat_interval_ms, 100);
  EXPECT_EQ(s.election_timeout_ms, 1000);
  EXPECT_EQ(s.snapshot_count, 100000u);
  EXPECT_EQ(s.max_request_bytes, 1572864u);
  EXPECT_EQ(s.max_txn_ops, 128u);
  EXPECT_EQ(s.initial_cluster_token, "etcd-cluster");
  EXPECT_TRUE(s.initial_cluster_state_new);
  ASSERT_EQ(s.initial_cluster.size(), 1u);
  EXPECT_EQ(s.initial_cluster[0].name, "default");
  ASSERT_EQ(config->listen_client_urls.size(), 1u);
  EXPECT_EQ(config->listen_client_urls[0].HostPort(), "localhost:2379");
  EXPECT_TRUE(config->listen_metrics_urls.empty());
  EXPECT_EQ(config->log_level, LogLevel::kInfo);
}

TEST(KeeldFlagsTest, DataDirDefaultsToNameDotEtcd) {
  std::vector<std::string> args = ThreeMemberArgs();
  absl::StatusOr<KeeldConfig> config = ParseKeeldFlags(args);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server.data_dir, "a.etcd");
  args.push_back("--data-dir=/tmp/x");
  config = ParseKeeldFlags(args);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server.data_dir, "/tmp/x");
}

TEST(KeeldFlagsTest, AcceptsSpaceSeparatedValuesAndSingleDash) {
  std::vector<std::string> args = ThreeMemberArgs();
  args.insert(args.end(),
              {"--heartbeat-interval", "50", "-election-timeout", "500", "--initial-cluster-state",
               "existing", "--log-level=debug", "--snapshot-count", "10", "--max-txn-ops=7"});
  absl::StatusOr<KeeldConfig> config = ParseKeeldFlags(args);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server.heartbeat_interval_ms, 50);
  EXPECT_EQ(config->server.election_timeout_ms, 500);
  EXPECT_EQ(config->server.request_timeout_ms, 6000);  // etcd: 5s + 2 * election timeout
  EXPECT_FALSE(config->server.initial_cluster_state_new);
  EXPECT_EQ(config->server.snapshot_count, 10u);
  EXPECT_EQ(config->server.max_txn_ops, 7u);
  EXPECT_EQ(config->log_level, LogLevel::kDebug);
  ASSERT_EQ(config->server.initial_cluster.size(), 3u);
  EXPECT_EQ(config->server.initial_cluster[2].name, "c");
  EXPECT_EQ(config->server.initial_cluster[2].peer_urls,
            std::vector<std::string>{"http://127.0.0.1:22380"});
}

TEST(KeeldFlagsTest, ElectionTimeoutMustBeFiveHeartbeats) {
  std::vector<std::string> args = ThreeMemberArgs();
  args.insert(args.end(), {"--heartbeat-interval=100", "--election-timeout=499"});
  EXPECT_EQ(ErrorOf(args),
            "--election-timeout[499ms] should be at least as 5 times as "
            "--heartbeat-interval[100ms]");
  args.push_back("--election-timeout=500");  // last value wins, as in Go
  EXPECT_TRUE(ParseKeeldFlags(args).ok());
  args.push_back("--election-timeout=50001");
  EXPECT_THAT(ErrorOf(args), HasSubstr("is too long, and should be set less than 50000ms"));
}

TEST(KeeldFlagsTest, NameMustAppearInInitialCluster) {
  std::vector<std::string> args = ThreeMemberArgs();
  args.push_back("--name=z");
  EXPECT_EQ(ErrorOf(args), "couldn't find local name \"z\" in the initial cluster configuration");
}

TEST(KeeldFlagsTest, AdvertisedPeerUrlsMustMatchInitialCluster) {
  std::vector<std::string> args = ThreeMemberArgs();
  args.push_back("--initial-advertise-peer-urls=http://127.0.0.1:9999");
  EXPECT_THAT(ErrorOf(args), HasSubstr("but missing from --initial-advertise-peer-urls="));
}

TEST(KeeldFlagsTest, ListenClientUrlsNeedAdvertiseClientUrls) {
  EXPECT_EQ(ErrorOf({"--listen-client-urls=http://127.0.0.1:2379"}),
            "--advertise-client-urls is required when --listen-client-urls is set explicitly");
}

TEST(KeeldFlagsTest, RejectsUnknownFlagsBadValuesAndPositionals) {
  EXPECT_EQ(ErrorOf({"--no-such-flag=1"}), "flag provided but not defined: -no-such-flag");
  EXPECT_EQ(ErrorOf({"--name"}), "flag needs an argument: -name");
  EXPECT_EQ(ErrorOf({"stray"}), "'stray' is not a valid flag");
  EXPECT_THAT(ErrorOf({"--heartbeat-interval=fast"}),
              HasSubstr("invalid value \"fast\" for flag -heartbeat-interval"));
  EXPECT_THAT(ErrorOf({"--initial-cluster-state=maybe"}),
              HasSubstr("invalid value \"maybe\" for flag -initial-cluster-state"));
  EXPECT_THAT(ErrorOf({"--log-level=loud"}), HasSubstr("for flag -log-level"));
  EXPECT_THAT(ErrorOf({"--listen-metrics-urls=https://127.0.0.1:2381"}),
              HasSubstr("only http:// URLs are supported"));
  EXPECT_EQ(ErrorOf({"--auto-tls=maybe"}),
            "invalid boolean value \"maybe\" for -auto-tls: parse error");
  EXPECT_THAT(ErrorOf({"--initial-cluster=a"}), HasSubstr("entries must be name=url"));
}

// etcd 3.4's messages, compared by running etcd with the same flags.
TEST(KeeldFlagsTest, HttpsUrlsNeedCertificatesWithEtcdsMessages) {
  EXPECT_EQ(ErrorOf({"--listen-peer-urls=https://127.0.0.1:41801",
                     "--initial-advertise-peer-urls=https://127.0.0.1:41801",
                     "--initial-cluster=default=https://127.0.0.1:41801"}),
            "cannot listen on TLS for 127.0.0.1:41801: KeyFile and CertFile are not presented");
  EXPECT_EQ(ErrorOf({"--listen-client-urls=https://127.0.0.1:41791",
                     "--advertise-client-urls=https://127.0.0.1:41791"}),
            "TLS key/cert (--cert-file, --key-file) must be provided for client url "
            "https://127.0.0.1:41791 with HTTPS scheme");
}

TEST(KeeldFlagsTest, ParsesTlsFlagsWithGoBooleans) {
  absl::StatusOr<KeeldConfig> config = ParseKeeldFlags(
      {"--listen-client-urls=https://127.0.0.1:41791",
       "--advertise-client-urls=https://127.0.0.1:41791", "--cert-file", "s.pem", "--key-file",
       "s.key", "--trusted-ca-file=ca.pem", "--client-cert-auth", "--peer-auto-tls",
       "--peer-client-cert-auth=false", "--cipher-suites",
       "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen_client_urls[0].scheme, "https");
  EXPECT_EQ(config->client_tls.cert_file, "s.pem");
  EXPECT_EQ(config->client_tls.key_file, "s.key");
  EXPECT_EQ(config->client_tls.trusted_ca_file, "ca.pem");
  EXPECT_TRUE(config->client_tls.client_cert_auth);
  EXPECT_FALSE(config->client_tls.auto_tls);
  EXPECT_TRUE(config->peer_tls.auto_tls);
  EXPECT_FALSE(config->peer_tls.client_cert_auth);
  EXPECT_THAT(config->cipher_suites,
              testing::ElementsAre("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                                   "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"));
  // --auto-tls alone is enough for an https client URL.
  EXPECT_TRUE(ParseKeeldFlags({"--listen-client-urls=https://127.0.0.1:41791",
                               "--advertise-client-urls=https://127.0.0.1:41791", "--auto-tls"})
                  .ok());
}

TEST(KeeldFlagsTest, ParsesMetricsUrls) {
  std::vector<std::string> args = ThreeMemberArgs();
  args.push_back("--listen-metrics-urls=http://127.0.0.1:2381,http://127.0.0.1:2382");
  absl::StatusOr<KeeldConfig> config = ParseKeeldFlags(args);
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->listen_metrics_urls.size(), 2u);
  EXPECT_EQ(config->listen_metrics_urls[1].port, 2382);
}

TEST(KeeldFlagsTest, HelpAndVersionStopParsing) {
  absl::StatusOr<KeeldConfig> config = ParseKeeldFlags({"--version"});
  ASSERT_TRUE(config.ok());
  EXPECT_TRUE(config->version);
  config = ParseKeeldFlags({"-h"});
  ASSERT_TRUE(config.ok());
  EXPECT_TRUE(config->help);
  EXPECT_THAT(KeeldUsage(), HasSubstr("--initial-cluster-token 'etcd-cluster'"));
}


// ---- Every etcd 3.4 flag, ETCD_* variables, --config-file ----

// `etcd --help` of etcd 3.4.23, every flag it lists.
constexpr const char* kEtcdHelpFlags[] = {
    "name", "data-dir", "wal-dir", "snapshot-count", "heartbeat-interval", "election-timeout",
    "initial-election-tick-advance", "listen-peer-urls", "listen-client-urls", "max-snapshots",
    "max-wals", "quota-backend-bytes", "backend-batch-interval", "backend-batch-limit",
    "max-txn-ops", "max-request-bytes", "max-concurrent-streams", "grpc-keepalive-min-time",
    "grpc-keepalive-interval", "grpc-keepalive-timeout", "initial-advertise-peer-urls",
    "initial-cluster", "initial-cluster-state", "initial-cluster-token", "advertise-client-urls",
    "discovery", "discovery-fallback", "discovery-proxy", "discovery-srv", "discovery-srv-name",
    "strict-reconfig-check", "pre-vote", "auto-compaction-retention", "auto-compaction-mode",
    "enable-v2", "cert-file", "key-file", "client-cert-auth", "client-crl-file",
    "client-cert-allowed-hostname", "trusted-ca-file", "auto-tls", "peer-cert-file",
    "peer-key-file", "peer-client-cert-auth", "peer-trusted-ca-file", "peer-cert-allowed-cn",
    "peer-cert-allowed-hostname", "peer-auto-tls", "peer-crl-file", "cipher-suites", "cors",
    "host-whitelist", "auth-token", "bcrypt-cost", "auth-token-ttl", "enable-pprof", "metrics",
    "listen-metrics-urls", "logger", "log-outputs", "log-level", "proxy", "proxy-failure-wait",
    "proxy-refresh-interval", "proxy-dial-timeout", "proxy-write-timeout", "proxy-read-timeout",
    "experimental-initial-corrupt-check", "experimental-corrupt-check-time",
    "experimental-enable-v2v3", "experimental-backend-bbolt-freelist-type",
    "experimental-enable-lease-checkpoint", "experimental-compaction-batch-limit",
    "experimental-peer-skip-client-san-verification",
    "experimental-watch-progress-notify-interval", "experimental-warning-apply-duration",
    "force-new-cluster", "debug", "log-package-levels",
    // In etcdmain's flag set but not in --help.
    "config-file", "log-output", "enable-grpc-gateway", "unsafe-no-fsync",
    "experimental-enable-lease-checkpoint-persist"};

TEST(KeeldFlagsTest, EveryEtcdFlagIsKnown) {
  for (const char* flag : kEtcdHelpFlags) {
    absl::StatusOr<KeeldConfig> config = ParseKeeldFlags({absl::StrCat("--", flag, "=x")});
    if (!config.ok()) {
      EXPECT_THAT(std::string(config.status().message()),
                  ::testing::Not(HasSubstr("flag provided but not defined")))
          << flag;
    }
  }
}

// --grpc-keepalive-* and --max-concurrent-streams are served (keeld.cc's gRPC channel
// arguments); errors as etcd 3.4.23 prints them.
TEST(KeeldFlagsTest, GrpcKeepaliveAndStreamFlagsAreServed) {
  absl::StatusOr<KeeldConfig> config = ParseKeeldFlags(ThreeMemberArgs());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->grpc_keepalive_min_time_ms, 5000);
  EXPECT_EQ(config->grpc_keepalive_interval_ms, 2 * 3600 * 1000);
  EXPECT_EQ(config->grpc_keepalive_timeout_ms, 20000);
  EXPECT_EQ(config->max_concurrent_streams, int64_t{UINT32_MAX});
  std::vector<std::string> args = ThreeMemberArgs();
  args.push_back("--grpc-keepalive-min-time=1500ms");
  args.push_back("--grpc-keepalive-interval=0");
  args.push_back("--grpc-keepalive-timeout=1m");
  args.push_back("--max-concurrent-streams=64");
  config = ParseKeeldFlags(args);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->warnings.empty()) << config->warnings[0];
  EXPECT_EQ(config->grpc_keepalive_min_time_ms, 1500);
  EXPECT_EQ(config->grpc_keepalive_interval_ms, 0);
  EXPECT_EQ(config->grpc_keepalive_timeout_ms, 60000);
  EXPECT_EQ(config->max_concurrent_streams, 64);
  args = ThreeMemberArgs();
  args.push_back("--grpc-keepalive-timeout=7000000000");  // --config-file's nanoseconds
  config = ParseKeeldFlags(args);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->grpc_keepalive_timeout_ms, 7000);
  args = ThreeMemberArgs();
  args.push_back("--grpc-keepalive-min-time=abc");
  EXPECT_EQ(ErrorOf(args), "invalid value \"abc\" for flag -grpc-keepalive-min-time: parse error");
  args = ThreeMemberArgs();
  args.push_back("--max-concurrent-streams=-1");
  EXPECT_EQ(ErrorOf(args),
            "invalid value \"-1\" for flag -max-concurrent-streams: strconv.ParseUint: parsing "
            "\"-1\": invalid syntax");
}

TEST(KeeldFlagsTest, GoRuntimeFlagsWarnAndFeatureFlagsAreRefusedUnlessDefault) {
  std::vector<std::string> args = ThreeMemberArgs();
  args.push_back("--enable-pprof");
  args.push_back("--logger=zap");
  args.push_back("--log-outputs=stderr");
  args.push_back("--enable-v2=false");  // etcd's default: harmless
  args.push_back("--cert-file=");
  absl::StatusOr<KeeldConfig> config = ParseKeeldFlags(args);
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->warnings.size(), 3u);
  EXPECT_THAT(config->warnings[0], HasSubstr("--enable-pprof is accepted and ignored"));
  args = ThreeMemberArgs();
  args.push_back("--discovery=https://discovery.etcd.io/x");
  EXPECT_EQ(ErrorOf(args),
            "--discovery=https://discovery.etcd.io/x is not supported by keeld: discovery "
            "bootstrap is not implemented; use --initial-cluster");
  args = ThreeMemberArgs();
  args.push_back("--experimental-peer-skip-client-san-verification=true");
  EXPECT_EQ(ErrorOf(args),
            "--experimental-peer-skip-client-san-verification=true is not supported by keeld: "
            "skipping the peer certificate SAN check is not supported");
  // Go bool flags never take the next argument.
  EXPECT_EQ(ErrorOf({"--force-new-cluster", "true"}), "'true' is not a valid flag");
  EXPECT_EQ(ErrorOf({"--pre-vote=maybe"}), "invalid boolean value \"maybe\" for -pre-vote: parse error");
}

TEST(KeeldFlagsTest, ImplementedOpsFlags) {
  std::vector<std::string> args = ThreeMemberArgs();
  args.push_back("--force-new-cluster");
  args.push_back("--wal-dir=/w");
  args.push_back("--pre-vote=true");
  args.push_back("--auto-compaction-retention=5m");
  absl::StatusOr<KeeldConfig> config = ParseKeeldFlags(args);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->server.force_new_cluster);
  EXPECT_TRUE(config->server.pre_vote);
  EXPECT_EQ(config->server.wal_dir, "/w");
  EXPECT_TRUE(config->server.auto_compaction_periodic);
  EXPECT_EQ(config->server.auto_compaction_retention_ns, int64_t{300} * 1'000'000'000);
  config = ParseKeeldFlags({"--auto-compaction-retention=2"});
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->server.auto_compaction_retention_ns, int64_t{7200} * 1'000'000'000);  // hours
  config = ParseKeeldFlags({"--auto-compaction-mode=revision", "--auto-compaction-retention=1000"});
  ASSERT_TRUE(config.ok());
  EXPECT_FALSE(config->server.auto_compaction_periodic);
  EXPECT_EQ(config->server.auto_compaction_retention_revisions, 1000);
  EXPECT_EQ(ErrorOf({"--auto-compaction-mode=daily"}), "unknown auto-compaction-mode \"daily\"");
  EXPECT_THAT(ErrorOf({"--auto-compaction-retention=soon"}),
              HasSubstr("error parsing CompactionRetention"));
  config = ParseKeeldFlags({"--experimental-initial-corrupt-check",
                            "--experimental-corrupt-check-time=1m30s"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->server.initial_corrupt_check);
  EXPECT_EQ(config->server.corrupt_check_time_ms, 90000);
  EXPECT_TRUE(config->warnings.empty());
  // etcd 3.4.23's own message (Go's flag package) for a bad duration.
  EXPECT_EQ(ErrorOf({"--experimental-corrupt-check-time=abc"}),
            "invalid value \"abc\" for flag -experimental-corrupt-check-time: parse error");
  EXPECT_TRUE(ParseKeeldFlags({}).value().server.strict_reconfig_check);  // etcd's default
  EXPECT_FALSE(ParseKeeldFlags({"--strict-reconfig-check=false"}).value().server.strict_reconfig_check);
  config = ParseKeeldFlags({"--max-snapshots=0", "--max-wals=12"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server.max_snapshots, 0u);
  EXPECT_EQ(config->server.max_wals, 12u);
  EXPECT_TRUE(config->warnings.empty());
  config = ParseKeeldFlags({});
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->server.max_snapshots, 5u);  // etcd's defaults
  EXPECT_EQ(config->server.max_wals, 5u);
  EXPECT_EQ(ErrorOf({"--max-wals=-1"}), "invalid value \"-1\" for flag -max-wals: parse error");
  ParseKeeldFlags({"--debug"}).value();
  EXPECT_EQ(ParseKeeldFlags({"--debug"})->log_level, LogLevel::kDebug);
}

TEST(KeeldFlagsTest, EtcdEnvironmentVariables) {
  FlagSources sources;
  sources.environ = {"ETCD_NAME=b", "ETCD_INITIAL_CLUSTER=b=http://localhost:2380",
                     "ETCD_SNAPSHOT_COUNT=77", "ETCD_FOO_BAR=1", "ETCDCTL_API=3", "PATH=/bin",
                     "ETCD_ENABLE_PPROF=true"};
  absl::StatusOr<KeeldConfig> config = ParseKeeldFlags({"--heartbeat-interval=50"}, sources);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server.name, "b");
  EXPECT_EQ(config->server.snapshot_count, 77u);
  EXPECT_EQ(config->server.heartbeat_interval_ms, 50);
  EXPECT_THAT(config->notices, ::testing::Contains("recognized and used environment variable ETCD_NAME=b"));
  EXPECT_THAT(config->warnings, ::testing::Contains("unrecognized environment variable ETCD_FOO_BAR=1"));
  EXPECT_THAT(config->warnings, ::testing::Contains(HasSubstr("--enable-pprof is accepted")));
  // A flag given both ways is etcd's fatal conflict, not "the command line wins".
  absl::StatusOr<KeeldConfig> conflict = ParseKeeldFlags({"--name=c"}, sources);
  EXPECT_EQ(conflict.status().message(),
            "conflicting environment variable \"ETCD_NAME\" is shadowed by corresponding "
            "command-line flag (either unset environment variable or disable flag)");
  sources.environ = {"ETCD_HEARTBEAT_INTERVAL=abc"};
  EXPECT_EQ(ParseKeeldFlags({}, sources).status().message(),
            "invalid value \"abc\" for ETCD_HEARTBEAT_INTERVAL: parse error");
}

TEST(KeeldFlagsTest, ConfigFileIgnoresFlagsAndEnvironment) {
  FlagSources sources;
  sources.environ = {"ETCD_NAME=from-env", "ETCD_CONFIG_FILE=/etc/keel.yml"};
  sources.read_file = [](const std::string& path) -> absl::StatusOr<std::string> {
    if (path != "/etc/keel.yml") return absl::NotFoundError("open " + path + ": no such file");
    return std::string(
        "name: m1\n"
        "data-dir: /var/lib/m1\n"
        "listen-client-urls: http://127.0.0.1:2379\n"
        "initial-cluster: m1=http://127.0.0.1:2380\n"
        "initial-advertise-peer-urls: http://127.0.0.1:2380\n"
        "initial-cluster-state: new\n"
        "snapshot-count: 500\n"
        "heartbeat-interval: 20\n"
        "election-timeout: 200\n"
        "force-new-cluster: false\n"
        "auto-compaction-mode: revision\n"
        "auto-compaction-retention: \"10\"\n"
        "logger: zap\n"
        "log-outputs: [stderr]\n"
        "client-transport-security:\n  cert-file:\n  client-cert-auth: false\n");
  };
  // The environment names the file; the command-line flag is ignored, as etcd does.
  absl::StatusOr<KeeldConfig> config = ParseKeeldFlags({"--snapshot-count=9"}, sources);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server.name, "m1");
  EXPECT_EQ(config->server.data_dir, "/var/lib/m1");
  EXPECT_EQ(config->server.snapshot_count, 500u);
  EXPECT_EQ(config->server.heartbeat_interval_ms, 20);
  EXPECT_EQ(config->server.auto_compaction_retention_revisions, 10);
  EXPECT_EQ(config->listen_client_urls[0].HostPort(), "127.0.0.1:2379");
  EXPECT_THAT(config->notices, ::testing::Contains(HasSubstr("loaded server configuration from /etc/keel.yml")));
  EXPECT_THAT(config->warnings, ::testing::Contains(HasSubstr("--logger is accepted")));
  // The file's transport-security maps set the TLS flags (etcd's securityConfig keys).
  sources.read_file = [](const std::string&) -> absl::StatusOr<std::string> {
    return std::string(
        "peer-transport-security:\n  cert-file: /p.crt\n  key-file: /p.key\n"
        "  client-cert-auth: true\nclient-transport-security:\n  trusted-ca-file: /ca.crt\n");
  };
  config = ParseKeeldFlags({"--config-file=/x.yml"}, sources);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->peer_tls.cert_file, "/p.crt");
  EXPECT_EQ(config->peer_tls.key_file, "/p.key");
  EXPECT_TRUE(config->peer_tls.client_cert_auth);
  EXPECT_EQ(config->client_tls.trusted_ca_file, "/ca.crt");
  sources.read_file = [](const std::string&) -> absl::StatusOr<std::string> {
    return std::string("name: [unclosed\n");
  };
  EXPECT_THAT(std::string(ParseKeeldFlags({"--config-file=/x.yml"}, sources).status().message()),
              HasSubstr("error loading config file /x.yml: invalid YAML"));
}

}  // namespace
}  // namespace keel::node
