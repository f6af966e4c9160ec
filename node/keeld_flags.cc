#include "node/keeld_flags.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <map>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "node/config_file.h"
#include "node/etcd_flag_table.h"

namespace keel::node {
namespace {

// etcd's embed.maxElectionMs.
constexpr int64_t kMaxElectionMs = 50000;

struct FlagSpec {
  const char* name;
  const char* default_value;
  const char* help;
  bool is_bool = false;  // Go bool flag: "--flag" alone means true
};

// Order = order in --help. Defaults are etcd 3.4's.
constexpr FlagSpec kFlags[] = {
    {"name", "default", "Human-readable name for this member."},
    {"data-dir", "", "Path to the data directory (default \"<name>.etcd\")."},
    {"listen-client-urls", "http://localhost:2379",
     "List of URLs to listen on for client traffic."},
    {"advertise-client-urls", "http://localhost:2379",
     "List of this member's client URLs to advertise."},
    {"listen-peer-urls", "http://localhost:2380", "List of URLs to listen on for peer traffic."},
    {"initial-advertise-peer-urls", "http://localhost:2380",
     "List of this member's peer URLs to advertise."},
    {"listen-metrics-urls", "", "List of URLs serving /health and /metrics over HTTP/1.1."},
    {"initial-cluster", "default=http://localhost:2380",
     "Initial cluster configuration for bootstrapping."},
    {"initial-cluster-state", "new", "Initial cluster state ('new' or 'existing')."},
    {"initial-cluster-token", "etcd-cluster",
     "Initial cluster token for the etcd cluster during bootstrap."},
    {"heartbeat-interval", "100", "Time (in milliseconds) of a heartbeat interval."},
    {"election-timeout", "1000", "Time (in milliseconds) for an election to timeout."},
    {"snapshot-count", "100000", "Number of committed transactions to trigger a snapshot to disk."},
    {"max-snapshots", "5", "Maximum number of snapshot files to retain (0 is unlimited)."},
    {"max-wals", "5", "Maximum number of wal files to retain (0 is unlimited)."},
    {"quota-backend-bytes", "0",
     "Raise alarms when backend size exceeds the given quota (0 defaults to low space quota)."},
    {"max-request-bytes", "1572864",
     "Maximum client request size in bytes the server will accept."},
    {"max-txn-ops", "128", "Maximum number of operations permitted in a transaction."},
    {"max-concurrent-streams", "math.MaxUint32",
     "Maximum concurrent streams that each client can open at a time."},
    {"grpc-keepalive-min-time", "5s",
     "Minimum duration interval that a client should wait before pinging server."},
    {"grpc-keepalive-interval", "2h",
     "Frequency duration of server-to-client ping to check if a connection is alive (0 to "
     "disable)."},
    {"grpc-keepalive-timeout", "20s",
     "Additional duration of wait before closing a non-responsive connection (0 to disable)."},
    {"auth-token", "simple",
     "Specify a v3 authentication token type and its options ('simple' or 'jwt')."},
    {"bcrypt-cost", "10",
     "Specify the cost / strength of the bcrypt algorithm for hashing auth passwords. Valid "
     "values are between 4 and 31."},
    {"auth-token-ttl", "300", "Time (in seconds) of the auth-token-ttl."},
    {"log-level", "info", "Configures log level. Only supports debug, info, warn, error."},
    {"debug", "false", "Enable debug-level logging (same as --log-level=debug).", true},
    {"wal-dir", "", "Path to the dedicated wal directory."},
    {"force-new-cluster", "false", "Force to create a new one member cluster.", true},
    {"pre-vote", "false", "Enable to run an additional Raft election phase.", true},
    {"strict-reconfig-check", "true",
     "Reject reconfiguration requests that would cause quorum loss.", true},
    {"experimental-initial-corrupt-check", "false",
     "Enable to check data corruption before serving any client/peer traffic.", true},
    {"experimental-corrupt-check-time", "0s",
     "Duration of time between cluster corruption check passes."},
    {"auto-compaction-retention", "0",
     "Auto compaction retention for mvcc key value store. 0 means disable auto compaction."},
    {"auto-compaction-mode", "periodic",
     "interpret 'auto-compaction-retention' one of: periodic|revision. 'periodic' for duration "
     "based retention, defaulting to hours if no time unit is provided (e.g. '5m'). 'revision' "
     "for revision number based retention."},
    {"config-file", "",
     "Path to the server configuration file. Note that if a configuration file is provided, "
     "other command line flags and environment variables will be ignored."},
    // TLS (etcd 3.4's security flags).
    {"cert-file", "", "Path to the client server TLS cert file."},
    {"key-file", "", "Path to the client server TLS key file."},
    {"client-cert-auth", "false", "Enable client cert authentication.", true},
    {"trusted-ca-file", "", "Path to the client server TLS trusted CA cert file."},
    {"auto-tls", "false", "Client TLS using generated certificates.", true},
    {"peer-cert-file", "", "Path to the peer server TLS cert file."},
    {"peer-key-file", "", "Path to the peer server TLS key file."},
    {"peer-client-cert-auth", "false", "Enable peer client cert authentication.", true},
    {"peer-trusted-ca-file", "", "Path to the peer server TLS trusted CA file."},
    {"peer-auto-tls", "false",
     "Peer TLS using self-generated certificates if --peer-key-file and --peer-cert-file are "
     "not provided.",
     true},
    {"client-crl-file", "", "Path to the client certificate revocation list file."},
    {"client-cert-allowed-hostname", "",
     "Allowed TLS hostname for client cert authentication."},
    {"peer-crl-file", "", "Path to the peer certificate revocation list file."},
    {"peer-cert-allowed-cn", "", "Required CN for client certs connecting to the peer endpoint."},
    {"peer-cert-allowed-hostname", "", "Allowed TLS hostname for inter peer authentication."},
    {"cipher-suites", "",
     "Comma-separated list of supported TLS cipher suites between client/server and peers "
     "(empty will be auto-populated by Go)."},
};

// etcd's etcdmain flag set also holds every flag of node/etcd_flag_table.h.
bool IsBoolFlag(absl::string_view name) {
  for (const FlagSpec& spec : kFlags) {
    if (name == spec.name) return spec.is_bool;
  }
  const EtcdFlag* other = FindUnservedFlag(name);
  return other != nullptr && other->kind == FlagKind::kBool;
}

const FlagSpec* FindFlag(absl::string_view name) {
  for (const FlagSpec& spec : kFlags) {
    if (name == spec.name) return &spec;
  }
  return nullptr;
}

absl::Status InvalidValue(absl::string_view flag, absl::string_view value, absl::string_view why) {
  // Go's flag package wording.
  return absl::InvalidArgumentError(
      absl::StrCat("invalid value \"", value, "\" for flag -", flag, ": ", why));
}

// Splits argv into flag -> value (last one wins, like Go): only what the command line sets.
absl::StatusOr<std::map<std::string, std::string>> SplitArgs(const std::vector<std::string>& args,
                                                             bool* help, bool* version) {
  std::map<std::string, std::string> values;
  for (size_t i = 0; i < args.size(); ++i) {
    absl::string_view arg = args[i];
    if (!absl::ConsumePrefix(&arg, "-") || arg.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("'", args[i], "' is not a valid flag"));
    }
    absl::ConsumePrefix(&arg, "-");
    absl::string_view name = arg;
    std::string value;
    bool has_value = false;
    if (size_t eq = arg.find('='); eq != absl::string_view::npos) {
      name = arg.substr(0, eq);
      value = std::string(arg.substr(eq + 1));
      has_value = true;
    }
    if (name == "help" || name == "h") {
      *help = true;
      continue;
    }
    if (name == "version") {
      *version = true;
      continue;
    }
    if (FindFlag(name) == nullptr && FindUnservedFlag(name) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("flag provided but not defined: -", name));
    }
    if (!has_value && IsBoolFlag(name)) {
      value = "true";  // Go: a bool flag never takes the next argument
    } else if (!has_value) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat("flag needs an argument: -", name));
      }
      value = args[++i];
    }
    values[std::string(name)] = value;
  }
  return values;
}

