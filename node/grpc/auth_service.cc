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
KEEL_AUTH_RPC(AuthEnable, AuthEnableRequest, AuthEnableResponse)
KEEL_AUTH_RPC(AuthDisable, AuthDisableRequest, AuthDisableResponse)
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

// Authenticate carries no caller: the credentials are the request.
grpc::ServerUnaryReactor* AuthService::Authenticate(grpc::CallbackServerContext* context,
                                                    const etcdserverpb::AuthenticateRequest* request,
                                                    etcdserverpb::AuthenticateResponse* response) {
  return RunUnaryOnLoop(context, loop_, server_, &server::Server::Authenticate, request, response);
}

}  // namespace keel::node
