// etcd 3.4's Auth errors (api/v3rpc/rpctypes/error.go): the gRPC code and the exact message
// etcdctl and clientv3 match on. One function per error so call sites read like etcd's.
#ifndef KEEL_SERVER_AUTH_ERRORS_H_
#define KEEL_SERVER_AUTH_ERRORS_H_

#include "absl/status/status.h"

namespace keel::server {

inline absl::Status RootUserNotExistError() {
  return absl::FailedPreconditionError("etcdserver: root user does not exist");
}
inline absl::Status RootRoleNotExistError() {
  return absl::FailedPreconditionError("etcdserver: root user does not have root role");
}
inline absl::Status UserAlreadyExistError() {
  return absl::FailedPreconditionError("etcdserver: user name already exists");
}
inline absl::Status UserEmptyError() {
  return absl::InvalidArgumentError("etcdserver: user name is empty");
}
inline absl::Status UserNotFoundError() {
  return absl::FailedPreconditionError("etcdserver: user name not found");
}
inline absl::Status RoleAlreadyExistError() {
  return absl::FailedPreconditionError("etcdserver: role name already exists");
}
inline absl::Status RoleNotFoundError() {
  return absl::FailedPreconditionError("etcdserver: role name not found");
}
inline absl::Status RoleEmptyError() {
  return absl::InvalidArgumentError("etcdserver: role name is empty");
}
inline absl::Status AuthFailedError() {
  return absl::InvalidArgumentError(
      "etcdserver: authentication failed, invalid user ID or password");
}
// etcd 3.4 has no gRPC mapping for this one: its toGRPCError answers codes.Unknown with the
// auth package's own text.
inline absl::Status NoPasswordUserError() {
  return absl::UnknownError(
      "auth: authentication failed, password was given for no password user");
}
inline absl::Status PermissionDeniedError() {
  return absl::PermissionDeniedError("etcdserver: permission denied");
}
inline absl::Status RoleNotGrantedError() {
  return absl::FailedPreconditionError("etcdserver: role is not granted to the user");
}
inline absl::Status PermissionNotGrantedError() {
  return absl::FailedPreconditionError("etcdserver: permission is not granted to the role");
}
inline absl::Status AuthNotEnabledError() {
  return absl::FailedPreconditionError("etcdserver: authentication is not enabled");
}
inline absl::Status InvalidAuthTokenError() {
  return absl::UnauthenticatedError("etcdserver: invalid auth token");
}
inline absl::Status InvalidAuthMgmtError() {
  return absl::InvalidArgumentError("etcdserver: invalid auth management");
}
inline absl::Status AuthOldRevisionError() {
  return absl::InvalidArgumentError("etcdserver: revision of auth store is old");
}

}  // namespace keel::server

#endif  // KEEL_SERVER_AUTH_ERRORS_H_
