// The auth store against etcd 3.4's rules: root rules, the revision, permission intervals
// (single key, prefix, "\0" = to the end, unions of ranges), persistence and the backend
// image a follower installs. Plus bcrypt and simple tokens.
#include "server/auth_store.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "kv/testing/temp_dir.h"
#include "server/auth_crypto.h"
#include "server/auth_tokens.h"

namespace keel::server {
namespace {

using ::keel::kv::testing::TempDir;

std::unique_ptr<kv::Backend> OpenBackend(const std::string& path) {
  kv::BackendOptions o;
  o.path = path;
  auto b = kv::Backend::Open(o);
  EXPECT_TRUE(b.ok()) << b.status();
  return *std::move(b);
}

authpb::Permission Perm(authpb::Permission::Type type, std::string key, std::string end = "") {
  authpb::Permission p;
  p.set_permtype(type);
  p.set_key(std::move(key));
  p.set_range_end(std::move(end));
  return p;
}

const std::string kAll(1, '\0');  // range_end "\0": every key from `key` on

class AuthStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = OpenBackend(dir_.Sub("db"));
    auto store = AuthStore::Load(backend_.get());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }
  // root:root plus auth on, then user u with role r.
  void EnableWithUser(const std::vector<authpb::Permission>& perms) {
    ASSERT_TRUE(store_->UserAdd("root", "h", false).ok());
    ASSERT_TRUE(store_->UserGrantRole("root", "root").ok());
    ASSERT_TRUE(store_->RoleAdd("r").ok());
    for (const auto& p : perms) ASSERT_TRUE(store_->RoleGrantPermission("r", p).ok());
    ASSERT_TRUE(store_->UserAdd("u", "h", false).ok());
    ASSERT_TRUE(store_->UserGrantRole("u", "r").ok());
    ASSERT_TRUE(store_->Enable().ok());
  }
  AuthInfo U() const { return AuthInfo{"u", store_->revision()}; }

  TempDir dir_;
  std::unique_ptr<kv::Backend> backend_;
  std::unique_ptr<AuthStore> store_;
};

TEST_F(AuthStoreTest, EnableNeedsRootUserWithRootRole) {
  EXPECT_EQ(store_->Enable().message(), "etcdserver: root user does not exist");
  ASSERT_TRUE(store_->UserAdd("root", "h", false).ok());
  EXPECT_EQ(store_->Enable().message(), "etcdserver: root user does not have root role");
  // "root" can be granted without a role record (etcd's exception).
  ASSERT_TRUE(store_->UserGrantRole("root", "root").ok());
  EXPECT_TRUE(store_->Enable().ok());
  EXPECT_TRUE(store_->enabled());
  // While enabled: root cannot be deleted nor lose its role, the root role cannot go.
  EXPECT_EQ(store_->UserDelete("root").message(), "etcdserver: invalid auth management");
  EXPECT_EQ(store_->UserRevokeRole("root", "root").message(),
            "etcdserver: invalid auth management");
  EXPECT_EQ(store_->RoleDelete("root").message(), "etcdserver: invalid auth management");
  ASSERT_TRUE(store_->Disable().ok());
  EXPECT_TRUE(store_->UserRevokeRole("root", "root").ok());
}

TEST_F(AuthStoreTest, RevisionCountsEveryChangeButNotRefusalsNorEnable) {
  EXPECT_EQ(store_->revision(), 1u);
  ASSERT_TRUE(store_->UserAdd("root", "h", false).ok());
  EXPECT_EQ(store_->revision(), 2u);
  EXPECT_EQ(store_->UserAdd("root", "h", false).message(), "etcdserver: user name already exists");
  EXPECT_EQ(store_->UserAdd("", "h", false).message(), "etcdserver: user name is empty");
  EXPECT_EQ(store_->RoleAdd("").message(), "etcdserver: role name is empty");
  EXPECT_EQ(store_->UserGrantRole("root", "nope").message(), "etcdserver: role name not found");
  EXPECT_EQ(store_->UserGrantRole("nope", "root").message(), "etcdserver: user name not found");
  EXPECT_EQ(store_->revision(), 2u);
  ASSERT_TRUE(store_->UserGrantRole("root", "root").ok());
  EXPECT_EQ(store_->revision(), 3u);
  ASSERT_TRUE(store_->UserGrantRole("root", "root").ok());  // already held: no change
  EXPECT_EQ(store_->revision(), 3u);
  ASSERT_TRUE(store_->Enable().ok());
  EXPECT_EQ(store_->revision(), 3u);  // etcd's AuthEnable keeps the revision
  ASSERT_TRUE(store_->Disable().ok());
  EXPECT_EQ(store_->revision(), 4u);
}

