#include "node/grpc/cluster_service.h"

#include "node/grpc/unary_call.h"

namespace keel::node {

grpc::ServerUnaryReactor* ClusterService::MemberAdd(grpc::CallbackServerContext* context,
                                                    const etcdserverpb::MemberAddRequest* request,
                                                    etcdserverpb::MemberAddResponse* response) {
  return RunUnaryOnLoop(context, loop_, server_, &server::Server::MemberAdd, request, response);
}

grpc::ServerUnaryReactor* ClusterService::MemberRemove(
    grpc::CallbackServerContext* context, const etcdserverpb::MemberRemoveRequest* request,
    etcdserverpb::MemberRemoveResponse* response) {
  return RunUnaryOnLoop(context, loop_, server_, &server::Server::MemberRemove, request, response);
}

grpc::ServerUnaryReactor* ClusterService::MemberUpdate(
    grpc::CallbackServerContext* context, const etcdserverpb::MemberUpdateRequest* request,
    etcdserverpb::MemberUpdateResponse* response) {
  return RunUnaryOnLoop(context, loop_, server_, &server::Server::MemberUpdate, request, response);
}

grpc::ServerUnaryReactor* ClusterService::MemberList(grpc::CallbackServerContext* context,
                                                     const etcdserverpb::MemberListRequest* request,
                                                     etcdserverpb::MemberListResponse* response) {
  return RunUnaryOnLoop(context, loop_, server_, &server::Server::MemberList, request, response);
}

grpc::ServerUnaryReactor* ClusterService::MemberPromote(
    grpc::CallbackServerContext* context, const etcdserverpb::MemberPromoteRequest* request,
    etcdserverpb::MemberPromoteResponse* response) {
  return RunUnaryOnLoop(context, loop_, server_, &server::Server::MemberPromote, request, response);
}

}  // namespace keel::node
