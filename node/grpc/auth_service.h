// etcdserverpb.Auth over the server core: every RPC etcd 3.4's rpc.proto declares (it has
// no AuthStatus). Each call is one hop to the Loop; password hashing and checking run on
// the AuthCrypto pool (node/auth_crypto_pool.h), never on the Loop nor a gRPC thread.
#ifndef KEEL_NODE_GRPC_AUTH_SERVICE_H_
#define KEEL_NODE_GRPC_AUTH_SERVICE_H_

#include "api/etcdserverpb/rpc.grpc.pb.h"
#include "env/env.h"
#include "node/grpc/caller.h"
#include "server/server.h"

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
  KEEL_AUTH_RPC(AuthEnable, AuthEnableRequest, AuthEnableResponse)
  KEEL_AUTH_RPC(AuthDisable, AuthDisableRequest, AuthDisableResponse)
  KEEL_AUTH_RPC(Authenticate, AuthenticateRequest, AuthenticateResponse)
  KEEL_AUTH_RPC(UserAdd, AuthUserAddRequest, AuthUserAddResponse)
  KEEL_AUTH_RPC(UserGet, AuthUserGetRequest, AuthUserGetResponse)
  KEEL_AUTH_RPC(UserList, AuthUserListRequest, AuthUserListResponse)
  KEEL_AUTH_RPC(UserDelete, AuthUserDeleteRequest, AuthUserDeleteResponse)
  KEEL_AUTH_RPC(UserChangePassword, AuthUserChangePasswordRequest, AuthUserChangePasswordResponse)
  KEEL_AUTH_RPC(UserGrantRole, AuthUserGrantRoleRequest, AuthUserGrantRoleResponse)
  KEEL_AUTH_RPC(UserRevokeRole, AuthUserRevokeRoleRequest, AuthUserRevokeRoleResponse)
  KEEL_AUTH_RPC(RoleAdd, AuthRoleAddRequest, AuthRoleAddResponse)
  KEEL_AUTH_RPC(RoleGet, AuthRoleGetRequest, AuthRoleGetResponse)
  KEEL_AUTH_RPC(RoleList, AuthRoleListRequest, AuthRoleListResponse)
  KEEL_AUTH_RPC(RoleDelete, AuthRoleDeleteRequest, AuthRoleDeleteResponse)
  KEEL_AUTH_RPC(RoleGrantPermission, AuthRoleGrantPermissionRequest,
                AuthRoleGrantPermissionResponse)
  KEEL_AUTH_RPC(RoleRevokePermission, AuthRoleRevokePermissionRequest,
                AuthRoleRevokePermissionResponse)
#undef KEEL_AUTH_RPC

 private:
  env::Loop* const loop_;
  server::Server* const server_;
  const CommonNameFn common_name_;
};

}  // namespace keel::node

#endif  // KEEL_NODE_GRPC_AUTH_SERVICE_H_
