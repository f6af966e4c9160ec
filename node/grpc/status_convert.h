// absl::Status <-> grpc::Status. The numeric codes are identical by design (both follow
// google.rpc.Code), and the message is passed through unchanged: etcd clients match on
// etcd's exact error strings ("etcdserver: mvcc: required revision has been compacted").
#ifndef KEEL_NODE_GRPC_STATUS_CONVERT_H_
#define KEEL_NODE_GRPC_STATUS_CONVERT_H_

#include <string>

#include "absl/status/status.h"
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

}  // namespace keel::node

#endif  // KEEL_NODE_GRPC_STATUS_CONVERT_H_
