// Corruption on a simulated 3-member cluster: Maintenance.Hash covers every bucket of the
// backend and is equal on members with equal state; the CORRUPT alarm refuses what etcd
// 3.4's applierV3Corrupt refuses (writes, compaction, lease grant/revoke) with its error,
// on every member, while reads still work, until it is disarmed. (The periodic check that
// raises the alarm, against real keeld processes: tests/corruption_test.py.)
#include <optional>
#include <string>

#include "gtest/gtest.h"
#include "server/errors.h"
#include "sim/cluster/cluster.h"
#include "sim/cluster/scenario.h"
#include "sim/world.h"

namespace keel::server {
namespace {

constexpr int64_t kMs = 1'000'000;

class ServerCorruptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    scenario_.seed = 5;
    scenario_.nodes = 3;
    scenario_.heartbeat_ms = 10;
    scenario_.election_ms = 100;
    scenario_.network.drop_probability = 0;
    scenario_.network.duplicate_probability = 0;
    auto cluster = sim::SimCluster::Create(&world_, scenario_);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
    for (int i = 0; i < 200 && cluster_->Leader() < 0; ++i) Run(10 * kMs);
    ASSERT_GE(cluster_->Leader(), 0) << "no leader elected";
    Run(300 * kMs);
  }
  void TearDown() override { cluster_.reset(); }

  void Run(int64_t ns) { world_.RunUntil(world_.now_ns() + ns); }

  // Runs `call(server, done)` on member i's loop until `done` delivered a result.
  template <typename Response, typename Call>
  absl::StatusOr<Response> On(int i, Call call) {
    std::optional<absl::StatusOr<Response>> result;
    ServerImpl* s = cluster_->server(i);
    cluster_->env(i).loop()->Post([&, s]() {
      call(s, [&](absl::StatusOr<Response> r) { result = std::move(r); });
    });
    for (int step = 0; step < 1'000'000 && !result.has_value(); ++step) {
      if (!world_.Step()) break;
    }
    return result.value_or(absl::InternalError("no answer"));
  }

  absl::Status Put(int i, const std::string& key) {
    etcdserverpb::PutRequest put;
    put.set_key(key);
    put.set_value("v-" + key);
    return On<etcdserverpb::PutResponse>(i, [&](ServerImpl* s, auto done) { s->Put(put, done); })
        .status();
  }

  uint32_t Hash(int i) {
    auto r = On<etcdserverpb::HashResponse>(i, [](ServerImpl* s, auto done) { s->Hash({}, done); });
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->hash() : 0;
  }

  uint32_t HashKv(int i) {
    auto r = On<etcdserverpb::HashKVResponse>(i, [](ServerImpl* s, auto done) { s->HashKV({}, done); });
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->hash() : 0;
  }

  // Every member applied everything the leader did.
  void Settle() {
    for (int round = 0; round < 100; ++round) {
      Run(50 * kMs);
      const uint64_t applied = cluster_->server(0)->applied_index();
      if (cluster_->server(1)->applied_index() == applied &&
          cluster_->server(2)->applied_index() == applied) {
        return;
      }
    }
    FAIL() << "members did not converge";
  }

  static bool IsCorrupt(const absl::Status& s) {
    return s.code() == absl::StatusCode::kDataLoss && s.message() == "etcdserver: corrupt cluster";
  }

  sim::World world_{5};
  sim::Scenario scenario_;
  std::unique_ptr<sim::SimCluster> cluster_;
};

TEST_F(ServerCorruptTest, HashIsEqualAcrossMembersAndCoversEveryBucket) {
  const int leader = cluster_->Leader();
  for (int k = 0; k < 20; ++k) ASSERT_TRUE(Put(leader, "k" + std::to_string(k)).ok());
  Settle();
  const uint32_t h = Hash(0);
  EXPECT_EQ(Hash(1), h);
  EXPECT_EQ(Hash(2), h);
  const int follower = (leader + 1) % 3;
  kv::Backend& backend = cluster_->server(follower)->store().backend();
  // A record added to, or changed in, any bucket changes Hash; HashKV sees only "key".
  uint32_t previous = Hash(follower);
  for (const char* bucket : {"meta", "lease", "alarm", "members", "auth", "authUsers", "key"}) {
    const uint32_t kv_before = HashKv(follower);
    backend.Put(bucket, "zz-corrupt-test", "x");
    ASSERT_TRUE(backend.Commit().ok());
    const uint32_t added = Hash(follower);
    EXPECT_NE(added, previous) << bucket;
    backend.Put(bucket, "zz-corrupt-test", "y");
    ASSERT_TRUE(backend.Commit().ok());
    const uint32_t changed = Hash(follower);
    EXPECT_NE(changed, added) << bucket;
    previous = changed;
    if (std::string(bucket) != "key") {
      EXPECT_EQ(HashKv(follower), kv_before) << bucket;
    }
  }
  EXPECT_EQ(Hash(leader), h);  // the others are untouched
}