// Go's strconv.ParseBool.
bool ParseGoBool(absl::string_view value, bool* out) {
  static const char* const kTrue[] = {"1", "t", "T", "TRUE", "true", "True"};
  static const char* const kFalse[] = {"0", "f", "F", "FALSE", "false", "False"};
  for (const char* t : kTrue) {
    if (value == t) return *out = true, true;
  }
  for (const char* f : kFalse) {
    if (value == f) return *out = false, true;
  }
  return false;
}

absl::StatusOr<bool> ParseBoolFlag(absl::string_view flag, const std::string& value) {
  bool parsed = false;
  if (!ParseGoBool(value, &parsed)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid boolean value \"", value, "\" for -", flag, ": parse error"));
  }
  return parsed;
}

std::string EnvName(absl::string_view flag) {
  std::string name = absl::StrCat("ETCD_", flag);
  for (char& c : name) c = c == '-' ? '_' : absl::ascii_toupper(c);
  return name;
}

// Every flag name etcd's flag set knows, in one list.
std::vector<std::string> AllFlagNames() {
  std::vector<std::string> names;
  for (const FlagSpec& spec : kFlags) names.emplace_back(spec.name);
  for (const EtcdFlag& f : UnservedEtcdFlags()) names.emplace_back(f.name);
  for (const EtcdFlag& f : TlsEtcdFlags()) names.emplace_back(f.name);
  return names;
}

