// The auth store: etcd's users, roles and key permissions, the enabled flag and the auth
// revision (etcd 3.4's auth/store.go), replicated through the apply path.
//
// State lives in memory (the source of truth while applying) and in the backend, in etcd's
// buckets: "authUsers" (name -> authpb.User), "authRoles" (name -> authpb.Role), "auth"
// ("authEnabled" -> 0x00/0x01, "authRevision" -> 8-byte big-endian). Mutations stage their
// writes in the backend's open batch, so they commit atomically with the entry's consistent
// index; the backend image sent to a lagging follower carries the buckets, and Reload after
// an install rebuilds memory from them.
//
// Threading: the member's Loop only. Deterministic: no clock, no randomness (passwords
// arrive hashed, tokens are elsewhere: auth_tokens.h).
//
// Invariants: the revision starts at 1 and grows by exactly one per successful change
// (never for a failed one, nor for AuthEnable, as etcd); every role a user lists exists,
// except "root", which a user may hold without a "root" role record (etcd's rule).
#ifndef KEEL_SERVER_AUTH_STORE_H_
#define KEEL_SERVER_AUTH_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "api/authpb/auth.pb.h"
#include "kv/backend.h"

namespace keel::server {

inline constexpr char kRootUser[] = "root";
inline constexpr char kRootRole[] = "root";

// Who a request runs as (etcd's auth.AuthInfo): the user and the auth revision at which its
// token (or certificate) was resolved. revision 0 = no credentials at all.
struct AuthInfo {
  std::string username;
  uint64_t revision = 0;
};

class AuthStore {
 public:
  // Reads the auth buckets of `backend` (not owned; must outlive the store).
  static absl::StatusOr<std::unique_ptr<AuthStore>> Load(kv::Backend* backend);
  // Replaces memory with what the backend holds (after a snapshot's image was installed).
  absl::Status Reload();

  bool enabled() const { return enabled_; }
  uint64_t revision() const { return revision_; }

  // ---- Changes (apply path; etcd's messages on refusal, nothing changed then) ----
  absl::Status Enable();
  absl::Status Disable();
  // `hashed_password` is a bcrypt hash (auth_crypto.h), empty for a no-password user.
  absl::Status UserAdd(std::string_view name, std::string_view hashed_password, bool no_password);
  absl::Status UserDelete(std::string_view name);
  absl::Status UserChangePassword(std::string_view name, std::string_view hashed_password);
  absl::Status UserGrantRole(std::string_view user, std::string_view role);
  absl::Status UserRevokeRole(std::string_view name, std::string_view role);
  absl::Status RoleAdd(std::string_view name);
  absl::Status RoleDelete(std::string_view name);
  absl::Status RoleGrantPermission(std::string_view name, const authpb::Permission& perm);
  absl::Status RoleRevokePermission(std::string_view name, std::string_view key,
                                    std::string_view range_end);

  // ---- Queries ----
  // nullptr if unknown.
  const authpb::User* FindUser(std::string_view name) const;
  absl::StatusOr<std::vector<std::string>> UserRoles(std::string_view name) const;
  std::vector<std::string> UserNames() const;  // sorted, as etcd's bolt bucket
  absl::StatusOr<std::vector<authpb::Permission>> RolePermissions(std::string_view name) const;
  std::vector<std::string> RoleNames() const;  // sorted
  bool HasRole(std::string_view user, std::string_view role) const;

  // ---- Permission checks (etcd's isOpPermitted / IsAdminPermitted); OK when disabled ----
  // range_end empty = the single key; "\0" = every key from `key` on; else [key, range_end).
  // A range is permitted only if the user's permissions of that type cover all of it.
  absl::Status IsRangePermitted(const AuthInfo& who, std::string_view key,
                                std::string_view range_end) const;
  absl::Status IsPutPermitted(const AuthInfo& who, std::string_view key) const;
  absl::Status IsDeleteRangePermitted(const AuthInfo& who, std::string_view key,
                                      std::string_view range_end) const;
  absl::Status IsAdminPermitted(const AuthInfo& who) const;

 private:
  explicit AuthStore(kv::Backend* backend) : backend_(backend) {}
  absl::Status IsOpPermitted(const AuthInfo& who, std::string_view key,
                             std::string_view range_end, authpb::Permission::Type type) const;
  bool Covers(const authpb::User& user, std::string_view key, std::string_view range_end,
              authpb::Permission::Type type) const;
  void PutUser(const authpb::User& user);
  void PutRole(const authpb::Role& role);
  // Revision + 1, staged with the change it counts.
  void CommitRevision();

  kv::Backend* const backend_;
  bool enabled_ = false;
  uint64_t revision_ = 1;
  std::map<std::string, authpb::User, std::less<>> users_;
  std::map<std::string, authpb::Role, std::less<>> roles_;
};

}  // namespace keel::server

#endif  // KEEL_SERVER_AUTH_STORE_H_
