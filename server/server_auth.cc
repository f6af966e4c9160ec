// The Auth service of the server core: etcd's AuthInfoFromCtx (who is calling), the admin
// requests (proposed, checked and applied in applier_auth.cc), and Authenticate, whose
// bcrypt check runs off the Loop (ServerConfig::auth_crypto).
#include "server/auth_errors.h"
#include "server/server_impl.h"

namespace keel::server {
namespace {

template <typename Response>
absl::StatusOr<Response> UnwrapAuth(ApplyResult result) {
  if (!result.status.ok()) return result.status;
  if (result.response == nullptr) return absl::InternalError("apply produced no response");
  return std::move(*static_cast<Response*>(result.response.get()));
}

}  // namespace

absl::StatusOr<AuthInfo> ServerImpl::ResolveCaller(const Caller& caller) {
  if (!caller.token.empty() && config_.jwt_tokens != nullptr) {
    // etcd's tokenJWT.info: the token's own revision, so a token minted before an auth
    // change is refused ("revision of auth store is old") and clientv3 re-authenticates.
    std::optional<AuthInfo> info = config_.jwt_tokens->Info(caller.token);
    if (!info.has_value()) return InvalidAuthTokenError();
    return *std::move(info);
  }
  if (!caller.token.empty()) {
    std::optional<std::string> user = tokens_->Lookup(caller.token, loop_->NowNanos());
    if (!user.has_value()) return InvalidAuthTokenError();
    return AuthInfo{*std::move(user), auth_->revision()};
  }
  if (!caller.common_name.empty()) return AuthInfo{caller.common_name, auth_->revision()};
  return AuthInfo();
}

void ServerImpl::WhenCallerReady(const Caller& caller, absl::AnyInvocable<void() &&> then) {
  // Beyond this many waiting requests a new one is not delayed: its token, if still
  // unapplied, is refused as invalid (bounded queue; etcd bounds it by goroutines).
  constexpr size_t kMaxTokenWaits = 1024;
  std::optional<uint64_t> index = SimpleTokenIndex(caller.token);
  if (!index.has_value() || *index <= applied_index_ || token_waits_ >= kMaxTokenWaits) {
    return std::move(then)();
  }
  ++token_waits_;
  // Runs `then` once: when the index is applied (or Stop drains the queue), or at the
  // timeout, whichever comes first. The queue entry outlives a timeout; it is bounded by
  // token_waits_, released when it runs.
  auto once = std::make_shared<absl::AnyInvocable<void() &&>>(std::move(then));
  auto run = [once] {
    if (*once) std::exchange(*once, nullptr)();
  };
  env::TimerId timer = loop_->RunAfter(config_.request_timeout_ms * 1'000'000, run);
  reads_waiting_apply_.emplace(*index, [this, run, timer](absl::Status) {
    --token_waits_;
    loop_->Cancel(timer);
    run();
  });
}

// etcd 3.4's authMaintenanceServer returns the auth package's errors unconverted, so
// etcdctl sees codes.Unknown and "auth: ..." texts there ("Failed to defragment etcd
// member[...] (rpc error: code = Unknown desc = auth: permission denied)"); so do we.
absl::Status ServerImpl::CheckAdmin(const Caller& caller) {
  absl::StatusOr<AuthInfo> who = ResolveCaller(caller);
  absl::Status admin = who.ok() ? auth_->IsAdminPermitted(*who) : who.status();
  if (admin.ok()) return admin;
  if (admin.message() == UserNotFoundError().message()) {
    return absl::UnknownError("auth: user not found");
  }
  std::string text(admin.message());
  const std::string_view prefix = "etcdserver: ";
  if (text.rfind(prefix, 0) == 0) text = "auth: " + text.substr(prefix.size());
  return absl::UnknownError(text);
}

template <typename Response, typename Request>
void ServerImpl::ProposeAuth(const Caller& caller, Request request,
                             void (serverpb::InternalRaftRequest::*set)(Request*),
                             Callback<Response> done) {
  absl::StatusOr<AuthInfo> who = ResolveCaller(caller);
  if (!who.ok()) return std::move(done)(who.status());
  ProposeAuthAs(*who, std::move(request), set, std::move(done));
}

template <typename Response, typename Request>
void ServerImpl::ProposeAuthAs(const AuthInfo& who, Request request,
                               void (serverpb::InternalRaftRequest::*set)(Request*),
                               Callback<Response> done) {
  serverpb::InternalRaftRequest internal;
  (internal.*set)(new Request(std::move(request)));
  if (who.revision != 0) {
    internal.mutable_header()->set_username(who.username);
    internal.mutable_header()->set_auth_revision(who.revision);
  }
  Propose(std::move(internal), [done = std::move(done)](ApplyResult r) mutable {
    std::move(done)(UnwrapAuth<Response>(std::move(r)));
  });
}

void ServerImpl::AuthEnable(const etcdserverpb::AuthEnableRequest& request,
                            Callback<etcdserverpb::AuthEnableResponse> done,
                            const Caller& caller) {
  ProposeAuth(caller, request, &serverpb::InternalRaftRequest::set_allocated_auth_enable,
              std::move(done));
}

void ServerImpl::AuthDisable(const etcdserverpb::AuthDisableRequest& request,
                             Callback<etcdserverpb::AuthDisableResponse> done,
                             const Caller& caller) {
  ProposeAuth(caller, request, &serverpb::InternalRaftRequest::set_allocated_auth_disable,
              std::move(done));
}

void ServerImpl::UserAdd(const etcdserverpb::AuthUserAddRequest& request,
                         Callback<etcdserverpb::AuthUserAddResponse> done, const Caller& caller) {
  absl::StatusOr<AuthInfo> who = ResolveCaller(caller);
  if (!who.ok()) return std::move(done)(who.status());
  if (request.name().empty()) return std::move(done)(UserEmptyError());
  serverpb::AuthUserAddHashed add;
  add.set_name(request.name());
  add.set_no_password(request.options().no_password());
  if (add.no_password()) {
    return ProposeAuthAs(*who, std::move(add),
                         &serverpb::InternalRaftRequest::set_allocated_auth_user_add,
                         std::move(done));
  }
  auth_crypto_->Hash(
      request.password(), [this, alive = std::weak_ptr<const int>(alive_), who = *who,
                           add = std::move(add), done = std::move(done)](
                              absl::StatusOr<std::string> hash) mutable {
        if (alive.expired()) return;  // the call ends with "server stopped"
        if (!hash.ok()) return std::move(done)(hash.status());
        add.set_hashed_password(*std::move(hash));
        ProposeAuthAs(who, std::move(add),
                      &serverpb::InternalRaftRequest::set_allocated_auth_user_add,
                      std::move(done));
      });
}

void ServerImpl::UserChangePassword(const etcdserverpb::AuthUserChangePasswordRequest& request,
                                    Callback<etcdserverpb::AuthUserChangePasswordResponse> done,
                                    const Caller& caller) {
  absl::StatusOr<AuthInfo> who = ResolveCaller(caller);
  if (!who.ok()) return std::move(done)(who.status());
  serverpb::AuthUserChangePasswordHashed change;
  change.set_name(request.name());
  auth_crypto_->Hash(
      request.password(), [this, alive = std::weak_ptr<const int>(alive_), who = *who,
                           change = std::move(change), done = std::move(done)](
                              absl::StatusOr<std::string> hash) mutable {
        if (alive.expired()) return;
        if (!hash.ok()) return std::move(done)(hash.status());
        change.set_hashed_password(*std::move(hash));
        ProposeAuthAs(who, std::move(change),
                      &serverpb::InternalRaftRequest::set_allocated_auth_user_change_password,
                      std::move(done));
      });
}

void ServerImpl::UserGet(const etcdserverpb::AuthUserGetRequest& request,
                         Callback<etcdserverpb::AuthUserGetResponse> done, const Caller& caller) {
  ProposeAuth(caller, request, &serverpb::InternalRaftRequest::set_allocated_auth_user_get,
              std::move(done));
}

void ServerImpl::UserList(const etcdserverpb::AuthUserListRequest& request,
                          Callback<etcdserverpb::AuthUserListResponse> done,
                          const Caller& caller) {
  ProposeAuth(caller, request, &serverpb::InternalRaftRequest::set_allocated_auth_user_list,
              std::move(done));
}

void ServerImpl::UserDelete(const etcdserverpb::AuthUserDeleteRequest& request,
                            Callback<etcdserverpb::AuthUserDeleteResponse> done,
                            const Caller& caller) {
  ProposeAuth(caller, request, &serverpb::InternalRaftRequest::set_allocated_auth_user_delete,
              std::move(done));
}

void ServerImpl::UserGrantRole(const etcdserverpb::AuthUserGrantRoleRequest& request,
                               Callback<etcdserverpb::AuthUserGrantRoleResponse> done,
                               const Caller& caller) {
  ProposeAuth(caller, request, &serverpb::InternalRaftRequest::set_allocated_auth_user_grant_role,
              std::move(done));
}

void ServerImpl::UserRevokeRole(const etcdserverpb::AuthUserRevokeRoleRequest& request,
                                Callback<etcdserverpb::AuthUserRevokeRoleResponse> done,
                                const Caller& caller) {
  ProposeAuth(caller, request,
              &serverpb::InternalRaftRequest::set_allocated_auth_user_revoke_role,
              std::move(done));
}

void ServerImpl::RoleAdd(const etcdserverpb::AuthRoleAddRequest& request,
                         Callback<etcdserverpb::AuthRoleAddResponse> done, const Caller& caller) {
  ProposeAuth(caller, request, &serverpb::InternalRaftRequest::set_allocated_auth_role_add,
              std::move(done));
}

void ServerImpl::RoleGet(const etcdserverpb::AuthRoleGetRequest& request,
                         Callback<etcdserverpb::AuthRoleGetResponse> done, const Caller& caller) {
  ProposeAuth(caller, request, &serverpb::InternalRaftRequest::set_allocated_auth_role_get,
              std::move(done));
}

void ServerImpl::RoleList(const etcdserverpb::AuthRoleListRequest& request,
                          Callback<etcdserverpb::AuthRoleListResponse> done,
                          const Caller& caller) {
  ProposeAuth(caller, request, &serverpb::InternalRaftRequest::set_allocated_auth_role_list,
              std::move(done));
}

void ServerImpl::RoleDelete(const etcdserverpb::AuthRoleDeleteRequest& request,
                            Callback<etcdserverpb::AuthRoleDeleteResponse> done,
                            const Caller& caller) {
  ProposeAuth(caller, request, &serverpb::InternalRaftRequest::set_allocated_auth_role_delete,
              std::move(done));
}

void ServerImpl::RoleGrantPermission(
    const etcdserverpb::AuthRoleGrantPermissionRequest& request,
    Callback<etcdserverpb::AuthRoleGrantPermissionResponse> done, const Caller& caller) {
  ProposeAuth(caller, request,
              &serverpb::InternalRaftRequest::set_allocated_auth_role_grant_permission,
              std::move(done));
}

void ServerImpl::RoleRevokePermission(
    const etcdserverpb::AuthRoleRevokePermissionRequest& request,
    Callback<etcdserverpb::AuthRoleRevokePermissionResponse> done, const Caller& caller) {
  ProposeAuth(caller, request,
              &serverpb::InternalRaftRequest::set_allocated_auth_role_revoke_permission,
              std::move(done));
}

// etcd's Authenticate: a linearizable read first (the check sees every committed auth
// change), the password checked outside the state machine, then a proposal that makes
// every member map the new token to the user. An unknown user is checked against a dummy
// hash so that its refusal takes as long as a wrong password's, with the same message.
void ServerImpl::Authenticate(const etcdserverpb::AuthenticateRequest& request,
                              Callback<etcdserverpb::AuthenticateResponse> done) {
  if (dummy_password_hash_.empty()) {
    // Once per process, before the first check of any user (so not a per-user difference).
    return auth_crypto_->Hash(
        "", [this, alive = std::weak_ptr<const int>(alive_), request,
             done = std::move(done)](absl::StatusOr<std::string> hash) mutable {
          if (alive.expired()) return;
          if (!hash.ok()) return std::move(done)(hash.status());
          dummy_password_hash_ = *std::move(hash);
          Authenticate(request, std::move(done));
        });
  }
  LinearizableRead([this, request, done = std::move(done)](absl::Status ready) mutable {
    if (!ready.ok()) return std::move(done)(ready);
    if (!auth_->enabled()) return std::move(done)(AuthNotEnabledError());
    const authpb::User* user = auth_->FindUser(request.name());
    const bool found = user != nullptr;
    const bool no_password = found && user->options().no_password();
    std::string hash = found && !no_password ? user->password() : dummy_password_hash_;
    const uint64_t checked_revision = auth_->revision();
    auth_crypto_->Check(
        std::move(hash), request.password(),
        [this, alive = std::weak_ptr<const int>(alive_), name = request.name(), found,
         no_password, checked_revision, done = std::move(done)](bool matches) mutable {
          if (alive.expired()) return;
          if (no_password) return std::move(done)(NoPasswordUserError());
          if (!found || !matches) return std::move(done)(AuthFailedError());
          serverpb::InternalRaftRequest internal;
          serverpb::InternalAuthenticateRequest* a = internal.mutable_authenticate();
          a->set_name(name);
          a->set_simple_token(auth_crypto_->NewTokenPrefix());
          a->set_checked_revision(checked_revision);
          Propose(std::move(internal), [done = std::move(done)](ApplyResult r) mutable {
            std::move(done)(UnwrapAuth<etcdserverpb::AuthenticateResponse>(std::move(r)));
          });
        });
  });
}

}  // namespace keel::server
