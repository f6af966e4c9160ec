// etcdserverpb.Auth over the server core: every RPC etcd 3.4's rpc.proto declares (it has
// no AuthStatus). Each call is one hop to the Loop; password hashing and checking run on
// the AuthCrypto pool (node/auth_crypto_pool.h), never on the Loop nor a gRPC thread.
#ifndef KEEL_NODE_GRPC_AUTH_SERVICE_H_
#define KEEL_NODE_GRPC_AUTH_SERVICE_H_

#include "api/etcdserverpb/rpc.grpc.pb.h"
#include "env/env.h"
#include "node/grpc/caller.h"
#include "server/server.h"

// Every Auth RPC made on behalf of a caller, X(Method, Request, Response): all but
// Authenticate, whose credentials are the request. Declared and defined from this one list.
#define KEEL_AUTH_CALLER_RPCS(X)                                                              \
  X(AuthEnable, AuthEnableRequest, AuthEnableResponse)                                        \
  X(AuthDisable, AuthDisableRequest, AuthDisableResponse)                                     \
  X(UserAdd, AuthUserAddRequest, AuthUserAddResponse)                                         \
  X(UserGet, AuthUserGetRequest, AuthUserGetResponse)                                         \
  X(UserList, AuthUserListRequest, AuthUserListResponse)                                      \
  X(UserDelete, AuthUserDeleteRequest, AuthUserDeleteResponse)                                \
  X(UserChangePassword, AuthUserChangePasswordRequest, AuthUserChangePasswordResponse)        \
  X(UserGrantRole, AuthUserGrantRoleRequest, AuthUserGrantRoleResponse)                       \
  X(UserRevokeRole, AuthUserRevokeRoleRequest, AuthUserRevokeRoleResponse)                    \
  X(RoleAdd, AuthRoleAddRequest, AuthRoleAddResponse)                                         \
  X(RoleGet, AuthRoleGetRequest, AuthRoleGetResponse)                                         \
  X(RoleList, AuthRoleListRequest, AuthRoleListResponse)                                      \
  X(RoleDelete, AuthRoleDeleteRequest, AuthRoleDeleteResponse)                                \
  X(RoleGrantPermission, AuthRoleGrantPermissionRequest, AuthRoleGrantPermissionResponse)     \
  X(RoleRevokePermission, AuthRoleRevokePermissionRequest, AuthRoleRevokePermissionResponse)

namespace keel::node {

class AuthService final : public etcdserverpb::Auth::CallbackService {
 public:
  // `loop` and `server` outlive the gRPC server this service is registered with.
  // `common_name`: the caller's verified certificate CN (caller.h), or empty.
  AuthService(env::Loop* loop, server::Server* server, CommonNameFn common_name = {})
      : loop_(loop), server_(server), common_name_(std::move(common_name)) {}

#define KEEL_AUTH_RPC(Method, Request, Response)                                 \
  grpc::ServerUnaryReactor* Method(grpc::CallbackServerContext* context,         \
                                   const etcdserverpb::Request* request,         \
                                   etcdserverpb::Response* response) override;
  KEEL_AUTH_RPC(Authenticate, AuthenticateRequest, AuthenticateResponse)
  KEEL_AUTH_CALLER_RPCS(KEEL_AUTH_RPC)
#undef KEEL_AUTH_RPC

 private:
  env::Loop* const loop_;
  server::Server* const server_;
  const CommonNameFn common_name_;
};

}  // namespace keel::node

#endif  // KEEL_NODE_GRPC_AUTH_SERVICE_H_
