#include "server/auth_store.h"

#include <algorithm>

#include "server/auth_errors.h"

namespace keel::server {
namespace {

constexpr std::string_view kAuthBucket = "auth";
constexpr std::string_view kUsersBucket = "authUsers";
constexpr std::string_view kRolesBucket = "authRoles";
constexpr std::string_view kEnabledKey = "authEnabled";
constexpr std::string_view kRevisionKey = "authRevision";

std::string EncodeRevision(uint64_t rev) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(rev >> (56 - 8 * i));
  return out;
}

uint64_t DecodeRevision(std::string_view bytes) {
  uint64_t rev = 0;
  for (char c : bytes) rev = (rev << 8) | static_cast<uint8_t>(c);
  return rev;
}

// One permission's key interval in etcd's "affine" order, where an empty bound is +infinity:
// [key, key+"\0") for a single key, [key, +inf) for range_end "\0", else [key, range_end).
struct Interval {
  std::string begin;
  std::string end;  // empty = +infinity
};

// a < b in the affine order (empty = +infinity).
bool AffineLess(std::string_view a, std::string_view b) {
  if (a.empty()) return false;
  if (b.empty()) return true;
  return a < b;
}

Interval PermissionInterval(const authpb::Permission& p) {
  if (p.range_end().empty()) return {p.key(), p.key() + std::string(1, '\0')};
  if (p.range_end() == std::string_view("\0", 1)) return {p.key(), ""};
  return {p.key(), p.range_end()};
}

bool Grants(authpb::Permission::Type have, authpb::Permission::Type want) {
  return have == authpb::Permission::READWRITE || have == want;
}

}  // namespace

absl::StatusOr<std::unique_ptr<AuthStore>> AuthStore::Load(kv::Backend* backend) {
  std::unique_ptr<AuthStore> store(new AuthStore(backend));
  absl::Status loaded = store->Reload();
  if (!loaded.ok()) return loaded;
  return store;
}

absl::Status AuthStore::Reload() {
  users_.clear();
  roles_.clear();
  absl::StatusOr<std::optional<std::string>> enabled = backend_->Get(kAuthBucket, kEnabledKey);
  if (!enabled.ok()) return enabled.status();
  enabled_ = enabled->has_value() && **enabled == std::string_view("\x01", 1);
  absl::StatusOr<std::optional<std::string>> rev = backend_->Get(kAuthBucket, kRevisionKey);
  if (!rev.ok()) return rev.status();
  // etcd's NewAuthStore commits revision 1 on a fresh store; an absent record reads as 1.
  revision_ = rev->has_value() ? std::max<uint64_t>(1, DecodeRevision(**rev)) : 1;
  bool bad = false;
  absl::Status scan = backend_->Scan(kUsersBucket, "", "", 0, [&](std::string_view k,
                                                                 std::string_view v) {
    authpb::User user;
    bad = !user.ParseFromArray(v.data(), static_cast<int>(v.size())) || user.name() != k;
    if (!bad) users_.emplace(std::string(k), std::move(user));
    return !bad;
  });
  if (!scan.ok()) return scan;
  scan = backend_->Scan(kRolesBucket, "", "", 0, [&](std::string_view k, std::string_view v) {
    authpb::Role role;
    bad = bad || !role.ParseFromArray(v.data(), static_cast<int>(v.size())) || role.name() != k;
    if (!bad) roles_.emplace(std::string(k), std::move(role));
    return !bad;
  });
  if (!scan.ok()) return scan;
  if (bad) return absl::DataLossError("backend: unreadable auth user or role record");
  return absl::OkStatus();
}

void AuthStore::CommitRevision() {
  ++revision_;
  backend_->Put(kAuthBucket, kRevisionKey, EncodeRevision(revision_));
}

void AuthStore::PutUser(const authpb::User& user) {
  backend_->Put(kUsersBucket, user.name(), user.SerializeAsString());
  users_[user.name()] = user;
}

void AuthStore::PutRole(const authpb::Role& role) {
  backend_->Put(kRolesBucket, role.name(), role.SerializeAsString());
  roles_[role.name()] = role;
}

absl::Status AuthStore::Enable() {
  if (enabled_) return absl::OkStatus();  // etcd: already enabled, ignored
  const authpb::User* root = FindUser(kRootUser);
  if (root == nullptr) return RootUserNotExistError();
  if (!HasRole(kRootUser, kRootRole)) return RootRoleNotExistError();
  backend_->Put(kAuthBucket, kEnabledKey, std::string_view("\x01", 1));
  enabled_ = true;
  // etcd does not count AuthEnable as a change of the revision.
  return absl::OkStatus();
}

absl::Status AuthStore::Disable() {
  if (!enabled_) return absl::OkStatus();
  backend_->Put(kAuthBucket, kEnabledKey, std::string_view("\0", 1));
  enabled_ = false;
  CommitRevision();
  return absl::OkStatus();
}

