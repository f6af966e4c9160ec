// etcdserverpb.Lease over the server core. LeaseKeepAlive is a bidirectional stream handled
// strictly in turn (read one request, ask the Server, write its response, read the next),
// which bounds the work one stream can queue on the Loop to a single request.
#ifndef KEEL_NODE_GRPC_LEASE_SERVICE_H_
#define KEEL_NODE_GRPC_LEASE_SERVICE_H_

#include "api/etcdserverpb/rpc.grpc.pb.h"
#include "env/env.h"
#include "node/grpc/caller.h"
#include "server/server.h"

namespace keel::node {

class LeaseService final : public etcdserverpb::Lease::CallbackService {
 public:
  // `loop` and `server` outlive the gRPC server this service is registered with.
  LeaseService(env::Loop* loop, server::Server* server, CommonNameFn common_name = {})
      : loop_(loop), server_(server), common_name_(std::move(common_name)) {}

  grpc::ServerUnaryReactor* LeaseGrant(grpc::CallbackServerContext* context,
                                       const etcdserverpb::LeaseGrantRequest* request,
                                       etcdserverpb::LeaseGrantResponse* response) override;
  grpc::ServerUnaryReactor* LeaseRevoke(grpc::CallbackServerContext* context,
                                        const etcdserverpb::LeaseRevokeRequest* request,
                                        etcdserverpb::LeaseRevokeResponse* response) override;
  grpc::ServerBidiReactor<etcdserverpb::LeaseKeepAliveRequest,
                          etcdserverpb::LeaseKeepAliveResponse>*
  LeaseKeepAlive(grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* LeaseTimeToLive(
      grpc::CallbackServerContext* context, const etcdserverpb::LeaseTimeToLiveRequest* request,
      etcdserverpb::LeaseTimeToLiveResponse* response) override;
  grpc::ServerUnaryReactor* LeaseLeases(grpc::CallbackServerContext* context,
                                        const etcdserverpb::LeaseLeasesRequest* request,
                                        etcdserverpb::LeaseLeasesResponse* response) override;

 private:
  env::Loop* const loop_;
  server::Server* const server_;
  const CommonNameFn common_name_;
};

}  // namespace keel::node

#endif  // KEEL_NODE_GRPC_LEASE_SERVICE_H_
