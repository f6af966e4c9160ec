// The NOSPACE alarm on a one-member server in the simulated world (the etcdctl-level
// comparison with etcd 3.4 is tests/nospace_test.py): the front-end refusal raises it,
// a write refused only when it applies raises it too (etcd's applyEntryNormal), it caps
// writes while reads and deletes work, and disarming lifts the cap.
#include <optional>

#include "absl/strings/str_format.h"

#include "env/leveldb_env.h"
#include "gtest/gtest.h"
#include "kv/errors.h"
#include "server/member_id.h"
#include "server/server_impl.h"
#include "sim/network.h"
#include "sim/sim_env.h"
#include "sim/world.h"

namespace keel::server {
namespace {

constexpr int64_t kMs = 1'000'000;
constexpr char kPeer[] = "http://127.0.0.1:23800";

class ServerQuotaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    id_ = ComputeMemberId({kPeer}, "quota-test");
    auto env = sim::SimEnv::Create(&world_, &network_, id_, {});
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
    c.initial_cluster_token = "quota-test";
    c.heartbeat_interval_ms = 10;
    c.election_timeout_ms = 100;
    c.quota_backend_bytes = 20000;
    c.leveldb_env = leveldb_.get();
    env::LevelDbEnv* raw = leveldb_.get();
    c.after_db_call = [raw]() { raw->RunQueuedWork(); };
    auto server = Server::Open(env_.get(), std::move(c));
    ASSERT_TRUE(server.ok()) << server.status();
    server_.reset(static_cast<ServerImpl*>(server->release()));
    server_->Start();
    for (int i = 0; i < 100 && !server_->HasLeader(); ++i) world_.RunUntil(world_.now_ns() + 10 * kMs);
    ASSERT_TRUE(server_->HasLeader());
  }
  void TearDown() override {
    server_.reset();
    leveldb_.reset();
  }

  // Issues every request in one loop turn, then runs until all have answered.
  std::vector<absl::Status> Puts(const std::vector<std::pair<std::string, size_t>>& puts) {
    std::vector<std::optional<absl::Status>> results(puts.size());
    env_->loop()->Post([&]() {
      for (size_t i = 0; i < puts.size(); ++i) {
        etcdserverpb::PutRequest put;
        put.set_key(puts[i].first);
        put.set_value(std::string(puts[i].second, 'v'));
        server_->Put(put, [&results, i](absl::StatusOr<etcdserverpb::PutResponse> r) {
          results[i] = r.status();
        });
      }
    });
    std::vector<absl::Status> out;
    for (int step = 0; step < 100000; ++step) {
      bool all = true;
      for (const auto& r : results) all &= r.has_value();
      if (all) break;
      world_.Step();
    }
    for (const auto& r : results) out.push_back(r.value_or(absl::InternalError("no answer")));
    world_.RunUntil(world_.now_ns() + 100 * kMs);  // let an alarm proposal apply
    return out;
  }

  template <typename Response, typename Call>
  absl::StatusOr<Response> On(Call call) {
    std::optional<absl::StatusOr<Response>> result;
    env_->loop()->Post([&]() { call([&](absl::StatusOr<Response> r) { result = std::move(r); }); });
    for (int step = 0; step < 100000 && !result.has_value(); ++step) world_.Step();
    return result.value_or(absl::InternalError("no answer"));
  }

  bool NoSpaceRaised() {
    for (const auto& m : server_->Stats().alarms) {
      if (m.memberid() == id_ && m.alarm() == etcdserverpb::NOSPACE) return true;
    }
    return false;
  }

  static bool IsNoSpace(const absl::Status& s) {
    return s.code() == absl::StatusCode::kResourceExhausted && s.message() == kv::kMsgNoSpace;
  }

  sim::World world_{11};
  sim::SimNetwork network_{&world_, sim::NetworkOptions{}, env::Rng(11)};
  uint64_t id_ = 0;
  std::unique_ptr<sim::SimEnv> env_;
  std::unique_ptr<env::LevelDbEnv> leveldb_;
  std::unique_ptr<ServerImpl> server_;
};

TEST_F(ServerQuotaTest, AWriteRefusedOnlyWhenItAppliesRaisesTheAlarmToo) {
  // Both fit the store as it is when they are proposed; together they do not, so the
  // second is refused by the apply path, which must raise NOSPACE itself.
  std::vector<absl::Status> r = Puts({{"a", 12000}, {"b", 12000}});
  ASSERT_TRUE(r[0].ok()) << r[0];
  EXPECT_TRUE(IsNoSpace(r[1])) << r[1];
  EXPECT_TRUE(NoSpaceRaised());
}

TEST_F(ServerQuotaTest, FrontEndRefusalRaisesTheAlarmWhichCapsWritesUntilDisarmed) {
  ASSERT_TRUE(Puts({{"a", 15000}})[0].ok());
  EXPECT_FALSE(NoSpaceRaised());
  std::vector<absl::Status> r = Puts({{"b", 9000}});
  EXPECT_TRUE(IsNoSpace(r[0])) << r[0];
  ASSERT_TRUE(NoSpaceRaised());
  // Capped: even a tiny put is refused; status reports the alarm as etcd prints it.
  EXPECT_TRUE(IsNoSpace(Puts({{"tiny", 1}})[0]));
  auto status = On<etcdserverpb::StatusResponse>([&](auto done) { server_->Status({}, done); });
  ASSERT_TRUE(status.ok());
  ASSERT_EQ(status->errors_size(), 1);
  EXPECT_EQ(status->errors(0), absl::StrFormat("memberID:%d alarm:NOSPACE ", id_));
  // Deletes still work; space freed does not lift the cap by itself.
  etcdserverpb::DeleteRangeRequest del;
  del.set_key("a");
  auto d = On<etcdserverpb::DeleteRangeResponse>([&](auto done) { server_->DeleteRange(del, done); });
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->deleted(), 1);
  EXPECT_TRUE(IsNoSpace(Puts({{"tiny", 1}})[0]));
  etcdserverpb::AlarmRequest disarm;
  disarm.set_action(etcdserverpb::AlarmRequest::DEACTIVATE);
  disarm.set_memberid(id_);
  disarm.set_alarm(etcdserverpb::NOSPACE);
  auto a = On<etcdserverpb::AlarmResponse>([&](auto done) { server_->Alarm(disarm, done); });
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->alarms_size(), 1);
  EXPECT_FALSE(NoSpaceRaised());
  // The deleted value still counts until compaction; a small write fits.
  EXPECT_TRUE(Puts({{"tiny", 1}})[0].ok());
}

}  // namespace
}  // namespace keel::server
