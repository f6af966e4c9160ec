// etcdserverpb.Cluster over the server core: membership changes and listing.
#ifndef KEEL_NODE_GRPC_CLUSTER_SERVICE_H_
#define KEEL_NODE_GRPC_CLUSTER_SERVICE_H_

#include "api/etcdserverpb/rpc.grpc.pb.h"
#include "env/env.h"
#include "server/server.h"

namespace keel::node {

class ClusterService final : public etcdserverpb::Cluster::CallbackService {
 public:
  // `loop` and `server` outlive the gRPC server this service is registered with.
  ClusterService(env::Loop* loop, server::Server* server) : loop_(loop), server_(server) {}

  grpc::ServerUnaryReactor* MemberAdd(grpc::CallbackServerContext* context,
                                      const etcdserverpb::MemberAddRequest* request,
                                      etcdserverpb::MemberAddResponse* response) override;
  grpc::ServerUnaryReactor* MemberRemove(grpc::CallbackServerContext* context,
                                         const etcdserverpb::MemberRemoveRequest* request,
                                         etcdserverpb::MemberRemoveResponse* response) override;
  grpc::ServerUnaryReactor* MemberUpdate(grpc::CallbackServerContext* context,
                                         const etcdserverpb::MemberUpdateRequest* request,
                                         etcdserverpb::MemberUpdateResponse* response) override;
  grpc::ServerUnaryReactor* MemberList(grpc::CallbackServerContext* context,
                                       const etcdserverpb::MemberListRequest* request,
                                       etcdserverpb::MemberListResponse* response) override;
  grpc::ServerUnaryReactor* MemberPromote(grpc::CallbackServerContext* context,
                                          const etcdserverpb::MemberPromoteRequest* request,
                                          etcdserverpb::MemberPromoteResponse* response) override;

 private:
  env::Loop* const loop_;
  server::Server* const server_;
};

}  // namespace keel::node

#endif  // KEEL_NODE_GRPC_CLUSTER_SERVICE_H_
