#include "node/grpc/auth_service.h"

#include "node/grpc/unary_call.h"

namespace keel::node {

// Each RPC: the caller's identity from the call, then the Server's method on the Loop.
#define KEEL_AUTH_RPC(Method, Request, Response)                                            \
  grpc::ServerUnaryReactor* AuthService::Method(grpc::CallbackServerContext* context,      \
                                                const etcdserverpb::Request* request,      \
                                                etcdserverpb::Response* response) {        \
    return RunUnaryOnLoop(context, loop_, server_, &server::Server::Method, request,       \
                          response, CallerOf(*context, common_name_));                     \
  }
KEEL_AUTH_CALLER_RPCS(KEEL_AUTH_RPC)
#undef KEEL_AUTH_RPC

// Authenticate carries no caller: the credentials are the request.
grpc::ServerUnaryReactor* AuthService::Authenticate(grpc::CallbackServerContext* context,
                                                    const etcdserverpb::AuthenticateRequest* request,
                                                    etcdserverpb::AuthenticateResponse* response) {
  return RunUnaryOnLoop(context, loop_, server_, &server::Server::Authenticate, request, response);
}

}  // namespace keel::node