// The command line plus ETCD_* variables (etcd's pkg/flags SetFlagsFromEnv + verifyEnv).
// `from_env` collects the flags set from a variable (for error messages).
absl::Status AddEnvironment(const std::vector<std::string>& environ,
                            std::map<std::string, std::string>* set,
                            std::map<std::string, std::string>* from_env, KeeldConfig* config) {
  std::map<std::string, std::string> env;
  for (const std::string& entry : environ) {
    const size_t eq = entry.find('=');
    if (eq == std::string::npos) continue;
    env.emplace(entry.substr(0, eq), entry.substr(eq + 1));
  }
  std::map<std::string, bool> handled;
  for (const std::string& flag : AllFlagNames()) {
    const std::string key = EnvName(flag);
    auto it = env.find(key);
    if (it == env.end()) continue;
    handled[key] = true;
    if (set->count(flag) > 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "conflicting environment variable \"", key,
          "\" is shadowed by corresponding command-line flag (either unset environment "
          "variable or disable flag)"));
    }
    if (it->second.empty()) continue;
    (*set)[flag] = it->second;
    (*from_env)[flag] = key;
    config->notices.push_back(
        absl::StrCat("recognized and used environment variable ", key, "=", it->second));
  }
  for (const auto& [key, value] : env) {
    if (!handled[key] && absl::StartsWith(key, "ETCD_")) {
      config->warnings.push_back(absl::StrCat("unrecognized environment variable ", key, "=", value));
    }
  }
  return absl::OkStatus();
}

absl::Status AddConfigFile(const std::string& path, const FlagSources& sources,
                           std::map<std::string, std::string>* set, KeeldConfig* config) {
  if (!sources.read_file) return absl::FailedPreconditionError("cannot read --config-file");
  absl::StatusOr<std::string> text = sources.read_file(path);
  if (!text.ok()) return text.status();
  auto entries = ParseEtcdConfigYaml(*text);
  if (!entries.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("error loading config file ", path, ": ", entries.status().message()));
  }
  for (const auto& [key, value] : *entries) {
    if (FindFlag(key) == nullptr && FindUnservedFlag(key) == nullptr) {
      config->warnings.push_back(
          absl::StrCat("config file ", path, ": unknown key \"", key, "\" ignored"));
      continue;
    }
    (*set)[key] = value;
  }
  set->erase("config-file");
  config->notices.push_back(absl::StrCat(
      "loaded server configuration from ", path,
      "; other configuration command line flags and environment variables will be ignored "
      "if provided"));
  return absl::OkStatus();
}

// Warnings for accepted-and-ignored flags, errors for refused ones (etcd_flag_table.h).
absl::Status ApplyDispositions(const std::map<std::string, std::string>& set,
                               KeeldConfig* config) {
  for (const auto& [name, value] : set) {
    const EtcdFlag* flag = FindUnservedFlag(name);
    if (flag == nullptr) continue;
    if (flag->disposition == Disposition::kWarn) {
      config->warnings.push_back(absl::StrCat("--", name, " is accepted and ignored: ", flag->why));
      continue;
    }
    bool is_default = value == flag->default_value;
    if (flag->kind == FlagKind::kBool) {
      absl::StatusOr<bool> parsed = ParseBoolFlag(name, value);
      if (!parsed.ok()) return parsed.status();
      is_default = *parsed == (std::string(flag->default_value) == "true");
    }
    if (!is_default) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, "=", value, " is not supported by keeld: ", flag->why));
    }
  }
  return absl::OkStatus();
}

