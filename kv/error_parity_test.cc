// Every error this layer produces, triggered through the public API, must carry etcd 3.4's
// gRPC code and message byte for byte (etcdserver/api/v3rpc/rpctypes/error.go): clients
// such as etcdctl and clientv3 recognise errors by these strings.
#include <memory>

#include "gtest/gtest.h"
#include "kv/errors.h"
#include "kv/mvcc_store.h"
#include "kv/request_check.h"
#include "kv/testing/requests.h"
#include "kv/testing/temp_dir.h"

namespace keel::kv {
namespace {

using namespace keel::kv::testing;  // NOLINT: request builders

void ExpectError(const absl::Status& s, absl::StatusCode code, const char* message) {
  EXPECT_EQ(s.code(), code) << s;
  EXPECT_EQ(s.message(), message);
}

class NoLeases : public LeaseHooks {
 public:
  bool LeaseExists(int64_t id) const override { return id == 7; }
  void Attach(int64_t, std::string_view) override {}
  void Detach(int64_t, std::string_view) override {}
};

class ErrorParityTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(1 << 30); }
  void Reopen(int64_t quota_bytes) {
    store_.reset();
    MvccStoreOptions o;
    o.backend.path = dir_.Sub("db");
    o.quota_bytes = quota_bytes;
    o.max_request_bytes = 4096;
    auto s = MvccStore::Open(o);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    store_->SetLeaseHooks(&leases_);
  }
  TempDir dir_;
  NoLeases leases_;
  std::unique_ptr<MvccStore> store_;
};

TEST_F(ErrorParityTest, FactoriesMatchEtcdExactly) {
  using C = absl::StatusCode;
  ExpectError(CompactedError(), C::kOutOfRange,
              "etcdserver: mvcc: required revision has been compacted");
  ExpectError(FutureRevError(), C::kOutOfRange,
              "etcdserver: mvcc: required revision is a future revision");
  ExpectError(EmptyKeyError(), C::kInvalidArgument, "etcdserver: key is not provided");
  ExpectError(KeyNotFoundError(), C::kInvalidArgument, "etcdserver: key not found");
  ExpectError(ValueProvidedError(), C::kInvalidArgument, "etcdserver: value is provided");
  ExpectError(LeaseProvidedError(), C::kInvalidArgument, "etcdserver: lease is provided");
  ExpectError(TooManyOpsError(), C::kInvalidArgument,
              "etcdserver: too many operations in txn request");
  ExpectError(DuplicateKeyError(), C::kInvalidArgument,
              "etcdserver: duplicate key given in txn request");
  ExpectError(RequestTooLargeError(), C::kInvalidArgument, "etcdserver: request is too large");
  ExpectError(LeaseNotFoundError(), C::kNotFound, "etcdserver: requested lease not found");
  ExpectError(NoSpaceError(), C::kResourceExhausted, "etcdserver: mvcc: database space exceeded");
  // absl and gRPC number their codes identically; the gRPC layer relies on it.
  EXPECT_EQ(static_cast<int>(C::kOutOfRange), 11);
  EXPECT_EQ(static_cast<int>(C::kInvalidArgument), 3);
  EXPECT_EQ(static_cast<int>(C::kNotFound), 5);
  EXPECT_EQ(static_cast<int>(C::kResourceExhausted), 8);
}

TEST_F(ErrorParityTest, RevisionErrors) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(store_->Put(PutReq("k", "v")).ok());  // revs 2..6
  ExpectError(store_->Range(RangeReq("k", "", 7)).status(), absl::StatusCode::kOutOfRange,
              "etcdserver: mvcc: required revision is a future revision");
  ASSERT_TRUE(store_->Compact(CompactReq(4)).ok());
  ExpectError(store_->Range(RangeReq("k", "", 3)).status(), absl::StatusCode::kOutOfRange,
              "etcdserver: mvcc: required revision has been compacted");
  EXPECT_TRUE(store_->Range(RangeReq("k", "", 4)).ok());  // the compact revision is readable
  ExpectError(store_->Compact(CompactReq(4)).status(), absl::StatusCode::kOutOfRange,
              "etcdserver: mvcc: required revision has been compacted");
  ExpectError(store_->Compact(CompactReq(9)).status(), absl::StatusCode::kOutOfRange,
              "etcdserver: mvcc: required revision is a future revision");
  ExpectError(store_->HashKV(4).status(), absl::StatusCode::kOutOfRange,
              "etcdserver: mvcc: required revision has been compacted");
  ExpectError(store_->HashKV(7).status(), absl::StatusCode::kOutOfRange,
              "etcdserver: mvcc: required revision is a future revision");
  etcdserverpb::TxnRequest t;
  *t.add_success() = RangeOp("k", 2);
  ExpectError(store_->Txn(t).status(), absl::StatusCode::kOutOfRange,
              "etcdserver: mvcc: required revision has been compacted");
}

