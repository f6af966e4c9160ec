#include "node/etcd_flag_table.h"

namespace keel::node {
namespace {

constexpr FlagKind S = FlagKind::kString;
constexpr FlagKind B = FlagKind::kBool;
constexpr Disposition W = Disposition::kWarn;
constexpr Disposition R = Disposition::kRefuse;

constexpr char kGoRuntime[] = "Go-runtime specific; keeld has no equivalent";
constexpr char kBolt[] = "bbolt specific; Keel's backend is LevelDB";
constexpr char kLogging[] = "keeld logs plain lines on stderr (--log-level applies)";
constexpr char kProxy[] = "only meaningful with --proxy, which keeld does not serve";
constexpr char kLegacy[] = "no longer supported (etcd ignores it too)";

constexpr EtcdFlag kUnserved[] = {
    // Go runtime, bbolt and logging specifics: accepted and ignored.
    {"enable-pprof", "false", B, W, kGoRuntime},
    {"logger", "capnslog", S, W, kLogging},
    {"log-outputs", "default", S, W, kLogging},
    {"log-output", "default", S, W, kLogging},
    {"log-package-levels", "", S, W, kLogging},
    {"metrics", "basic", S, W, "keeld always exports the same /metrics series"},
    {"backend-batch-interval", "", S, W, kBolt},
    {"backend-batch-limit", "0", S, W, kBolt},
    {"experimental-backend-bbolt-freelist-type", "array", S, W, kBolt},
    {"experimental-compaction-batch-limit", "1000", S, W,
     "Keel compacts in fixed batches of 1000 records"},
    {"unsafe-no-fsync", "false", B, W, "keeld always fsyncs its WAL"},
    // Tuning whose Keel equivalent is fixed today.
    {"initial-election-tick-advance", "true", B, W, "Keel's election timer starts from zero"},
    {"enable-grpc-gateway", "true", B, W, "keeld serves no JSON gateway"},
    {"experimental-warning-apply-duration", "100ms", S, W, "keeld logs no slow-apply warnings"},
    {"experimental-watch-progress-notify-interval", "10m", S, W,
     "keeld sends progress notifications only when asked"},
    {"cors", "*", S, W, "keeld serves no v2 HTTP API"},
    {"host-whitelist", "*", S, W, "keeld serves no v2 HTTP API"},
    {"discovery-fallback", "proxy", S, W, "only meaningful with --discovery"},
    {"discovery-proxy", "", S, W, "only meaningful with --discovery"},
    {"proxy-failure-wait", "5000", S, W, kProxy},
    {"proxy-refresh-interval", "30000", S, W, kProxy},
    {"proxy-dial-timeout", "1000", S, W, kProxy},
    {"proxy-write-timeout", "5000", S, W, kProxy},
    {"proxy-read-timeout", "0", S, W, kProxy},
    // etcd's own list of ignored legacy flags (etcdmain/config.go `ignored`).
    {"cluster-active-size", "", B, W, kLegacy},
    {"cluster-remove-delay", "", B, W, kLegacy},
    {"cluster-sync-interval", "", B, W, kLegacy},
    {"config", "", B, W, kLegacy},
    {"force", "", B, W, kLegacy},
    {"max-result-buffer", "", B, W, kLegacy},
    {"max-retry-attempts", "", B, W, kLegacy},
    {"peer-heartbeat-interval", "", B, W, kLegacy},
    {"peer-election-timeout", "", B, W, kLegacy},
    {"retry-interval", "", B, W, kLegacy},
    {"snapshot", "", B, W, kLegacy},
    {"v", "", B, W, kLegacy},
    {"vv", "", B, W, kLegacy},
    // Features Keel lacks: refused unless left at etcd's default.
    {"discovery", "", S, R, "discovery bootstrap is not implemented; use --initial-cluster"},
    {"discovery-srv", "", S, R, "DNS discovery is not implemented; use --initial-cluster"},
    {"discovery-srv-name", "", S, R, "DNS discovery is not implemented; use --initial-cluster"},
    {"enable-v2", "false", B, R, "Keel serves only the v3 API"},
    {"experimental-enable-v2v3", "", S, R, "Keel serves only the v3 API"},
    {"proxy", "off", S, R, "keeld is never a proxy"},
    {"experimental-enable-lease-checkpoint", "false", B, R, "lease checkpoints are not implemented"},
    {"experimental-enable-lease-checkpoint-persist", "false", B, R,
     "lease checkpoints are not implemented"},
};

// ---- TLS flags keeld does not serve (the served ones are in keeld_flags.cc): refused
// unless left at etcd's default. ----
constexpr char kNoTls[] = "skipping the peer certificate SAN check is not supported";
constexpr EtcdFlag kTls[] = {
    {"experimental-peer-skip-client-san-verification", "false", B, R, kNoTls},
};

}  // namespace

absl::Span<const EtcdFlag> UnservedEtcdFlags() { return kUnserved; }
absl::Span<const EtcdFlag> TlsEtcdFlags() { return kTls; }

const EtcdFlag* FindUnservedFlag(absl::string_view name) {
  for (const EtcdFlag& f : kUnserved) {
    if (name == f.name) return &f;
  }
  for (const EtcdFlag& f : kTls) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

}  // namespace keel::node