// etcd 3.4's parseCompactionRetention and Config.Validate's mode check.
absl::Status ParseAutoCompaction(const std::string& mode, const std::string& retention,
                                 ServerFlags* s) {
  if (mode != "periodic" && mode != "revision" && !mode.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("unknown auto-compaction-mode \"", mode, "\""));
  }
  s->auto_compaction_periodic = mode != "revision";
  int64_t count = 0;
  int64_t ns = 0;
  if (absl::SimpleAtoi(retention, &count) && count >= 0) {
    ns = s->auto_compaction_periodic ? count * 3600 * int64_t{1'000'000'000} : count;
  } else {
    absl::Duration d;
    if (!absl::ParseDuration(retention, &d)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "error parsing CompactionRetention: time: invalid duration \"", retention, "\""));
    }
    ns = absl::ToInt64Nanoseconds(d);
  }
  if (s->auto_compaction_periodic) {
    s->auto_compaction_retention_ns = ns;
  } else {
    s->auto_compaction_retention_revisions = ns;  // etcd: time.Duration used as a count
  }
  return absl::OkStatus();
}

// Go's time.ParseDuration as the flag package reports it ("parse error"); negative
// durations are accepted as Go does, and mean 0 to gRPC. A bare integer is nanoseconds:
// etcd's --config-file holds time.Duration fields as JSON numbers (5000000000 = 5s), and
// config_file.cc hands them over as they are.
absl::StatusOr<int64_t> ParseDurationMs(absl::string_view flag, const std::string& value) {
  int64_t ns = 0;
  if (absl::SimpleAtoi(value, &ns)) return std::max<int64_t>(0, ns / 1'000'000);
  absl::Duration d;
  if (!absl::ParseDuration(value, &d) || d == absl::InfiniteDuration() ||
      d == -absl::InfiniteDuration()) {
    return InvalidValue(flag, value, "parse error");
  }
  return std::max<int64_t>(0, absl::ToInt64Milliseconds(d));
}