TEST_F(ErrorParityTest, EmptyKeyEverywhere) {
  const auto code = absl::StatusCode::kInvalidArgument;
  const char* msg = "etcdserver: key is not provided";
  ExpectError(store_->Put(PutReq("", "v")).status(), code, msg);
  ExpectError(store_->Range(RangeReq("")).status(), code, msg);
  ExpectError(store_->DeleteRange(DeleteReq("")).status(), code, msg);
  etcdserverpb::TxnRequest t;
  t.add_compare()->set_key("");
  ExpectError(store_->Txn(t).status(), code, msg);
  etcdserverpb::TxnRequest t2;
  *t2.add_failure() = PutOp("");
  ExpectError(store_->Txn(t2).status(), code, msg);
}

TEST_F(ErrorParityTest, PutFlags) {
  auto put = PutReq("k", "v");
  put.set_ignore_value(true);
  ExpectError(store_->Put(put).status(), absl::StatusCode::kInvalidArgument,
              "etcdserver: value is provided");
  auto lease = PutReq("k", "");
  lease.set_ignore_lease(true);
  lease.set_lease(7);
  ExpectError(store_->Put(lease).status(), absl::StatusCode::kInvalidArgument,
              "etcdserver: lease is provided");
  auto missing = PutReq("absent", "");
  missing.set_ignore_value(true);
  ExpectError(store_->Put(missing).status(), absl::StatusCode::kInvalidArgument,
              "etcdserver: key not found");
  ExpectError(store_->Put(PutReq("k", "v", 8)).status(), absl::StatusCode::kNotFound,
              "etcdserver: requested lease not found");
  etcdserverpb::TxnRequest t;
  *t.add_success() = PutOp("x");
  t.mutable_success(0)->mutable_request_put()->set_lease(9);
  ExpectError(store_->Txn(t).status(), absl::StatusCode::kNotFound,
              "etcdserver: requested lease not found");
  EXPECT_EQ(store_->current_revision(), 1);  // nothing was applied
}

TEST_F(ErrorParityTest, TxnShape) {
  etcdserverpb::TxnRequest many;
  for (int i = 0; i < 129; ++i) *many.add_success() = RangeOp("k");
  ExpectError(store_->Txn(many).status(), absl::StatusCode::kInvalidArgument,
              "etcdserver: too many operations in txn request");
  etcdserverpb::TxnRequest dup;
  *dup.add_success() = PutOp("a");
  *dup.add_success() = PutOp("a");
  ExpectError(store_->Txn(dup).status(), absl::StatusCode::kInvalidArgument,
              "etcdserver: duplicate key given in txn request");
  etcdserverpb::TxnRequest empty_op;
  empty_op.add_success();
  ExpectError(store_->Txn(empty_op).status(), absl::StatusCode::kInvalidArgument,
              "etcdserver: key not found");
}

TEST_F(ErrorParityTest, RequestTooLarge) {
  ExpectError(store_->Put(PutReq("k", std::string(5000, 'x'))).status(),
              absl::StatusCode::kInvalidArgument, "etcdserver: request is too large");
}

TEST_F(ErrorParityTest, NoSpace) {
  Reopen(2000);
  // etcd charges 256 bytes of overhead per put on top of key and value.
  ASSERT_TRUE(store_->Put(PutReq("k", std::string(1000, 'x'))).ok());
  ExpectError(store_->Put(PutReq("k", std::string(1000, 'x'))).status(),
              absl::StatusCode::kResourceExhausted, "etcdserver: mvcc: database space exceeded");
  etcdserverpb::TxnRequest t;
  *t.add_success() = PutOp("big", std::string(1000, 'x'));
  ExpectError(store_->Txn(t).status(), absl::StatusCode::kResourceExhausted,
              "etcdserver: mvcc: database space exceeded");
  // Deletes and reads cost nothing and pass, which is how an operator frees space.
  EXPECT_TRUE(store_->DeleteRange(DeleteReq("k")).ok());
  EXPECT_TRUE(store_->Range(RangeReq("k")).ok());
  ASSERT_TRUE(store_->Compact(CompactReq(store_->current_revision())).ok());
  EXPECT_TRUE(store_->Put(PutReq("k", std::string(1000, 'x'))).ok());
}