absl::Status AuthStore::UserAdd(std::string_view name, std::string_view hashed_password,
                                bool no_password) {
  if (name.empty()) return UserEmptyError();
  if (FindUser(name) != nullptr) return UserAlreadyExistError();
  authpb::User user;
  user.set_name(std::string(name));
  if (!no_password) user.set_password(std::string(hashed_password));
  user.mutable_options()->set_no_password(no_password);
  PutUser(user);
  CommitRevision();
  return absl::OkStatus();
}

absl::Status AuthStore::UserDelete(std::string_view name) {
  if (enabled_ && name == kRootUser) return InvalidAuthMgmtError();
  auto it = users_.find(name);
  if (it == users_.end()) return UserNotFoundError();
  backend_->Delete(kUsersBucket, name);
  users_.erase(it);
  CommitRevision();
  return absl::OkStatus();
}

absl::Status AuthStore::UserChangePassword(std::string_view name,
                                           std::string_view hashed_password) {
  const authpb::User* found = FindUser(name);
  if (found == nullptr) return UserNotFoundError();
  authpb::User user = *found;
  user.set_password(std::string(hashed_password));
  PutUser(user);
  CommitRevision();
  return absl::OkStatus();
}

absl::Status AuthStore::UserGrantRole(std::string_view user_name, std::string_view role) {
  const authpb::User* found = FindUser(user_name);
  if (found == nullptr) return UserNotFoundError();
  if (role != kRootRole && roles_.find(role) == roles_.end()) return RoleNotFoundError();
  authpb::User user = *found;
  std::vector<std::string> roles(user.roles().begin(), user.roles().end());
  auto at = std::lower_bound(roles.begin(), roles.end(), role);
  if (at != roles.end() && *at == role) return absl::OkStatus();  // etcd: ignored, no change
  roles.insert(at, std::string(role));
  user.clear_roles();
  for (std::string& r : roles) user.add_roles(std::move(r));
  PutUser(user);
  CommitRevision();
  return absl::OkStatus();
}

absl::Status AuthStore::UserRevokeRole(std::string_view name, std::string_view role) {
  if (enabled_ && name == kRootUser && role == kRootRole) return InvalidAuthMgmtError();
  const authpb::User* found = FindUser(name);
  if (found == nullptr) return UserNotFoundError();
  authpb::User user = *found;
  user.clear_roles();
  for (const std::string& r : found->roles()) {
    if (r != role) user.add_roles(r);
  }
  if (user.roles_size() == found->roles_size()) return RoleNotGrantedError();
  PutUser(user);
  CommitRevision();
  return absl::OkStatus();
}

absl::Status AuthStore::RoleAdd(std::string_view name) {
  if (name.empty()) return RoleEmptyError();
  if (roles_.find(name) != roles_.end()) return RoleAlreadyExistError();
  authpb::Role role;
  role.set_name(std::string(name));
  PutRole(role);
  CommitRevision();
  return absl::OkStatus();
}

absl::Status AuthStore::RoleDelete(std::string_view name) {
  if (enabled_ && name == kRootRole) return InvalidAuthMgmtError();
  auto it = roles_.find(name);
  if (it == roles_.end()) return RoleNotFoundError();
  backend_->Delete(kRolesBucket, name);
  roles_.erase(it);
  // Every user loses the role in the same change (etcd's RoleDelete).
  std::vector<authpb::User> changed;
  for (const auto& [user_name, user] : users_) {
    if (std::find(user.roles().begin(), user.roles().end(), name) == user.roles().end()) continue;
    authpb::User updated = user;
    updated.clear_roles();
    for (const std::string& r : user.roles()) {
      if (r != name) updated.add_roles(r);
    }
    changed.push_back(std::move(updated));
  }
  for (const authpb::User& u : changed) PutUser(u);
  CommitRevision();
  return absl::OkStatus();
}

absl::Status AuthStore::RoleGrantPermission(std::string_view name,
                                            const authpb::Permission& perm) {
  auto it = roles_.find(name);
  if (it == roles_.end()) return RoleNotFoundError();
  authpb::Role role = it->second;
  bool updated = false;
  for (authpb::Permission& p : *role.mutable_keypermission()) {
    if (p.key() == perm.key() && p.range_end() == perm.range_end()) {
      p.set_permtype(perm.permtype());  // etcd: same interval = update its type
      updated = true;
      break;
    }
  }
  if (!updated) {
    *role.add_keypermission() = perm;
    // Sorted by key, stable for equal keys, as etcd's sort.Sort(permSlice) leaves them
    // in practice for the orders etcdctl produces.
    std::stable_sort(role.mutable_keypermission()->begin(), role.mutable_keypermission()->end(),
                     [](const authpb::Permission& a, const authpb::Permission& b) {
                       return a.key() < b.key();
                     });
  }
  PutRole(role);
  CommitRevision();
  return absl::OkStatus();
}

