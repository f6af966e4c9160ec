// keeld's command line: etcd 3.4's flag names, defaults and validation messages, parsed the
// way Go's flag package does (-flag or --flag, "=value" or the next argument).
//
// ParseKeeldFlags is pure (no I/O, no process exit) so that every rule is unit-tested; main
// prints the returned status as one line and exits 1.
#ifndef KEEL_NODE_KEELD_FLAGS_H_
#define KEEL_NODE_KEELD_FLAGS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "node/url.h"

namespace keel::node {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

struct Member {
  std::string name;
  std::vector<std::string> peer_urls;  // normalized scheme://host:port
};

// The subset of etcd's configuration keeld understands. Shaped like etcd's flags, not like
// the server core's ServerConfig, so this file depends on nothing but absl; keeld.cc maps
// it onto server::ServerConfig in one place.
struct ServerFlags {
  std::string name;
  std::string data_dir;
  std::vector<std::string> advertise_client_urls;
  std::vector<std::string> advertise_peer_urls;
  std::vector<Member> initial_cluster;
  std::string initial_cluster_token;
  bool initial_cluster_state_new = true;
  int64_t heartbeat_interval_ms = 0;
  int64_t election_timeout_ms = 0;
  uint64_t snapshot_count = 0;
  // --max-snapshots / --max-wals (etcd: 5 each; 0 = unlimited).
  uint64_t max_snapshots = 0;
  uint64_t max_wals = 0;
  int64_t quota_backend_bytes = 0;
  uint64_t max_request_bytes = 0;
  uint32_t max_txn_ops = 0;
  // --bcrypt-cost (etcd: 10, 4..31) and --auth-token-ttl in seconds (300); --auth-token
  // is "simple" or "jwt,<options>" (node/jwt_tokens.h parses and checks the options at
  // start, as etcd does).
  int64_t bcrypt_cost = 0;
  int64_t auth_token_ttl_s = 0;
  std::string auth_token = "simple";
  // etcd: 5s + 2 * election timeout.
  int64_t request_timeout_ms = 0;
  // --wal-dir: a dedicated WAL directory (empty: <data-dir>/member/wal).
  std::string wal_dir;
  // --force-new-cluster (server/force_new_cluster.h).
  bool force_new_cluster = false;
  // --pre-vote (etcd 3.4 default false).
  bool pre_vote = false;
  // --strict-reconfig-check (etcd default true; server/reconfig_check.h).
  bool strict_reconfig_check = true;
  // --experimental-initial-corrupt-check (node/initial_corrupt_check.h) and
  // --experimental-corrupt-check-time (the leader's periodic check; 0 = off).
  bool initial_corrupt_check = false;
  int64_t corrupt_check_time_ms = 0;
  // --auto-compaction-mode / --auto-compaction-retention with etcd 3.4's parsing: periodic
  // keeps `retention_ns` of history; revision keeps the last `retention_revisions`.
  // Both zero: no auto-compaction.
  bool auto_compaction_periodic = true;
  int64_t auto_compaction_retention_ns = 0;
  int64_t auto_compaction_retention_revisions = 0;
};

// etcd's TLS flags for one port: --cert-file ... --auto-tls (client) or their --peer-*
// twins. Files are read at start (keeld.cc), not here.
struct TlsFlags {
  std::string cert_file;
  std::string key_file;
  std::string trusted_ca_file;
  bool client_cert_auth = false;
  bool auto_tls = false;  // self-signed certificates in <data-dir>/fixtures/{client,peer}
  // --client-crl-file / --peer-crl-file, --peer-cert-allowed-cn, --peer-cert-allowed-hostname
  // and --client-cert-allowed-hostname (env/tls_peer_check.h).
  std::string crl_file;
  std::string allowed_cn;
  std::string allowed_hostname;
  bool Empty() const { return cert_file.empty() && key_file.empty(); }  // etcd's TLSInfo.Empty
};

struct KeeldConfig {
  ServerFlags server;
  // Where keeld listens. Client URLs serve gRPC and, on the same port, /health and
  // /metrics over HTTP/1.1 (etcd's cmux); metrics URLs serve only the latter.
  std::vector<Url> listen_client_urls;
  std::vector<Url> listen_peer_urls;
  std::vector<Url> listen_metrics_urls;
  LogLevel log_level = LogLevel::kInfo;
  TlsFlags client_tls;
  TlsFlags peer_tls;
  // --cipher-suites, Go names (checked at start against env/tls.h's table).
  std::vector<std::string> cipher_suites;
  // gRPC server transport (keeld.cc's channel arguments), etcd 3.4's defaults.
  // --grpc-keepalive-min-time: clients pinging more often are answered with GOAWAY.
  int64_t grpc_keepalive_min_time_ms = 5000;
  // --grpc-keepalive-interval / -timeout: server-to-client pings; 0 disables.
  int64_t grpc_keepalive_interval_ms = 2 * 3600 * 1000;
  int64_t grpc_keepalive_timeout_ms = 20000;
  // --max-concurrent-streams per client connection (etcd: math.MaxUint32; gRPC takes an
  // int, so it is capped at INT32_MAX).
  int64_t max_concurrent_streams = UINT32_MAX;
  // --help or --version was given: print and exit 0 without starting.
  bool help = false;
  bool version = false;
  // What main prints before starting: warnings ("keeld: WARNING: <line>") for accepted
  // but ignored flags and unrecognized ETCD_* variables, notices ("keeld: <line>") for
  // ETCD_* variables used and a configuration file loaded (etcd logs both).
  std::vector<std::string> warnings;
  std::vector<std::string> notices;
};

// Where flags come from besides the command line (etcd's precedence):
//   --config-file (or ETCD_CONFIG_FILE): the YAML file alone; every other flag and
//     ETCD_* variable is ignored, as etcd does;
//   otherwise the command line, then ETCD_<FLAG> variables (upper case, '-' -> '_') for
//     flags not on it; a variable naming a flag that is also on the command line is
//     etcd's fatal "conflicting environment variable" error.
struct FlagSources {
  std::vector<std::string> environ;  // "NAME=value" entries, e.g. from ::environ
  // Reads the configuration file; unset: --config-file fails.
  std::function<absl::StatusOr<std::string>(const std::string& path)> read_file;
};

// `args` excludes the program name.
absl::StatusOr<KeeldConfig> ParseKeeldFlags(const std::vector<std::string>& args,
                                            const FlagSources& sources = {});

// Usage text listing every flag with its default.
std::string KeeldUsage();

}  // namespace keel::node

#endif  // KEEL_NODE_KEELD_FLAGS_H_