// etcd's checkIntervals, case by case (v3rpc/key.go).
TEST(RequestCheckTest, IntervalsFollowEtcd) {
  auto txn = [](std::initializer_list<etcdserverpb::RequestOp> ops) {
    etcdserverpb::TxnRequest t;
    for (const auto& op : ops) *t.add_success() = op;
    return t;
  };
  const auto dup = DuplicateKeyError();
  EXPECT_TRUE(CheckTxnRequest(txn({PutOp("a"), PutOp("b")}), 128).ok());
  EXPECT_EQ(CheckTxnRequest(txn({PutOp("a"), PutOp("a")}), 128), dup);
  EXPECT_EQ(CheckTxnRequest(txn({DeleteOp("a"), PutOp("a")}), 128), dup);
  EXPECT_EQ(CheckTxnRequest(txn({DeleteOp("a", "c"), PutOp("b")}), 128), dup);
  EXPECT_TRUE(CheckTxnRequest(txn({DeleteOp("a", "c"), PutOp("c")}), 128).ok());
  EXPECT_TRUE(CheckTxnRequest(txn({DeleteOp("a"), DeleteOp("a")}), 128).ok());
  // Our one deviation: "\0" means "to the end" here too (see request_check.cc).
  EXPECT_EQ(CheckTxnRequest(txn({DeleteOp("a", std::string(1, '\0')), PutOp("z")}), 128), dup);

  // Nested: then/else are exclusive, so the same put in both is fine...
  etcdserverpb::TxnRequest both;
  *both.add_success() = PutOp("k");
  *both.add_failure() = PutOp("k");
  EXPECT_TRUE(CheckTxnRequest(txn({TxnOp(both)}), 128).ok());
  // ...but not next to a put of the outer level, nor under an outer delete.
  EXPECT_EQ(CheckTxnRequest(txn({TxnOp(both), PutOp("k")}), 128), dup);
  EXPECT_EQ(CheckTxnRequest(txn({TxnOp(both), DeleteOp("j", "l")}), 128), dup);
  etcdserverpb::TxnRequest inner_delete;
  *inner_delete.add_success() = DeleteOp("k");
  EXPECT_EQ(CheckTxnRequest(txn({TxnOp(inner_delete), PutOp("k")}), 128), dup);
  // Two nested txns writing the same key on their then-branches.
  etcdserverpb::TxnRequest then_k;
  *then_k.add_success() = PutOp("k");
  EXPECT_EQ(CheckTxnRequest(txn({TxnOp(then_k), TxnOp(then_k)}), 128), dup);
  // The else branch of the outer txn is checked on its own.
  etcdserverpb::TxnRequest split;
  *split.add_success() = PutOp("k");
  *split.add_failure() = PutOp("k");
  *split.add_failure() = PutOp("j");
  EXPECT_TRUE(CheckTxnRequest(split, 128).ok());
}

TEST(RequestCheckTest, OpCountsAndNesting) {
  etcdserverpb::TxnRequest t;
  for (int i = 0; i < 3; ++i) t.add_compare()->set_key("k");
  EXPECT_TRUE(CheckTxnRequest(t, 3).ok());
  EXPECT_EQ(CheckTxnRequest(t, 2), TooManyOpsError());
  // A nested txn gets what is left of the budget after its parent's widest list.
  etcdserverpb::TxnRequest inner;
  *inner.add_success() = PutOp("a");
  *inner.add_success() = PutOp("b");
  etcdserverpb::TxnRequest outer;
  *outer.add_success() = TxnOp(inner);
  EXPECT_TRUE(CheckTxnRequest(outer, 3).ok());
  EXPECT_EQ(CheckTxnRequest(outer, 2), TooManyOpsError());
}

}  // namespace
}  // namespace keel::kv
