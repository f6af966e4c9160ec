// The wire contract with etcd 3.4 clients, checked through protobuf descriptors: a renamed
// service or a renumbered field compiles fine and breaks etcdctl silently, so pin them here.
#include <string>

#include "api/authpb/auth.pb.h"
#include "api/etcdserverpb/rpc.grpc.pb.h"
#include "api/leasepb/lease.pb.h"
#include "api/mvccpb/kv.pb.h"
#include "api/v3electionpb/v3election.grpc.pb.h"
#include "api/v3lockpb/v3lock.grpc.pb.h"
#include "gtest/gtest.h"

namespace {

using google::protobuf::Descriptor;
using google::protobuf::DescriptorPool;

int FieldNumber(const Descriptor* message, const std::string& field) {
  const auto* f = message->FindFieldByName(field);
  return f == nullptr ? -1 : f->number();
}

TEST(ContractTest, ServiceFullNamesMatchEtcd) {
  const DescriptorPool* pool = DescriptorPool::generated_pool();
  for (const char* name :
       {"etcdserverpb.KV", "etcdserverpb.Watch", "etcdserverpb.Lease", "etcdserverpb.Cluster",
        "etcdserverpb.Maintenance", "etcdserverpb.Auth", "v3lockpb.Lock",
        "v3electionpb.Election"}) {
    EXPECT_NE(pool->FindServiceByName(name), nullptr) << name;
  }
  EXPECT_STREQ(etcdserverpb::KV::service_full_name(), "etcdserverpb.KV");
  EXPECT_STREQ(etcdserverpb::Watch::service_full_name(), "etcdserverpb.Watch");
  EXPECT_STREQ(etcdserverpb::Lease::service_full_name(), "etcdserverpb.Lease");
  EXPECT_STREQ(etcdserverpb::Cluster::service_full_name(), "etcdserverpb.Cluster");
  EXPECT_STREQ(etcdserverpb::Maintenance::service_full_name(), "etcdserverpb.Maintenance");
  EXPECT_STREQ(etcdserverpb::Auth::service_full_name(), "etcdserverpb.Auth");
}

TEST(ContractTest, MethodNamesMatchEtcd) {
  const auto* kv = etcdserverpb::RangeRequest::descriptor()->file()->FindServiceByName("KV");
  ASSERT_NE(kv, nullptr);
  ASSERT_EQ(kv->method_count(), 5);
  EXPECT_EQ(kv->method(0)->full_name(), "etcdserverpb.KV.Range");
  EXPECT_EQ(kv->method(3)->full_name(), "etcdserverpb.KV.Txn");
  EXPECT_EQ(kv->method(4)->full_name(), "etcdserverpb.KV.Compact");
  const auto* watch = kv->file()->FindServiceByName("Watch");
  ASSERT_NE(watch, nullptr);
  EXPECT_TRUE(watch->method(0)->client_streaming());
  EXPECT_TRUE(watch->method(0)->server_streaming());
}

TEST(ContractTest, FieldNumbersMatchEtcd) {
  const Descriptor* kv = mvccpb::KeyValue::descriptor();
  EXPECT_EQ(kv->full_name(), "mvccpb.KeyValue");
  EXPECT_EQ(FieldNumber(kv, "key"), 1);
  EXPECT_EQ(FieldNumber(kv, "create_revision"), 2);
  EXPECT_EQ(FieldNumber(kv, "mod_revision"), 3);
  EXPECT_EQ(FieldNumber(kv, "version"), 4);
  EXPECT_EQ(FieldNumber(kv, "value"), 5);
  EXPECT_EQ(FieldNumber(kv, "lease"), 6);

  const Descriptor* range = etcdserverpb::RangeRequest::descriptor();
  EXPECT_EQ(FieldNumber(range, "range_end"), 2);
  EXPECT_EQ(FieldNumber(range, "serializable"), 7);
  EXPECT_EQ(FieldNumber(range, "max_create_revision"), 13);

  const Descriptor* create = etcdserverpb::WatchCreateRequest::descriptor();
  EXPECT_EQ(FieldNumber(create, "start_revision"), 3);
  EXPECT_EQ(FieldNumber(create, "progress_notify"), 4);
  EXPECT_EQ(FieldNumber(create, "filters"), 5);
  EXPECT_EQ(FieldNumber(create, "prev_kv"), 6);
  EXPECT_EQ(FieldNumber(create, "watch_id"), 7);
  EXPECT_EQ(FieldNumber(create, "fragment"), 8);

  const Descriptor* watch_response = etcdserverpb::WatchResponse::descriptor();
  EXPECT_EQ(FieldNumber(watch_response, "compact_revision"), 5);
  EXPECT_EQ(FieldNumber(watch_response, "fragment"), 7);
  EXPECT_EQ(FieldNumber(watch_response, "events"), 11);

  const Descriptor* request_op = etcdserverpb::RequestOp::descriptor();
  EXPECT_EQ(FieldNumber(request_op, "request_txn"), 4);
  EXPECT_EQ(FieldNumber(etcdserverpb::Compare::descriptor(), "range_end"), 64);
  EXPECT_EQ(FieldNumber(etcdserverpb::Compare::descriptor(), "lease"), 8);

  EXPECT_EQ(FieldNumber(etcdserverpb::LeaseGrantRequest::descriptor(), "TTL"), 1);
  EXPECT_EQ(FieldNumber(leasepb::Lease::descriptor(), "RemainingTTL"), 3);
  EXPECT_EQ(FieldNumber(authpb::User::descriptor(), "options"), 4);
}

TEST(ContractTest, EnumValuesMatchEtcd) {
  EXPECT_EQ(mvccpb::Event::PUT, 0);
  EXPECT_EQ(mvccpb::Event::DELETE, 1);
  EXPECT_EQ(etcdserverpb::Compare::LEASE, 4);
  EXPECT_EQ(etcdserverpb::Compare::NOT_EQUAL, 3);
  EXPECT_EQ(etcdserverpb::RangeRequest::MOD, 3);
  EXPECT_EQ(etcdserverpb::WatchCreateRequest::NODELETE, 1);
  EXPECT_EQ(etcdserverpb::AlarmType::NOSPACE, 1);
}

}  // namespace
