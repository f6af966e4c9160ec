#include "node/keeld_flags.h"

#include <string>
#include <vector>

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

}  // namespace
}  // namespace keel::node
