// Who is calling an RPC, as etcd's AuthInfoFromCtx reads it: the simple token from the
// gRPC metadata key "token" (clientv3 3.4's rpctypes.TokenFieldNameGRPC; "authorization",
// the gateway's key, as a fallback), and the verified client certificate's common name.
#ifndef KEEL_NODE_GRPC_CALLER_H_
#define KEEL_NODE_GRPC_CALLER_H_

#include <functional>
#include <string>

#include "grpcpp/grpcpp.h"
#include "server/server.h"

namespace keel::node {

// The injection point for TLS client-certificate authentication (etcd's
// --client-cert-auth: with no token, the certificate's CN is the user). keeld passes an
// `node::VerifiedCommonName` (client_identity.h, published by the TLS terminator) under
// --client-cert-auth, an empty function otherwise. Called on a gRPC thread; must not block.
using CommonNameFn = std::function<std::string(const grpc::ServerContextBase&)>;

inline server::Caller CallerOf(const grpc::ServerContextBase& context,
                               const CommonNameFn& common_name) {
  server::Caller caller;
  const auto& metadata = context.client_metadata();
  for (const char* key : {"token", "authorization"}) {
    auto it = metadata.find(key);
    if (it != metadata.end()) {
      caller.token.assign(it->second.data(), it->second.size());
      break;
    }
  }
  if (common_name) caller.common_name = common_name(context);
  return caller;
}

}  // namespace keel::node

#endif  // KEEL_NODE_GRPC_CALLER_H_