// --max-concurrent-streams and --grpc-keepalive-*, etcd 3.4's names, defaults and errors.
absl::Status ParseGrpcServerFlags(std::map<std::string, std::string>& v, KeeldConfig* config) {
  const std::string& streams = v["max-concurrent-streams"];
  if (streams != "math.MaxUint32") {
    uint64_t parsed = 0;
    if (!absl::SimpleAtoi(streams, &parsed) || streams.empty() || streams[0] == '-' ||
        parsed > UINT32_MAX) {
      return InvalidValue("max-concurrent-streams", streams,
                          absl::StrCat("strconv.ParseUint: parsing \"", streams,
                                       "\": ", parsed > UINT32_MAX ? "value out of range" : "invalid syntax"));
    }
    config->max_concurrent_streams = static_cast<int64_t>(parsed);
  }
  struct DurationFlag {
    const char* name;
    int64_t* out;
  };
  const DurationFlag durations[] = {
      {"grpc-keepalive-min-time", &config->grpc_keepalive_min_time_ms},
      {"grpc-keepalive-interval", &config->grpc_keepalive_interval_ms},
      {"grpc-keepalive-timeout", &config->grpc_keepalive_timeout_ms},
  };
  for (const DurationFlag& flag : durations) {
    absl::StatusOr<int64_t> ms = ParseDurationMs(flag.name, v[flag.name]);
    if (!ms.ok()) return ms.status();
    *flag.out = *ms;
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ParseInt(absl::string_view flag, const std::string& value) {
  int64_t parsed = 0;
  if (!absl::SimpleAtoi(value, &parsed)) return InvalidValue(flag, value, "parse error");
  return parsed;
}

absl::StatusOr<std::vector<Url>> ParseUrlsFlag(absl::string_view flag, const std::string& value) {
  absl::StatusOr<std::vector<Url>> urls = ParseUrlList(value);
  if (!urls.ok()) return InvalidValue(flag, value, urls.status().message());
  for (const Url& url : *urls) {
    // The one place that decides what a listener can serve: https needs TLS flags (checked
    // in Validate); --listen-metrics-urls serves plaintext only.
    if (url.scheme != "http" && (url.scheme != "https" || flag == "listen-metrics-urls")) {
      return InvalidValue(flag, value, "only http:// URLs are supported here");
    }
  }
  return urls;
}

// etcd's configurePeerListeners / configureClientListeners TLS checks, in etcd's order.
absl::Status ValidateTls(const KeeldConfig& config) {
  for (const Url& url : config.listen_peer_urls) {
    if (url.scheme == "https" && config.peer_tls.Empty() && !config.peer_tls.auto_tls) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cannot listen on TLS for ", url.HostPort(), ": KeyFile and CertFile are not presented"));
    }
  }
  for (const Url& url : config.listen_client_urls) {
    if (url.scheme == "https" && config.client_tls.Empty() && !config.client_tls.auto_tls) {
      return absl::InvalidArgumentError(
          absl::StrCat("TLS key/cert (--cert-file, --key-file) must be provided for client url ",
                       url.ToString(), " with HTTPS scheme"));
    }
  }
  return absl::OkStatus();
}

// "a=http://x:1,b=http://y:2,a=http://x:3" -> members in order of first appearance.
absl::StatusOr<std::vector<Member>> ParseInitialCluster(const std::string& value) {
  std::vector<Member> members;
  for (absl::string_view entry : absl::StrSplit(value, ',', absl::SkipWhitespace())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(entry, absl::MaxSplits('=', 1));
    std::string name(absl::StripAsciiWhitespace(kv.first));
    if (name.empty() || kv.second.empty()) {
      return InvalidValue("initial-cluster", value, "entries must be name=url");
    }
    absl::StatusOr<Url> url = ParseUrl(absl::StripAsciiWhitespace(kv.second));
    if (!url.ok()) return InvalidValue("initial-cluster", value, url.status().message());
    Member* member = nullptr;
    for (Member& existing : members) {
      if (existing.name == name) member = &existing;
    }
    if (member == nullptr) {
      members.push_back(Member{name, {}});
      member = &members.back();
    }
    member->peer_urls.push_back(url->ToString());
  }
  if (members.empty()) return InvalidValue("initial-cluster", value, "empty cluster");
  return members;
}

std::vector<std::string> UrlStrings(const std::vector<Url>& urls) {
  std::vector<std::string> out;
  for (const Url& url : urls) out.push_back(url.ToString());
  return out;
}

absl::StatusOr<LogLevel> ParseLogLevel(const std::string& value) {
  if (value == "debug") return LogLevel::kDebug;
  if (value == "info") return LogLevel::kInfo;
  if (value == "warn") return LogLevel::kWarn;
  if (value == "error") return LogLevel::kError;
  return InvalidValue("log-level", value, "must be one of debug, info, warn, error");
}

// etcd's embed.Config.Validate and etcdserver.ServerConfig.VerifyBootstrap rules.
absl::Status Validate(const KeeldConfig& config, bool listen_client_given,
                      bool advertise_client_given) {
  const ServerFlags& s = config.server;
  if (s.heartbeat_interval_ms <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--heartbeat-interval must be >0 (set to ", s.heartbeat_interval_ms, "ms)"));
  }
  if (s.election_timeout_ms <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--election-timeout must be >0 (set to ", s.election_timeout_ms, "ms)"));
  }
  if (5 * s.heartbeat_interval_ms > s.election_timeout_ms) {
    return absl::InvalidArgumentError(
        absl::StrCat("--election-timeout[", s.election_timeout_ms,
                     "ms] should be at least as 5 times as --heartbeat-interval[",
                     s.heartbeat_interval_ms, "ms]"));
  }
  if (s.election_timeout_ms > kMaxElectionMs) {
    return absl::InvalidArgumentError(absl::StrCat("--election-timeout[", s.election_timeout_ms,
                                                   "ms] is too long, and should be set less than ",
                                                   kMaxElectionMs, "ms"));
  }
  if (listen_client_given && !advertise_client_given) {
    return absl::InvalidArgumentError(
        "--advertise-client-urls is required when --listen-client-urls is set explicitly");
  }
  const Member* self = nullptr;
  for (const Member& member : s.initial_cluster) {
    if (member.name == s.name) self = &member;
  }
  if (self == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("couldn't find local name \"", s.name,
                                                   "\" in the initial cluster configuration"));
  }
  std::vector<std::string> cluster_urls = self->peer_urls;
  std::vector<std::string> advertised = s.advertise_peer_urls;
  std::sort(cluster_urls.begin(), cluster_urls.end());
  std::sort(advertised.begin(), advertised.end());
  if (cluster_urls != advertised) {
    return absl::InvalidArgumentError(
        absl::StrCat("--initial-cluster has ", s.name, "=", absl::StrJoin(self->peer_urls, ","),
                     " but missing from --initial-advertise-peer-urls=",
                     absl::StrJoin(s.advertise_peer_urls, ",")));
  }
  if (s.max_txn_ops == 0) {
    return absl::InvalidArgumentError("--max-txn-ops must be >0");
  }
  return absl::OkStatus();
}

