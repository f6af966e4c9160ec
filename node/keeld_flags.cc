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
#include "absl/strings/strip.h"

namespace keel::node {
namespace {

// etcd's embed.maxElectionMs.
constexpr int64_t kMaxElectionMs = 50000;

struct FlagSpec {
  const char* name;
  const char* default_value;
  const char* help;
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
    {"quota-backend-bytes", "0",
     "Raise alarms when backend size exceeds the given quota (0 defaults to low space quota)."},
    {"max-request-bytes", "1572864",
     "Maximum client request size in bytes the server will accept."},
    {"max-txn-ops", "128", "Maximum number of operations permitted in a transaction."},
    {"auth-token", "simple",
     "Specify a v3 authentication token type and its options ('simple' or 'jwt')."},
    {"bcrypt-cost", "10",
     "Specify the cost / strength of the bcrypt algorithm for hashing auth passwords. Valid "
     "values are between 4 and 31."},
    {"auth-token-ttl", "300", "Time (in seconds) of the auth-token-ttl."},
    {"log-level", "info", "Configures log level. Only supports debug, info, warn, error."},
};

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

// Splits argv into flag -> value (last one wins, like Go), applying defaults.
absl::StatusOr<std::map<std::string, std::string>> SplitArgs(const std::vector<std::string>& args,
                                                             std::map<std::string, bool>* given,
                                                             bool* help, bool* version) {
  std::map<std::string, std::string> values;
  for (const FlagSpec& spec : kFlags) values[spec.name] = spec.default_value;
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
    if (FindFlag(name) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("flag provided but not defined: -", name));
    }
    if (!has_value) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat("flag needs an argument: -", name));
      }
      value = args[++i];
    }
    values[std::string(name)] = value;
    (*given)[std::string(name)] = true;
  }
  return values;
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
    // The one place that decides what a listener can serve; TLS slots in here.
    if (url.scheme != "http") {
      return InvalidValue(flag, value, "only http:// URLs are supported (TLS is not yet)");
    }
  }
  return urls;
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

}  // namespace

absl::StatusOr<KeeldConfig> ParseKeeldFlags(const std::vector<std::string>& args) {
  std::map<std::string, bool> given;
  KeeldConfig config;
  absl::StatusOr<std::map<std::string, std::string>> values =
      SplitArgs(args, &given, &config.help, &config.version);
  if (!values.ok()) return values.status();
  if (config.help || config.version) return config;
  std::map<std::string, std::string>& v = *values;
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
  // Only etcd's default token type; JWT tokens are not implemented.
  if (v["auth-token"] != "simple") {
    return InvalidValue("auth-token", v["auth-token"], "only 'simple' is supported by keeld");
  }
  if (max_txn_ops > UINT32_MAX) return InvalidValue("max-txn-ops", v["max-txn-ops"], "too large");
  s.snapshot_count = static_cast<uint64_t>(snapshot_count);
  s.max_request_bytes = static_cast<uint64_t>(max_request_bytes);
  s.max_txn_ops = static_cast<uint32_t>(max_txn_ops);
  // etcd: request timeout = 5s + 2 * election timeout.
  s.request_timeout_ms = 5000 + 2 * s.election_timeout_ms;

  absl::StatusOr<LogLevel> level = ParseLogLevel(v["log-level"]);
  if (!level.ok()) return level.status();
  config.log_level = *level;

  absl::Status valid = Validate(config, given.count("listen-client-urls") > 0,
                                given.count("advertise-client-urls") > 0);
  if (!valid.ok()) return valid;
  return config;
}

std::string KeeldUsage() {
  std::string usage = "Usage: keeld [flags]\n\nFlags (etcd 3.4 names and defaults):\n";
  for (const FlagSpec& spec : kFlags) {
    absl::StrAppend(&usage, "  --", spec.name, " '", spec.default_value, "'\n      ", spec.help,
                    "\n");
  }
  return usage;
}

}  // namespace keel::node