TEST_F(ServerCorruptTest, CorruptAlarmRefusesWritesLikeEtcdUntilDisarmed) {
  const int leader = cluster_->Leader();
  ASSERT_TRUE(Put(leader, "before").ok());
  etcdserverpb::AlarmRequest raise;
  raise.set_action(etcdserverpb::AlarmRequest::ACTIVATE);
  raise.set_memberid(0);
  raise.set_alarm(etcdserverpb::CORRUPT);
  ASSERT_TRUE(
      (On<etcdserverpb::AlarmResponse>(leader, [&](ServerImpl* s, auto d) { s->Alarm(raise, d); })).ok());
  Settle();
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(IsCorrupt(Put(i, "after"))) << i << " " << Put(i, "after");
  }
  etcdserverpb::DeleteRangeRequest del;
  del.set_key("before");
  EXPECT_TRUE(IsCorrupt(
      On<etcdserverpb::DeleteRangeResponse>(leader, [&](ServerImpl* s, auto d) { s->DeleteRange(del, d); })
          .status()));
  etcdserverpb::CompactionRequest compact;
  compact.set_revision(1);
  EXPECT_TRUE(IsCorrupt(
      On<etcdserverpb::CompactionResponse>(leader, [&](ServerImpl* s, auto d) { s->Compact(compact, d); })
          .status()));
  etcdserverpb::LeaseGrantRequest grant;
  grant.set_id(77);
  grant.set_ttl(60);
  EXPECT_TRUE(IsCorrupt(
      On<etcdserverpb::LeaseGrantResponse>(leader, [&](ServerImpl* s, auto d) { s->LeaseGrant(grant, d); })
          .status()));
  // Reads, and txns that only read (etcd serves those outside the applier), still work.
  etcdserverpb::RangeRequest range;
  range.set_key("before");
  auto got = On<etcdserverpb::RangeResponse>(leader, [&](ServerImpl* s, auto d) { s->Range(range, d); });
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->kvs_size(), 1);
  etcdserverpb::TxnRequest read_txn;
  *read_txn.add_success()->mutable_request_range() = range;
  EXPECT_TRUE((On<etcdserverpb::TxnResponse>(leader, [&](ServerImpl* s, auto d) { s->Txn(read_txn, d); })).ok());
  etcdserverpb::TxnRequest write_txn;
  write_txn.add_success()->mutable_request_put()->set_key("t");
  EXPECT_TRUE(IsCorrupt(
      On<etcdserverpb::TxnResponse>(leader, [&](ServerImpl* s, auto d) { s->Txn(write_txn, d); }).status()));
  // The alarm is listed as etcd lists it, and disarming lifts the refusal.
  auto status = On<etcdserverpb::StatusResponse>(leader, [](ServerImpl* s, auto d) { s->Status({}, d); });
  ASSERT_TRUE(status.ok());
  ASSERT_EQ(status->errors_size(), 1);
  EXPECT_EQ(status->errors(0), "alarm:CORRUPT ");  // etcd: protobuf text omits member 0
  etcdserverpb::AlarmRequest disarm = raise;
  disarm.set_action(etcdserverpb::AlarmRequest::DEACTIVATE);
  ASSERT_TRUE(
      (On<etcdserverpb::AlarmResponse>(leader, [&](ServerImpl* s, auto d) { s->Alarm(disarm, d); })).ok());
  Settle();
  EXPECT_TRUE(Put(leader, "after").ok());
}

}  // namespace
}  // namespace keel::server
