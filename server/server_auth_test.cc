// Auth through the whole server core on a one-member simulated world (the etcdctl-level
// comparison with etcd 3.4 is tests/auth_test.py): tokens name users, permissions are
// checked when an entry applies, and a permission revoked after a request was proposed
// but before it applied denies it ("revision of auth store is old").
#include <optional>

#include "env/leveldb_env.h"
#include "gtest/gtest.h"
#include "server/member_id.h"
#include "server/server_impl.h"
#include "sim/network.h"
#include "sim/sim_env.h"
#include "sim/world.h"

namespace keel::server {
namespace {

constexpr int64_t kMs = 1'000'000;
constexpr char kPeer[] = "http://127.0.0.1:23800";

class ServerAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const uint64_t id = ComputeMemberId({kPeer}, "auth-test");
    auto env = sim::SimEnv::Create(&world_, &network_, id, {});
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = *std::move(env);
    env::LevelDbEnv::Options ldb;
    ldb.fs = env_->fs();
    ldb.background = env::LevelDbEnv::BackgroundMode::kQueued;
    env::Loop* loop = env_->loop();
    ldb.now_micros = [loop]() { return static_cast<uint64_t>(loop->NowNanos() / 1000); };
    auto leveldb = env::LevelDbEnv::Create(std::move(ldb));
    ASSERT_TRUE(leveldb.ok());
    leveldb_ = *std::move(leveldb);
    ServerConfig c;
    c.name = "n1";
    c.data_dir = "/data";
    c.initial_cluster = {{"n1", {kPeer}}};
    c.initial_cluster_token = "auth-test";
    c.heartbeat_interval_ms = 10;
    c.election_timeout_ms = 100;
    c.bcrypt_cost = 4;  // bcrypt's minimum: the test checks behaviour, not strength
    c.auth_token_ttl_ms = 60'000;
    c.leveldb_env = leveldb_.get();
    env::LevelDbEnv* raw = leveldb_.get();
    c.after_db_call = [raw]() { raw->RunQueuedWork(); };
    auto server = Server::Open(env_.get(), std::move(c));
    ASSERT_TRUE(server.ok()) << server.status();
    server_.reset(static_cast<ServerImpl*>(server->release()));
    server_->Start();
    for (int i = 0; i < 100 && !server_->HasLeader(); ++i) {
      world_.RunUntil(world_.now_ns() + 10 * kMs);
    }
    ASSERT_TRUE(server_->HasLeader());
  }
  void TearDown() override {
    server_.reset();
    leveldb_.reset();
  }

  template <typename Response, typename Call>
  absl::StatusOr<Response> On(Call call) {
    std::optional<absl::StatusOr<Response>> result;
    env_->loop()->Post([&]() { call([&](absl::StatusOr<Response> r) { result = std::move(r); }); });
    for (int step = 0; step < 100000 && !result.has_value(); ++step) world_.Step();
    return result.value_or(absl::InternalError("no answer"));
  }

  absl::StatusOr<std::string> Authenticate(const std::string& name, const std::string& pw) {
    etcdserverpb::AuthenticateRequest r;
    r.set_name(name);
    r.set_password(pw);
    auto resp = On<etcdserverpb::AuthenticateResponse>(
        [&](auto done) { server_->Authenticate(r, std::move(done)); });
    if (!resp.ok()) return resp.status();
    return resp->token();
  }

  absl::Status Put(const std::string& key, const Caller& caller) {
    etcdserverpb::PutRequest r;
    r.set_key(key);
    r.set_value("v");
    return On<etcdserverpb::PutResponse>(
               [&](auto done) { server_->Put(r, std::move(done), caller); })
        .status();
  }

  // root (root role), role r with readwrite on key "a", user u holding r; auth on.
  void SetUpUsers() {
    const Caller none;
    etcdserverpb::AuthUserAddRequest add;
    add.set_name("root");
    add.set_password("rootpw");
    ASSERT_TRUE(On<etcdserverpb::AuthUserAddResponse>(
                    [&](auto d) { server_->UserAdd(add, std::move(d), none); })
                    .ok());
    add.set_name("u");
    add.set_password("upw");
    ASSERT_TRUE(On<etcdserverpb::AuthUserAddResponse>(
                    [&](auto d) { server_->UserAdd(add, std::move(d), none); })
                    .ok());
    etcdserverpb::AuthRoleAddRequest role;
    role.set_name("r");
    ASSERT_TRUE(On<etcdserverpb::AuthRoleAddResponse>(
                    [&](auto d) { server_->RoleAdd(role, std::move(d), none); })
                    .ok());
    etcdserverpb::AuthRoleGrantPermissionRequest grant;
    grant.set_name("r");
    grant.mutable_perm()->set_key("a");
    grant.mutable_perm()->set_permtype(authpb::Permission::READWRITE);
    ASSERT_TRUE(On<etcdserverpb::AuthRoleGrantPermissionResponse>(
                    [&](auto d) { server_->RoleGrantPermission(grant, std::move(d), none); })
                    .ok());
    for (const auto& [user, r] : {std::pair{"root", "root"}, std::pair{"u", "r"}}) {
      etcdserverpb::AuthUserGrantRoleRequest g;
      g.set_user(user);
      g.set_role(r);
      ASSERT_TRUE(On<etcdserverpb::AuthUserGrantRoleResponse>(
                      [&](auto d) { server_->UserGrantRole(g, std::move(d), none); })
                      .ok());
    }
    ASSERT_TRUE(On<etcdserverpb::AuthEnableResponse>([&](auto d) {
                  server_->AuthEnable(etcdserverpb::AuthEnableRequest(), std::move(d), none);
                }).ok());
  }

