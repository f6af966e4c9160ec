#include "node/grpc/metrics_interceptor.h"

#include <vector>

namespace keel::node {
namespace {

using grpc::experimental::InterceptionHookPoints;

const char* TypeLabel(grpc::experimental::ServerRpcInfo::Type type) {
  switch (type) {
    case grpc::experimental::ServerRpcInfo::Type::UNARY:
      return "unary";
    case grpc::experimental::ServerRpcInfo::Type::CLIENT_STREAMING:
      return "client_stream";
    case grpc::experimental::ServerRpcInfo::Type::SERVER_STREAMING:
      return "server_stream";
    case grpc::experimental::ServerRpcInfo::Type::BIDI_STREAMING:
      return "bidi_stream";
  }
  return "unary";
}

class MetricsInterceptor : public grpc::experimental::Interceptor {
 public:
  MetricsInterceptor(GrpcMetrics* metrics, grpc::experimental::ServerRpcInfo* info)
      : metrics_(metrics) {
    // "/etcdserverpb.KV/Range" -> service "etcdserverpb.KV", method "Range".
    std::string full = info->method() != nullptr ? info->method() : "";
    if (!full.empty() && full[0] == '/') full.erase(0, 1);
    const size_t slash = full.find('/');
    const std::string service = slash == std::string::npos ? "" : full.substr(0, slash);
    const std::string method = slash == std::string::npos ? full : full.substr(slash + 1);
    labels_ = {TypeLabel(info->type()), service, method};
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      metrics_->started.Add(labels_);
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE)) {
      metrics_->msg_received.Add(labels_);
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_MESSAGE)) {
      metrics_->msg_sent.Add(labels_);
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      std::vector<std::string> with_code = labels_;
      with_code.push_back(GrpcCodeName(methods->GetSendStatus().error_code()));
      metrics_->handled.Add(with_code);
    }
    methods->Proceed();
  }

 private:
  GrpcMetrics* const metrics_;
  std::vector<std::string> labels_;  // type, service, method
};

class MetricsInterceptorFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit MetricsInterceptorFactory(GrpcMetrics* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new MetricsInterceptor(metrics_, info);  // gRPC owns and deletes it
  }

 private:
  GrpcMetrics* const metrics_;
};

void RenderCounters(prom::ExpositionWriter* w, const char* name, const char* help,
                    const prom::CounterVec& counters, bool with_code) {
  w->Family(name, prom::MetricType::kCounter, help);
  for (const auto& [values, count] : counters.Snapshot()) {
    prom::Labels labels;
    if (with_code) labels.emplace_back("grpc_code", values[3]);
    labels.emplace_back("grpc_method", values[2]);
    labels.emplace_back("grpc_service", values[1]);
    labels.emplace_back("grpc_type", values[0]);
    w->Sample(labels, static_cast<double>(count));
  }
}

}  // namespace

const char* GrpcCodeName(int code) {
  static const char* const kNames[] = {
      "OK",       "Canceled",          "Unknown",            "InvalidArgument",
      "DeadlineExceeded", "NotFound",  "AlreadyExists",      "PermissionDenied",
      "ResourceExhausted", "FailedPrecondition", "Aborted",  "OutOfRange",
      "Unimplemented", "Internal",     "Unavailable",        "DataLoss",
      "Unauthenticated"};
  if (code < 0 || code >= static_cast<int>(sizeof(kNames) / sizeof(kNames[0]))) return "Unknown";
  return kNames[code];
}

void GrpcMetrics::Render(prom::ExpositionWriter* w) const {
  RenderCounters(w, "grpc_server_handled_total",
                 "Total number of RPCs completed on the server, regardless of success or failure.",
                 handled, /*with_code=*/true);
  RenderCounters(w, "grpc_server_msg_received_total",
                 "Total number of RPC stream messages received on the server.", msg_received,
                 false);
  RenderCounters(w, "grpc_server_msg_sent_total",
                 "Total number of gRPC stream messages sent by the server.", msg_sent, false);
  RenderCounters(w, "grpc_server_started_total", "Total number of RPCs started on the server.",
                 started, false);
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeMetricsInterceptorFactory(
    GrpcMetrics* metrics) {
  return std::make_unique<MetricsInterceptorFactory>(metrics);
}

}  // namespace keel::node
