// The apply path of etcd's Auth requests (etcd 3.4's authApplierV3 + applierV3backend):
// admin requests need the root role once auth is on; UserGet of oneself and RoleGet of
// one's own role are allowed to anyone.
#include <string>
#include <vector>

#include "server/applier.h"
#include "server/auth_errors.h"

namespace keel::server {
namespace {

template <typename Response>
ApplyResult Answer(absl::Status status, Response response, const HeaderInfo& header,
                   int64_t revision) {
  if (!status.ok()) return ApplyResult{std::move(status), nullptr};
  FillHeader(header, revision, &response);
  ApplyResult result;
  result.response = std::make_unique<Response>(std::move(response));
  return result;
}

bool NeedsAdmin(const serverpb::InternalRaftRequest& r) {
  return r.has_auth_enable() || r.has_auth_disable() || r.has_auth_user_add() ||
         r.has_auth_user_delete() || r.has_auth_user_change_password() ||
         r.has_auth_user_grant_role() || r.has_auth_user_revoke_role() || r.has_auth_role_add() ||
         r.has_auth_role_grant_permission() || r.has_auth_role_revoke_permission() ||
         r.has_auth_role_delete() || r.has_auth_user_list() || r.has_auth_role_list();
}

}  // namespace

std::optional<ApplyResult> Applier::ApplyAuth(const serverpb::InternalRaftRequest& r,
                                              const AuthInfo& who, int64_t now_ns,
                                              uint64_t index, const HeaderInfo& header) {
  const int64_t rev = store_->current_revision();
  if (NeedsAdmin(r)) {
    absl::Status admin = auth_->IsAdminPermitted(who);
    if (!admin.ok()) return ApplyResult{std::move(admin), nullptr};
  }
  if (r.has_auth_enable()) {
    return Answer(auth_->Enable(), etcdserverpb::AuthEnableResponse(), header, rev);
  }
  if (r.has_auth_disable()) {
    absl::Status s = auth_->Disable();
    if (s.ok()) tokens_->Clear();
    return Answer(std::move(s), etcdserverpb::AuthDisableResponse(), header, rev);
  }
  if (r.has_authenticate()) {
    const serverpb::InternalAuthenticateRequest& a = r.authenticate();
    if (!auth_->enabled()) return ApplyResult{AuthNotEnabledError(), nullptr};
    const authpb::User* user = auth_->FindUser(a.name());
    if (user == nullptr || user->options().no_password()) {
      return ApplyResult{AuthFailedError(), nullptr};
    }
    // The password was checked against this revision before proposing; a change since
    // (e.g. a new password) must not yield a token for the old one.
    if (a.checked_revision() != auth_->revision()) {
      return ApplyResult{AuthOldRevisionError(), nullptr};
    }
    etcdserverpb::AuthenticateResponse response;
    if (jwt_ != nullptr) {  // etcd: signed with the auth revision at apply time
      absl::StatusOr<std::string> token = jwt_->Assign(a.name(), auth_->revision());
      if (!token.ok()) return ApplyResult{token.status(), nullptr};
      response.set_token(*std::move(token));
      return Answer(absl::OkStatus(), std::move(response), header, rev);
    }
    response.set_token(tokens_->Assign(a.simple_token(), index, a.name(), now_ns));
    return Answer(absl::OkStatus(), std::move(response), header, rev);
  }
  if (r.has_auth_user_add()) {
    const serverpb::AuthUserAddHashed& u = r.auth_user_add();
    return Answer(auth_->UserAdd(u.name(), u.hashed_password(), u.no_password()),
                  etcdserverpb::AuthUserAddResponse(), header, rev);
  }
  if (r.has_auth_user_delete()) {
    absl::Status s = auth_->UserDelete(r.auth_user_delete().name());
    if (s.ok()) tokens_->InvalidateUser(r.auth_user_delete().name());
    return Answer(std::move(s), etcdserverpb::AuthUserDeleteResponse(), header, rev);
  }
  if (r.has_auth_user_change_password()) {
    const serverpb::AuthUserChangePasswordHashed& u = r.auth_user_change_password();
    absl::Status s = auth_->UserChangePassword(u.name(), u.hashed_password());
    if (s.ok()) tokens_->InvalidateUser(u.name());
    return Answer(std::move(s), etcdserverpb::AuthUserChangePasswordResponse(), header, rev);
  }
  if (r.has_auth_user_grant_role()) {
    const etcdserverpb::AuthUserGrantRoleRequest& g = r.auth_user_grant_role();
    return Answer(auth_->UserGrantRole(g.user(), g.role()),
                  etcdserverpb::AuthUserGrantRoleResponse(), header, rev);
  }
  if (r.has_auth_user_revoke_role()) {
    const etcdserverpb::AuthUserRevokeRoleRequest& g = r.auth_user_revoke_role();
    return Answer(auth_->UserRevokeRole(g.name(), g.role()),
                  etcdserverpb::AuthUserRevokeRoleResponse(), header, rev);
  }
  if (r.has_auth_user_get()) {
    const std::string& name = r.auth_user_get().name();
    absl::Status admin = auth_->IsAdminPermitted(who);
    if (!admin.ok() && name != who.username) return ApplyResult{std::move(admin), nullptr};
    absl::StatusOr<std::vector<std::string>> roles = auth_->UserRoles(name);
    etcdserverpb::AuthUserGetResponse response;
    if (roles.ok()) {
      for (std::string& role : *roles) response.add_roles(std::move(role));
    }
    return Answer(roles.status(), std::move(response), header, rev);
  }
  if (r.has_auth_user_list()) {
    etcdserverpb::AuthUserListResponse response;
    for (std::string& name : auth_->UserNames()) response.add_users(std::move(name));
    return Answer(absl::OkStatus(), std::move(response), header, rev);
  }
  if (r.has_auth_role_add()) {
    return Answer(auth_->RoleAdd(r.auth_role_add().name()), etcdserverpb::AuthRoleAddResponse(),
                  header, rev);
  }
  if (r.has_auth_role_delete()) {
    return Answer(auth_->RoleDelete(r.auth_role_delete().role()),
                  etcdserverpb::AuthRoleDeleteResponse(), header, rev);
  }
  if (r.has_auth_role_get()) {
    const std::string& role = r.auth_role_get().role();
    absl::Status admin = auth_->IsAdminPermitted(who);
    if (!admin.ok() && !auth_->HasRole(who.username, role)) {
      return ApplyResult{std::move(admin), nullptr};
    }
    absl::StatusOr<std::vector<authpb::Permission>> perms = auth_->RolePermissions(role);
    etcdserverpb::AuthRoleGetResponse response;
    if (perms.ok()) {
      for (authpb::Permission& p : *perms) *response.add_perm() = std::move(p);
    }
    return Answer(perms.status(), std::move(response), header, rev);
  }
  if (r.has_auth_role_list()) {
    etcdserverpb::AuthRoleListResponse response;
    for (std::string& name : auth_->RoleNames()) response.add_roles(std::move(name));
    return Answer(absl::OkStatus(), std::move(response), header, rev);
  }
  if (r.has_auth_role_grant_permission()) {
    const etcdserverpb::AuthRoleGrantPermissionRequest& g = r.auth_role_grant_permission();
    return Answer(auth_->RoleGrantPermission(g.name(), g.perm()),
                  etcdserverpb::AuthRoleGrantPermissionResponse(), header, rev);
  }
  if (r.has_auth_role_revoke_permission()) {
    const etcdserverpb::AuthRoleRevokePermissionRequest& g = r.auth_role_revoke_permission();
    return Answer(auth_->RoleRevokePermission(g.role(), g.key(), g.range_end()),
                  etcdserverpb::AuthRoleRevokePermissionResponse(), header, rev);
  }
  return std::nullopt;
}

}  // namespace keel::server
