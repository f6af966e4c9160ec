// Server-free tests: error classification and the Txn builder.
#include "absl/status/status.h"
#include "client/error_kind.h"
#include "client/endpoint.h"
#include "client/txn.h"
#include "gtest/gtest.h"

namespace keel::client {
namespace {

TEST(ErrorKind, TransportAndEtcdTimeoutsAreTransientOthersAreNot) {
  EXPECT_TRUE(IsTransient(grpc::Status(grpc::StatusCode::UNAVAILABLE, "etcdserver: request timed out")));
  EXPECT_TRUE(IsTransient(grpc::Status(grpc::StatusCode::UNAVAILABLE, "etcdserver: leader changed")));
  EXPECT_TRUE(IsTransient(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "")));
  EXPECT_FALSE(IsTransient(grpc::Status(grpc::StatusCode::NOT_FOUND, "etcdserver: requested lease not found")));
  EXPECT_FALSE(IsTransient(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "etcdserver: duplicate key given in txn request")));
}

TEST(ErrorKind, OutcomeUnknownIsDistinctAndKeepsTheCause) {
  absl::Status unknown = OutcomeUnknown(grpc::Status(grpc::StatusCode::UNAVAILABLE, "etcdserver: leader changed"));
  EXPECT_TRUE(IsOutcomeUnknown(unknown));
  EXPECT_EQ(unknown.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(unknown.message(), "outcome unknown: etcdserver: leader changed");
  EXPECT_EQ(OutcomeUnknown(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "")).message(),
            "outcome unknown: context deadline exceeded");
  // A plain UNAVAILABLE (e.g. a read that ran out of endpoints) is not "unknown".
  EXPECT_FALSE(IsOutcomeUnknown(absl::UnavailableError("connection refused")));
}

TEST(ErrorKind, FromGrpcKeepsCodeAndServerMessage) {
  absl::Status s = FromGrpc(grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                                         "etcdserver: mvcc: required revision has been compacted"));
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(s.message(), "etcdserver: mvcc: required revision has been compacted");
  EXPECT_TRUE(FromGrpc(grpc::Status::OK).ok());
}

TEST(Endpoint, NormalizeStripsSchemeAndSlash) {
  EXPECT_EQ(NormalizeEndpoint("http://127.0.0.1:2379"), "127.0.0.1:2379");
  EXPECT_EQ(NormalizeEndpoint("https://h:1/"), "h:1");
  EXPECT_EQ(NormalizeEndpoint("10.0.0.1:2379"), "10.0.0.1:2379");
}

TEST(Txn, BuilderFillsCompareSuccessAndFailure) {
  TxnBuilder txn(nullptr);
  txn.If({Compare::Value("k") == "x", Compare::Version("k") > 2, Compare::ModRevision("m") < 9})
      .Then({Op::Put("k", "y", {.lease = 7}), Op::Delete("d", "", /*prev_kv=*/true)})
      .Else(Op::Get("k"));
  const auto& r = txn.request();
  ASSERT_EQ(r.compare_size(), 3);
  EXPECT_EQ(r.compare(0).target(), etcdserverpb::Compare::VALUE);
  EXPECT_EQ(r.compare(0).result(), etcdserverpb::Compare::EQUAL);
  EXPECT_EQ(r.compare(0).value(), "x");
  EXPECT_EQ(r.compare(1).version(), 2);
  EXPECT_EQ(r.compare(1).result(), etcdserverpb::Compare::GREATER);
  EXPECT_EQ(r.compare(2).mod_revision(), 9);
  EXPECT_EQ(r.compare(2).result(), etcdserverpb::Compare::LESS);
  ASSERT_EQ(r.success_size(), 2);
  EXPECT_EQ(r.success(0).request_put().lease(), 7);
  EXPECT_TRUE(r.success(1).request_delete_range().prev_kv());
  ASSERT_EQ(r.failure_size(), 1);
  EXPECT_EQ(r.failure(0).request_range().key(), "k");
}

TEST(Txn, ReadOnlyOnlyWithoutWritesAtAnyDepth) {
  etcdserverpb::TxnRequest reads;
  *reads.add_success() = Op::Get("a");
  *reads.add_failure() = Op::Get("b");
  EXPECT_TRUE(IsReadOnly(reads));
  etcdserverpb::TxnRequest nested_write;
  etcdserverpb::TxnRequest inner;
  *inner.add_failure() = Op::Delete("x");
  *nested_write.add_success() = Op::Txn(inner);
  EXPECT_FALSE(IsReadOnly(nested_write));
  etcdserverpb::TxnRequest put;
  *put.add_failure() = Op::Put("k", "v");
  EXPECT_FALSE(IsReadOnly(put));
}

TEST(Txn, PrefixRangeEndMatchesEtcd) {
  EXPECT_EQ(PrefixRangeEnd("abc"), "abd");
  EXPECT_EQ(PrefixRangeEnd(std::string("a\xff", 2)), "b");
  EXPECT_EQ(PrefixRangeEnd(std::string("\xff\xff", 2)), std::string(1, '\0'));
  EXPECT_EQ(PrefixRangeEnd(""), std::string(1, '\0'));
}

}  // namespace
}  // namespace keel::client
