// The gateway's URL table: etcd 3.4's google.api.http POST paths (rpc.proto, v3lock.proto,
// v3election.proto; the checked-in *.pb.gw.go files are stale for Lock: "/v3/lock" there,
// "/v3/lock/lock" in the proto and in the etcd binary), each resolved to its gRPC method and
// message types through the generated descriptors, so a wrong name fails at start-up, not per call.
#ifndef KEEL_NODE_GATEWAY_ROUTES_H_
#define KEEL_NODE_GATEWAY_ROUTES_H_

#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

namespace keel::node::gateway {

struct Route {
  std::string grpc_method;  // "/etcdserverpb.KV/Range", as gRPC names it on the wire
  const google::protobuf::Message* request_prototype = nullptr;
  const google::protobuf::Message* response_prototype = nullptr;
  // Any streaming side: the answer is a chunked stream of {"result": ...} lines.
  bool streaming = false;
  bool client_streaming = false;  // every value of the body is one request
};

// HTTP path ("/v3/kv/range") -> route. etcd 3.4's aliases are included:
// /v3/kv/lease/{revoke,timetolive,leases}. /v3beta/ is mapped to /v3/ by the caller (etcd
// rewrites the prefix before routing). /v3/maintenance/hash is Hash: etcd also declares
// HashKV on that path, but the first registration wins in grpc-gateway's mux.
absl::StatusOr<absl::flat_hash_map<std::string, Route>> ResolveRoutes();

}  // namespace keel::node::gateway

#endif  // KEEL_NODE_GATEWAY_ROUTES_H_