TEST_F(AuthStoreTest, RoleAndPermissionErrors) {
  ASSERT_TRUE(store_->RoleAdd("r").ok());
  EXPECT_EQ(store_->RoleAdd("r").message(), "etcdserver: role name already exists");
  EXPECT_EQ(store_->RoleRevokePermission("r", "a", "").message(),
            "etcdserver: permission is not granted to the role");
  ASSERT_TRUE(store_->UserAdd("u", "h", false).ok());
  EXPECT_EQ(store_->UserRevokeRole("u", "r").message(),
            "etcdserver: role is not granted to the user");
  ASSERT_TRUE(store_->UserGrantRole("u", "r").ok());
  // Granting the same interval again updates its type instead of adding a second entry.
  ASSERT_TRUE(store_->RoleGrantPermission("r", Perm(authpb::Permission::READ, "b")).ok());
  ASSERT_TRUE(store_->RoleGrantPermission("r", Perm(authpb::Permission::WRITE, "a")).ok());
  ASSERT_TRUE(store_->RoleGrantPermission("r", Perm(authpb::Permission::READWRITE, "b")).ok());
  auto perms = store_->RolePermissions("r");
  ASSERT_TRUE(perms.ok());
  ASSERT_EQ(perms->size(), 2u);
  EXPECT_EQ((*perms)[0].key(), "a");  // sorted by key
  EXPECT_EQ((*perms)[1].permtype(), authpb::Permission::READWRITE);
  // Deleting a role takes it from every user in the same change.
  ASSERT_TRUE(store_->RoleDelete("r").ok());
  EXPECT_TRUE(store_->UserRoles("u")->empty());
  EXPECT_EQ(store_->RolePermissions("r").status().message(), "etcdserver: role name not found");
}

TEST_F(AuthStoreTest, DisabledPermitsEverythingEnabledNeedsCredentials) {
  EXPECT_TRUE(store_->IsPutPermitted(AuthInfo(), "x").ok());
  EnableWithUser({});
  EXPECT_EQ(store_->IsPutPermitted(AuthInfo(), "x").message(), "etcdserver: user name is empty");
  EXPECT_EQ(store_->IsPutPermitted(U(), "x").message(), "etcdserver: permission denied");
  EXPECT_TRUE(store_->IsPutPermitted(AuthInfo{"root", store_->revision()}, "x").ok());
  EXPECT_EQ(store_->IsPutPermitted(AuthInfo{"ghost", store_->revision()}, "x").message(),
            "etcdserver: permission denied");
  EXPECT_TRUE(store_->IsAdminPermitted(AuthInfo{"root", 1}).ok());
  EXPECT_EQ(store_->IsAdminPermitted(U()).message(), "etcdserver: permission denied");
  EXPECT_EQ(store_->IsAdminPermitted(AuthInfo{"ghost", 9}).message(),
            "etcdserver: user name not found");
}

TEST_F(AuthStoreTest, SingleKeyPrefixAndOpenEndedPermissions) {
  EnableWithUser({Perm(authpb::Permission::READWRITE, "/a/", "/a0"),  // prefix /a/
                  Perm(authpb::Permission::READ, "k"),                // one key
                  Perm(authpb::Permission::WRITE, "z", kAll)});       // z and beyond
  const AuthInfo u = U();
  EXPECT_TRUE(store_->IsRangePermitted(u, "/a/x", "").ok());
  EXPECT_TRUE(store_->IsPutPermitted(u, "/a/x").ok());
  EXPECT_TRUE(store_->IsRangePermitted(u, "/a/", "/a0").ok());   // the whole prefix
  EXPECT_TRUE(store_->IsRangePermitted(u, "/a/b", "/a/c").ok());  // inside it
  EXPECT_FALSE(store_->IsRangePermitted(u, "/a", "/a0").ok());    // starts before it
  EXPECT_FALSE(store_->IsRangePermitted(u, "/a/", "/b").ok());    // ends after it
  EXPECT_FALSE(store_->IsRangePermitted(u, "/b", "").ok());
  EXPECT_TRUE(store_->IsRangePermitted(u, "k", "").ok());
  EXPECT_FALSE(store_->IsPutPermitted(u, "k").ok());               // READ only
  EXPECT_FALSE(store_->IsRangePermitted(u, "k", "l").ok());        // "k\0" is not covered
  EXPECT_FALSE(store_->IsRangePermitted(u, "kk", "").ok());
  EXPECT_TRUE(store_->IsPutPermitted(u, "zzzz").ok());
  EXPECT_TRUE(store_->IsDeleteRangePermitted(u, "z", kAll).ok());
  EXPECT_TRUE(store_->IsDeleteRangePermitted(u, "zz", "zzz").ok());
  EXPECT_FALSE(store_->IsDeleteRangePermitted(u, "y", kAll).ok());
  EXPECT_FALSE(store_->IsRangePermitted(u, "z", "").ok());          // WRITE only
}

TEST_F(AuthStoreTest, RangeCoveredByAUnionOfPermissionsWithoutGaps) {
  EnableWithUser({Perm(authpb::Permission::READ, "a", "c"), Perm(authpb::Permission::READ, "c", "e"),
                  Perm(authpb::Permission::READ, "f", "g")});
  const AuthInfo u = U();
  EXPECT_TRUE(store_->IsRangePermitted(u, "a", "e").ok());   // [a,c) + [c,e)
  EXPECT_TRUE(store_->IsRangePermitted(u, "b", "d").ok());
  EXPECT_FALSE(store_->IsRangePermitted(u, "a", "g").ok());  // gap [e,f)
  EXPECT_FALSE(store_->IsRangePermitted(u, "a", kAll).ok());
}

