// /metrics: the server core's ServerStats in Prometheus' text exposition format (0.0.4),
// under etcd's metric names so that existing dashboards and alerts work unchanged.
#ifndef KEEL_NODE_METRICS_H_
#define KEEL_NODE_METRICS_H_

#include <string>

#include "server/server.h"

namespace keel::node {

// Content-Type of RenderMetrics' output.
inline constexpr char kPrometheusContentType[] = "text/plain; version=0.0.4; charset=utf-8";

std::string RenderMetrics(const server::ServerStats& stats);

// etcd 3.4's /health bodies.
inline constexpr char kHealthyBody[] = "{\"health\":\"true\"}";
inline constexpr char kUnhealthyBody[] = "{\"health\":\"false\"}";

}  // namespace keel::node

#endif  // KEEL_NODE_METRICS_H_
