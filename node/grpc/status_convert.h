// absl::Status <-> grpc::Status. The numeric codes are identical by design (both follow
// google.rpc.Code), and the message is passed through unchanged: etcd clients match on
// etcd's exact error strings ("etcdserver: mvcc: required revision has been compacted").
#ifndef KEEL_NODE_GRPC_STATUS_CONVERT_H_
#define KEEL_NODE_GRPC_STATUS_CONVERT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "grpcpp/support/status.h"

namespace keel::node {

inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  static_assert(static_cast<int>(absl::StatusCode::kUnavailable) ==
                    static_cast<int>(grpc::StatusCode::UNAVAILABLE),
                "absl and gRPC status codes must agree numerically");
  static_assert(static_cast<int>(absl::StatusCode::kUnauthenticated) ==
                    static_cast<int>(grpc::StatusCode::UNAUTHENTICATED),
                "absl and gRPC status codes must agree numerically");
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

// etcd's v3lock and v3election services call the server through an in-process clientv3,
// which turns the server's errors into plain Go errors (rpctypes.EtcdError, no gRPC
// status): gRPC answers those with code Unknown and the same text, e.g. Unknown
// "etcdserver: permission denied" (checked against etcd 3.4.23). Errors that are not the
// server's ("context canceled") keep their code.
inline absl::Status AsEmbeddedClientError(const absl::Status& status) {
  if (absl::StartsWith(status.message(), "etcdserver: ")) {
    return absl::UnknownError(status.message());
  }
  return status;
}

}  // namespace keel::node

#endif  // KEEL_NODE_GRPC_STATUS_CONVERT_H_