absl::StatusOr<KeeldConfig> ParseValues(const std::map<std::string, std::string>& set,
                                        bool from_file, KeeldConfig config);

absl::StatusOr<KeeldConfig> ParseResolved(const std::map<std::string, std::string>& given,
                                          const FlagSources& sources, KeeldConfig config) {
  // Sources, with etcd's precedence (FlagSources).
  std::map<std::string, std::string> set;
  std::map<std::string, std::string> from_env;
  std::string config_file = given.count("config-file") > 0 ? given.at("config-file") : "";
  if (config_file.empty()) {
    for (const std::string& entry : sources.environ) {
      if (absl::StartsWith(entry, "ETCD_CONFIG_FILE=")) config_file = entry.substr(17);
    }
  }
  const bool from_file = !config_file.empty();
  if (!from_file) set = given;
  absl::Status sourced = from_file ? AddConfigFile(config_file, sources, &set, &config)
                                   : AddEnvironment(sources.environ, &set, &from_env, &config);
  if (!sourced.ok()) return sourced;
  absl::StatusOr<KeeldConfig> parsed = ParseValues(set, from_file, std::move(config));
  if (parsed.ok()) return parsed;
  // etcd names the variable a bad value came from: "invalid value "x" for ETCD_NAME: ...".
  std::string message(parsed.status().message());
  for (const auto& [flag, key] : from_env) {
    for (const std::string& flag_ref :
         {absl::StrCat(" for flag -", flag, ":"), absl::StrCat(" for -", flag, ":")}) {
      if (size_t at = message.find(flag_ref); at != std::string::npos) {
        message.replace(at, flag_ref.size(), absl::StrCat(" for ", key, ":"));
      }
    }
  }
  return absl::Status(parsed.status().code(), message);
}