absl::Status AuthStore::RoleRevokePermission(std::string_view name, std::string_view key,
                                             std::string_view range_end) {
  auto it = roles_.find(name);
  if (it == roles_.end()) return RoleNotFoundError();
  authpb::Role role;
  role.set_name(std::string(name));
  for (const authpb::Permission& p : it->second.keypermission()) {
    if (p.key() != key || p.range_end() != range_end) *role.add_keypermission() = p;
  }
  if (role.keypermission_size() == it->second.keypermission_size()) {
    return PermissionNotGrantedError();
  }
  PutRole(role);
  CommitRevision();
  return absl::OkStatus();
}

const authpb::User* AuthStore::FindUser(std::string_view name) const {
  auto it = users_.find(name);
  return it == users_.end() ? nullptr : &it->second;
}

absl::StatusOr<std::vector<std::string>> AuthStore::UserRoles(std::string_view name) const {
  const authpb::User* user = FindUser(name);
  if (user == nullptr) return UserNotFoundError();
  return std::vector<std::string>(user->roles().begin(), user->roles().end());
}

std::vector<std::string> AuthStore::UserNames() const {
  std::vector<std::string> names;
  names.reserve(users_.size());
  for (const auto& [name, user] : users_) names.push_back(name);
  return names;
}

absl::StatusOr<std::vector<authpb::Permission>> AuthStore::RolePermissions(
    std::string_view name) const {
  auto it = roles_.find(name);
  if (it == roles_.end()) return RoleNotFoundError();
  return std::vector<authpb::Permission>(it->second.keypermission().begin(),
                                         it->second.keypermission().end());
}

std::vector<std::string> AuthStore::RoleNames() const {
  std::vector<std::string> names;
  names.reserve(roles_.size());
  for (const auto& [name, role] : roles_) names.push_back(name);
  return names;
}

bool AuthStore::HasRole(std::string_view user, std::string_view role) const {
  const authpb::User* u = FindUser(user);
  if (u == nullptr) return false;
  return std::find(u->roles().begin(), u->roles().end(), role) != u->roles().end();
}

// etcd's checkKeyPoint / checkKeyInterval: a single key needs one permission containing it;
// a range needs the union of the permissions overlapping it to cover it without a gap.
bool AuthStore::Covers(const authpb::User& user, std::string_view key, std::string_view range_end,
                       authpb::Permission::Type type) const {
  std::vector<Interval> perms;
  for (const std::string& role_name : user.roles()) {
    auto it = roles_.find(role_name);
    if (it == roles_.end()) continue;
    for (const authpb::Permission& p : it->second.keypermission()) {
      if (Grants(p.permtype(), type)) perms.push_back(PermissionInterval(p));
    }
  }
  if (range_end.empty()) {
    return std::any_of(perms.begin(), perms.end(), [&](const Interval& iv) {
      return !AffineLess(key, iv.begin) && AffineLess(key, iv.end);
    });
  }
  const std::string_view want_end = range_end == std::string_view("\0", 1) ? "" : range_end;
  std::sort(perms.begin(), perms.end(), [](const Interval& a, const Interval& b) {
    return AffineLess(a.begin, b.begin);
  });
  std::string covered(key);  // everything in [key, covered) is permitted so far
  for (const Interval& iv : perms) {
    if (!AffineLess(covered, iv.end)) continue;  // ends before what is left
    if (AffineLess(covered, iv.begin)) return false;  // a gap before this one
    covered = iv.end;
    if (covered.empty() || !AffineLess(covered, want_end)) return true;
  }
  return false;
}

absl::Status AuthStore::IsOpPermitted(const AuthInfo& who, std::string_view key,
                                      std::string_view range_end,
                                      authpb::Permission::Type type) const {
  if (!enabled_) return absl::OkStatus();
  if (who.revision == 0) return UserEmptyError();  // no credentials at all
  if (who.revision < revision_) return AuthOldRevisionError();
  const authpb::User* user = FindUser(who.username);
  if (user == nullptr) return PermissionDeniedError();
  if (HasRole(who.username, kRootRole)) return absl::OkStatus();
  if (Covers(*user, key, range_end, type)) return absl::OkStatus();
  return PermissionDeniedError();
}

absl::Status AuthStore::IsRangePermitted(const AuthInfo& who, std::string_view key,
                                         std::string_view range_end) const {
  return IsOpPermitted(who, key, range_end, authpb::Permission::READ);
}

absl::Status AuthStore::IsPutPermitted(const AuthInfo& who, std::string_view key) const {
  return IsOpPermitted(who, key, "", authpb::Permission::WRITE);
}

absl::Status AuthStore::IsDeleteRangePermitted(const AuthInfo& who, std::string_view key,
                                               std::string_view range_end) const {
  return IsOpPermitted(who, key, range_end, authpb::Permission::WRITE);
}

absl::Status AuthStore::IsAdminPermitted(const AuthInfo& who) const {
  if (!enabled_) return absl::OkStatus();
  if (who.username.empty()) return UserEmptyError();
  if (FindUser(who.username) == nullptr) return UserNotFoundError();
  if (!HasRole(who.username, kRootRole)) return PermissionDeniedError();
  return absl::OkStatus();
}

}  // namespace keel::server