  sim::World world_{13};
  sim::SimNetwork network_{&world_, sim::NetworkOptions{}, env::Rng(13)};
  std::unique_ptr<sim::SimEnv> env_;
  std::unique_ptr<env::LevelDbEnv> leveldb_;
  std::unique_ptr<ServerImpl> server_;
};

TEST_F(ServerAuthTest, TokensNameUsersAndWritesAreCheckedWhenApplied) {
  SetUpUsers();
  EXPECT_EQ(Put("a", Caller()).message(), "etcdserver: user name is empty");
  EXPECT_EQ(Authenticate("u", "wrong").status().message(),
            "etcdserver: authentication failed, invalid user ID or password");
  EXPECT_EQ(Authenticate("nobody", "upw").status().message(),
            "etcdserver: authentication failed, invalid user ID or password");
  absl::StatusOr<std::string> token = Authenticate("u", "upw");
  ASSERT_TRUE(token.ok()) << token.status();
  const Caller u{*token, ""};
  EXPECT_TRUE(Put("a", u).ok());
  EXPECT_EQ(Put("b", u).message(), "etcdserver: permission denied");
  EXPECT_EQ(Put("a", Caller{"bogus.1", ""}).code(), absl::StatusCode::kUnauthenticated);
  // The certificate CN (no token) is the user, as with --client-cert-auth.
  EXPECT_TRUE(Put("a", Caller{"", "u"}).ok());
  EXPECT_EQ(server_->CheckAdmin(u).message(), "auth: permission denied");
}

TEST_F(ServerAuthTest, APermissionRevokedBetweenProposeAndApplyDenies) {
  SetUpUsers();
  absl::StatusOr<std::string> root = Authenticate("root", "rootpw");
  absl::StatusOr<std::string> user = Authenticate("u", "upw");
  ASSERT_TRUE(root.ok() && user.ok());
  // One loop turn: the revoke is proposed first, then u's put, stamped with the auth
  // revision before the revoke. Both are in the log when neither has applied; the put
  // applies after the revoke and must be refused.
  std::optional<absl::Status> revoked, put;
  env_->loop()->Post([&]() {
    etcdserverpb::AuthRoleRevokePermissionRequest revoke;
    revoke.set_role("r");
    revoke.set_key("a");
    server_->RoleRevokePermission(
        revoke,
        [&](absl::StatusOr<etcdserverpb::AuthRoleRevokePermissionResponse> r) {
          revoked = r.status();
        },
        Caller{*root, ""});
    etcdserverpb::PutRequest p;
    p.set_key("a");
    server_->Put(
        p, [&](absl::StatusOr<etcdserverpb::PutResponse> r) { put = r.status(); },
        Caller{*user, ""});
  });
  for (int step = 0; step < 100000 && !(revoked && put); ++step) world_.Step();
  ASSERT_TRUE(revoked.has_value() && put.has_value());
  EXPECT_TRUE(revoked->ok()) << *revoked;
  EXPECT_EQ(put->message(), "etcdserver: revision of auth store is old");
  // Sent again, it carries the new revision and meets the new rule.
  EXPECT_EQ(Put("a", Caller{*user, ""}).message(), "etcdserver: permission denied");
}

class RecordingSink final : public WatchSink {
 public:
  bool Send(const std::vector<etcdserverpb::WatchResponse>& responses) override {
    for (const auto& r : responses) got.push_back(r);
    return true;
  }
  std::vector<etcdserverpb::WatchResponse> got;
};

TEST_F(ServerAuthTest, WatchesNeedReadPermissionAndEndWhenItIsRevoked) {
  SetUpUsers();
  absl::StatusOr<std::string> root = Authenticate("root", "rootpw");
  absl::StatusOr<std::string> user = Authenticate("u", "upw");
  ASSERT_TRUE(root.ok() && user.ok());
  RecordingSink sink;
  std::unique_ptr<WatchStream> stream;
  env_->loop()->Post([&]() {
    stream = server_->NewWatchStream(&sink, Caller{*user, ""});
    for (const char* key : {"a", "b"}) {
      etcdserverpb::WatchRequest create;
      create.mutable_create_request()->set_key(key);
      stream->Handle(create);
    }
  });
  for (int step = 0; step < 100000 && sink.got.size() < 2; ++step) world_.Step();
  ASSERT_EQ(sink.got.size(), 2u);
  // "a" is created; "b" is refused as etcd 3.4 refuses it.
  EXPECT_TRUE(sink.got[0].created() && !sink.got[0].canceled());
  const int64_t watch_a = sink.got[0].watch_id();
  EXPECT_TRUE(sink.got[1].created() && sink.got[1].canceled());
  EXPECT_EQ(sink.got[1].watch_id(), -1);
  EXPECT_EQ(sink.got[1].cancel_reason(),
            "rpc error: code = PermissionDenied desc = etcdserver: permission denied");
  // Revoking the permission ends the open watch on "a".
  etcdserverpb::AuthRoleRevokePermissionRequest revoke;
  revoke.set_role("r");
  revoke.set_key("a");
  ASSERT_TRUE(On<etcdserverpb::AuthRoleRevokePermissionResponse>([&](auto d) {
                server_->RoleRevokePermission(revoke, std::move(d), Caller{*root, ""});
              }).ok());
  for (int step = 0; step < 100000 && sink.got.size() < 3; ++step) world_.Step();
  ASSERT_EQ(sink.got.size(), 3u);
  EXPECT_TRUE(sink.got[2].canceled());
  EXPECT_EQ(sink.got[2].watch_id(), watch_a);
  env_->loop()->Post([&]() { stream.reset(); });
  world_.RunUntil(world_.now_ns() + 10 * kMs);
}

}  // namespace
}  // namespace keel::server