absl::StatusOr<KeeldConfig> ParseValues(const std::map<std::string, std::string>& set,
                                        bool from_file, KeeldConfig config) {
  absl::Status dispositions = ApplyDispositions(set, &config);
  if (!dispositions.ok()) return dispositions;
  std::map<std::string, std::string> v;
  for (const FlagSpec& spec : kFlags) v[spec.name] = spec.default_value;
  for (const auto& [name, value] : set) {
    if (FindFlag(name) != nullptr) v[name] = value;
  }
  ServerFlags& s = config.server;

  s.name = v["name"];
  s.data_dir = v["data-dir"].empty() ? absl::StrCat(s.name, ".etcd") : v["data-dir"];

  absl::StatusOr<std::vector<Url>> urls =
      ParseUrlsFlag("listen-client-urls", v["listen-client-urls"]);
  if (!urls.ok()) return urls.status();
  config.listen_client_urls = *std::move(urls);
  urls = ParseUrlsFlag("advertise-client-urls", v["advertise-client-urls"]);
  if (!urls.ok()) return urls.status();
  s.advertise_client_urls = UrlStrings(*urls);
  urls = ParseUrlsFlag("listen-peer-urls", v["listen-peer-urls"]);
  if (!urls.ok()) return urls.status();
  config.listen_peer_urls = *std::move(urls);
  urls = ParseUrlsFlag("initial-advertise-peer-urls", v["initial-advertise-peer-urls"]);
  if (!urls.ok()) return urls.status();
  s.advertise_peer_urls = UrlStrings(*urls);
  if (!v["listen-metrics-urls"].empty()) {
    urls = ParseUrlsFlag("listen-metrics-urls", v["listen-metrics-urls"]);
    if (!urls.ok()) return urls.status();
    config.listen_metrics_urls = *std::move(urls);
  }

  absl::StatusOr<std::vector<Member>> cluster = ParseInitialCluster(v["initial-cluster"]);
  if (!cluster.ok()) return cluster.status();
  s.initial_cluster = *std::move(cluster);
  const std::string& state = v["initial-cluster-state"];
  if (state != "new" && state != "existing") {
    return InvalidValue("initial-cluster-state", state, "valid values are \"new\", \"existing\"");
  }
  s.initial_cluster_state_new = state == "new";
  s.initial_cluster_token = v["initial-cluster-token"];

  struct IntFlag {
    const char* name;
    int64_t min;
    int64_t* out;
  };
  int64_t snapshot_count = 0, max_request_bytes = 0, max_txn_ops = 0;
  const IntFlag int_flags[] = {
      {"heartbeat-interval", INT64_MIN, &s.heartbeat_interval_ms},
      {"election-timeout", INT64_MIN, &s.election_timeout_ms},
      {"snapshot-count", 1, &snapshot_count},
      {"quota-backend-bytes", 0, &s.quota_backend_bytes},
      {"max-request-bytes", 1, &max_request_bytes},
      {"max-txn-ops", 1, &max_txn_ops},
      {"bcrypt-cost", 4, &s.bcrypt_cost},
      {"auth-token-ttl", 1, &s.auth_token_ttl_s},
  };
  for (const IntFlag& flag : int_flags) {
    absl::StatusOr<int64_t> parsed = ParseInt(flag.name, v[flag.name]);
    if (!parsed.ok()) return parsed.status();
    if (*parsed < flag.min) {
      return InvalidValue(flag.name, v[flag.name], absl::StrCat("must be >= ", flag.min));
    }
    *flag.out = *parsed;
  }
  if (s.bcrypt_cost > 31) return InvalidValue("bcrypt-cost", v["bcrypt-cost"], "must be <= 31");
  // "simple" or "jwt,...": anything else fails at start with etcd's "auth: invalid auth
  // options" (keeld.cc), as etcd's NewTokenProvider does.
  s.auth_token = v["auth-token"];
  if (max_txn_ops > UINT32_MAX) return InvalidValue("max-txn-ops", v["max-txn-ops"], "too large");
  s.snapshot_count = static_cast<uint64_t>(snapshot_count);
  s.max_request_bytes = static_cast<uint64_t>(max_request_bytes);
  s.max_txn_ops = static_cast<uint32_t>(max_txn_ops);
  // etcd: request timeout = 5s + 2 * election timeout.
  s.request_timeout_ms = 5000 + 2 * s.election_timeout_ms;

  absl::Status grpc_flags = ParseGrpcServerFlags(v, &config);
  if (!grpc_flags.ok()) return grpc_flags;

  absl::StatusOr<LogLevel> level = ParseLogLevel(v["log-level"]);
  if (!level.ok()) return level.status();
  config.log_level = *level;
  struct BoolFlag {
    const char* name;
    bool* out;
  };
  bool debug = false;
  const BoolFlag bool_flags[] = {{"debug", &debug},
                                 {"force-new-cluster", &s.force_new_cluster},
                                 {"pre-vote", &s.pre_vote},
                                 {"experimental-initial-corrupt-check",
                                  &s.initial_corrupt_check},
                                 {"strict-reconfig-check", &s.strict_reconfig_check}};
  for (const BoolFlag& flag : bool_flags) {
    absl::StatusOr<bool> parsed = ParseBoolFlag(flag.name, v[flag.name]);
    if (!parsed.ok()) return parsed.status();
    *flag.out = *parsed;
  }
  if (debug) config.log_level = LogLevel::kDebug;  // etcd 3.4: --debug = --log-level=debug
  s.wal_dir = v["wal-dir"];
  for (auto [name, out] : {std::pair{"max-snapshots", &s.max_snapshots},
                           std::pair{"max-wals", &s.max_wals}}) {
    // Go's flag.Uint: no sign, no overflow.
    if (!absl::SimpleAtoi(v[name], out) || absl::StartsWith(v[name], "-")) {
      return InvalidValue(name, v[name], "parse error");
    }
  }
  {
    // A Go time.Duration flag: "0s", "5m", "1h30m"; zero or negative = off.
    absl::Duration d;
    const std::string& value = v["experimental-corrupt-check-time"];
    if (!absl::ParseDuration(value, &d)) {
      return InvalidValue("experimental-corrupt-check-time", value, "parse error");
    }
    s.corrupt_check_time_ms = absl::ToInt64Milliseconds(d);
  }
  absl::Status compaction =
      ParseAutoCompaction(v["auto-compaction-mode"], v["auto-compaction-retention"], &s);
  if (!compaction.ok()) return compaction;

  struct TlsFlagNames {
    TlsFlags* out;
    const char* cert;
    const char* key;
    const char* ca;
    const char* cert_auth;
    const char* auto_tls;
    const char* crl;
    const char* allowed_cn;  // "": no such flag (the client port has none in etcd 3.4)
    const char* allowed_hostname;
  };
  const TlsFlagNames tls_flags[] = {
      {&config.client_tls, "cert-file", "key-file", "trusted-ca-file", "client-cert-auth",
       "auto-tls", "client-crl-file", "", "client-cert-allowed-hostname"},
      {&config.peer_tls, "peer-cert-file", "peer-key-file", "peer-trusted-ca-file",
       "peer-client-cert-auth", "peer-auto-tls", "peer-crl-file", "peer-cert-allowed-cn",
       "peer-cert-allowed-hostname"},
  };
  for (const TlsFlagNames& f : tls_flags) {
    f.out->cert_file = v[f.cert];
    f.out->key_file = v[f.key];
    f.out->trusted_ca_file = v[f.ca];
    f.out->crl_file = v[f.crl];
    if (*f.allowed_cn != '\0') f.out->allowed_cn = v[f.allowed_cn];
    f.out->allowed_hostname = v[f.allowed_hostname];
    for (auto [name, out] : {std::pair{f.cert_auth, &f.out->client_cert_auth},
                             std::pair{f.auto_tls, &f.out->auto_tls}}) {
      absl::StatusOr<bool> parsed = ParseBoolFlag(name, v[name]);
      if (!parsed.ok()) return parsed.status();
      *out = *parsed;
    }
  }
  for (absl::string_view suite : absl::StrSplit(v["cipher-suites"], ',', absl::SkipEmpty())) {
    config.cipher_suites.emplace_back(absl::StripAsciiWhitespace(suite));
  }

  // etcd's "--listen-client-urls without --advertise-client-urls" rule is a command-line
  // rule (etcdmain's missingAC); a configuration file keeps the advertise default.
  absl::Status valid = Validate(config, !from_file && set.count("listen-client-urls") > 0,
                                from_file || set.count("advertise-client-urls") > 0);
  if (!valid.ok()) return valid;
  valid = ValidateTls(config);
  if (!valid.ok()) return valid;
  return config;
}

}  // namespace