TEST_F(AuthStoreTest, ARequestOlderThanAChangeIsRefused) {
  EnableWithUser({Perm(authpb::Permission::READWRITE, "a")});
  const AuthInfo before = U();
  EXPECT_TRUE(store_->IsPutPermitted(before, "a").ok());
  ASSERT_TRUE(store_->RoleRevokePermission("r", "a", "").ok());
  EXPECT_EQ(store_->IsPutPermitted(before, "a").message(),
            "etcdserver: revision of auth store is old");
  EXPECT_EQ(store_->IsPutPermitted(U(), "a").message(), "etcdserver: permission denied");
}

TEST_F(AuthStoreTest, SurvivesReopenAndTravelsInTheBackendImage) {
  EnableWithUser({Perm(authpb::Permission::READWRITE, "/a/", "/a0")});
  ASSERT_TRUE(store_->UserAdd("np", "", true).ok());
  ASSERT_TRUE(backend_->Commit().ok());
  const uint64_t rev = store_->revision();
  // Copy every record as a leader's image would carry them, into another backend.
  std::vector<std::pair<std::string, std::string>> records;
  ASSERT_TRUE(backend_
                  ->ScanAll([&](std::string_view k, std::string_view v) {
                    records.emplace_back(std::string(k), std::string(v));
                    return true;
                  })
                  .ok());
  store_.reset();
  backend_.reset();
  backend_ = OpenBackend(dir_.Sub("db"));
  auto reopened = AuthStore::Load(backend_.get());
  ASSERT_TRUE(reopened.ok());
  for (AuthStore* s : {reopened->get()}) {
    EXPECT_TRUE(s->enabled());
    EXPECT_EQ(s->revision(), rev);
    EXPECT_EQ(s->UserNames(), (std::vector<std::string>{"np", "root", "u"}));
    EXPECT_TRUE(s->FindUser("np")->options().no_password());
    EXPECT_TRUE(s->IsRangePermitted(AuthInfo{"u", rev}, "/a/x", "").ok());
  }
  // A follower with its own, older auth state installs the image and reloads.
  auto follower_backend = OpenBackend(dir_.Sub("follower"));
  auto follower = AuthStore::Load(follower_backend.get());
  ASSERT_TRUE(follower.ok());
  EXPECT_FALSE((*follower)->enabled());
  ASSERT_TRUE(follower_backend->ReplaceAll(records).ok());
  ASSERT_TRUE((*follower)->Reload().ok());
  EXPECT_TRUE((*follower)->enabled());
  EXPECT_EQ((*follower)->revision(), rev);
  EXPECT_FALSE((*follower)->IsRangePermitted(AuthInfo{"u", rev}, "/b", "").ok());
  EXPECT_TRUE((*follower)->IsRangePermitted(AuthInfo{"u", rev}, "/a/y", "").ok());
}

TEST(AuthCryptoTest, BcryptHashesAndChecks) {
  const std::string salt(kBcryptSaltBytes, 'x');
  auto hash = BcryptHash("pw", 4, salt);
  ASSERT_TRUE(hash.ok()) << hash.status();
  EXPECT_EQ(hash->substr(0, 7), "$2b$04$");
  EXPECT_TRUE(BcryptMatches(*hash, "pw"));
  EXPECT_FALSE(BcryptMatches(*hash, "pW"));
  EXPECT_FALSE(BcryptMatches(*hash, ""));
  EXPECT_FALSE(BcryptMatches("", "pw"));
  // The salt matters: another salt, another hash of the same password.
  EXPECT_NE(*BcryptHash("pw", 4, std::string(kBcryptSaltBytes, 'y')), *hash);
  InlineAuthCrypto crypto(env::Rng(7), 4);
  const std::string prefix = crypto.NewTokenPrefix();
  EXPECT_EQ(prefix.size(), kSimpleTokenPrefixLength);
  for (char c : prefix) EXPECT_TRUE(std::isalpha(static_cast<unsigned char>(c))) << prefix;
}

TEST(SimpleTokensTest, TtlRenewedOnUseInvalidatedPerUser) {
  SimpleTokens tokens(/*ttl_ns=*/100);
  const std::string t = tokens.Assign("abc", 7, "u", 0);
  EXPECT_EQ(t, "abc.7");
  EXPECT_EQ(tokens.Lookup(t, 90), "u");   // renews until 190
  EXPECT_EQ(tokens.Lookup(t, 180), "u");  // renews until 280
  EXPECT_EQ(tokens.Lookup(t, 280), std::nullopt);
  const std::string t2 = tokens.Assign("def", 8, "v", 300);
  tokens.InvalidateUser("v");
  EXPECT_EQ(tokens.Lookup(t2, 301), std::nullopt);
}

}  // namespace
}  // namespace keel::server
