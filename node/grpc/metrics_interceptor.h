// go-grpc-prometheus' server metrics, which etcd 3.4 registers on its gRPC server:
// grpc_server_started_total, grpc_server_handled_total (with grpc_code),
// grpc_server_msg_received_total and grpc_server_msg_sent_total, labelled grpc_type
// (unary, client_stream, server_stream, bidi_stream), grpc_service and grpc_method.
//
// A gRPC server interceptor counts them on gRPC's threads; each count is one reader-locked
// lookup and one relaxed atomic add (prom::CounterVec). The interceptor never touches the
// Server, never blocks and never changes a call.
#ifndef KEEL_NODE_GRPC_METRICS_INTERCEPTOR_H_
#define KEEL_NODE_GRPC_METRICS_INTERCEPTOR_H_

#include <memory>
#include <string>

#include "grpcpp/support/server_interceptor.h"
#include "prom/counter_vec.h"
#include "prom/exposition.h"

namespace keel::node {

class GrpcMetrics {
 public:
  // Far above etcd's ~60 methods x 17 codes; unknown method names are never seen here
  // (gRPC answers them before any interceptor runs), so this only guards against a bug.
  static constexpr size_t kMaxSeries = 4096;

  prom::CounterVec started{kMaxSeries};       // type, service, method
  prom::CounterVec handled{kMaxSeries};       // type, service, method, code
  prom::CounterVec msg_received{kMaxSeries};  // type, service, method
  prom::CounterVec msg_sent{kMaxSeries};      // type, service, method

  // The four families, with go-grpc-prometheus' help strings.
  void Render(prom::ExpositionWriter* w) const;
};

// Go's codes.Code.String(): "OK", "Canceled", "ResourceExhausted", ...
const char* GrpcCodeName(int code);

// Registers with ServerBuilder::experimental().SetInterceptorCreators. `metrics` outlives
// the gRPC server.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeMetricsInterceptorFactory(
    GrpcMetrics* metrics);

}  // namespace keel::node

#endif  // KEEL_NODE_GRPC_METRICS_INTERCEPTOR_H_