absl::StatusOr<KeeldConfig> ParseKeeldFlags(const std::vector<std::string>& args,
                                            const FlagSources& sources) {
  KeeldConfig config;
  absl::StatusOr<std::map<std::string, std::string>> given =
      SplitArgs(args, &config.help, &config.version);
  if (!given.ok()) return given.status();
  if (config.help || config.version) return config;
  absl::StatusOr<KeeldConfig> parsed = ParseResolved(*given, sources, std::move(config));
  return parsed;
}

std::string KeeldUsage() {
  std::string usage = "Usage: keeld [flags]\n\nFlags (etcd 3.4 names and defaults):\n";
  for (const FlagSpec& spec : kFlags) {
    absl::StrAppend(&usage, "  --", spec.name, " '", spec.default_value, "'\n      ", spec.help,
                    "\n");
  }
  absl::StrAppend(&usage, "\nAccepted for etcd compatibility (ignored with a warning, or refused "
                          "unless left at the default):\n");
  for (absl::Span<const EtcdFlag> table : {UnservedEtcdFlags(), TlsEtcdFlags()}) {
    for (const EtcdFlag& flag : table) {
      absl::StrAppend(&usage, "  --", flag.name, " '", flag.default_value, "'  ",
                      flag.disposition == Disposition::kWarn ? "ignored: " : "refused: ",
                      flag.why, "\n");
    }
  }
  return usage;
}

}  // namespace keel::node
