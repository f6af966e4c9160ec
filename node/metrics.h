// /metrics: the server core's ServerStats, the gRPC interceptor's counters and the
// process' own figures in Prometheus' text exposition format (0.0.4), under etcd 3.4's
// metric names, types, help strings and bucket bounds, so that existing dashboards and
// alerts work unchanged. The list is in node/README.md ("Metrics").
#ifndef KEEL_NODE_METRICS_H_
#define KEEL_NODE_METRICS_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "node/grpc/metrics_interceptor.h"
#include "server/server.h"

namespace keel::node {

// Content-Type of RenderMetrics' output.
inline constexpr char kPrometheusContentType[] = "text/plain; version=0.0.4; charset=utf-8";

// What node/ counts itself, on gRPC and HTTP threads (thread-safe).
struct NodeMetrics {
  GrpcMetrics grpc;
  std::atomic<uint64_t> health_success{0};
  std::atomic<uint64_t> health_failures{0};
};

// `node` may be null (core-only figures, for tests). Process figures are read from
// /proc/self (omitted if unreadable). Thread-safe; call off the Loop (it reads /proc).
std::string RenderMetrics(const server::ServerStats& stats, const NodeMetrics* node = nullptr);

// etcd 3.4's /health bodies.
inline constexpr char kHealthyBody[] = "{\"health\":\"true\"}";
inline constexpr char kUnhealthyBody[] = "{\"health\":\"false\"}";

}  // namespace keel::node

#endif  // KEEL_NODE_METRICS_H_
