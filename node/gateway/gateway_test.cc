// The gateway's pure parts against what etcd 3.4.23's gateway answered for the same input
// (captured with curl from a real etcd; the end-to-end comparison is tests/gateway_test.py).
#include <string>

#include "api/etcdserverpb/rpc.pb.h"
#include "gtest/gtest.h"
#include "node/gateway/go_json_scan.h"
#include "node/gateway/json_codec.h"
#include "node/gateway/routes.h"

namespace keel::node::gateway {
namespace {

std::string FirstError(std::string_view body) { return ScanJsonValues(body, 1).error; }

TEST(GoJsonScan, SyntaxErrorsWordedAsGo) {
  // Each left side was POSTed to etcd's /v3/kv/range; the right side is its "error".
  EXPECT_EQ(FirstError("{bad"), "invalid character 'b' looking for beginning of object key string");
  EXPECT_EQ(FirstError(R"({"key":"Zm9v",})"),
            "invalid character '}' looking for beginning of object key string");
  EXPECT_EQ(FirstError(R"({"key":"Zm9v","limit":x})"),
            "invalid character 'x' looking for beginning of value");
  EXPECT_EQ(FirstError(R"({"key":"Zm9v")"), "unexpected EOF");
  EXPECT_EQ(FirstError(R"({"a" 1})"), "invalid character '1' after object key");
  EXPECT_EQ(FirstError(R"({"a":1 "b":2})"), "invalid character '\"' after object key:value pair");
  EXPECT_EQ(FirstError("[1 2]"), "invalid character '2' after array element");
  EXPECT_EQ(FirstError("{\"a\":\"x\ny\"}"), "invalid character '\\n' in string literal");
  EXPECT_EQ(FirstError(R"({"a":tru})"), "invalid character '}' in literal true (expecting 'e')");
  EXPECT_EQ(FirstError(R"({"a":1.})"),
            "invalid character '}' after decimal point in numeric literal");
  EXPECT_EQ(FirstError(R"({"a":"\q"})"), "invalid character 'q' in string escape code");
  EXPECT_EQ(FirstError("{'a':1}"),
            "invalid character '\\'' looking for beginning of object key string");
}

TEST(GoJsonScan, EmptyBodyIsNoValueAndNoError) {
  JsonScan scan = ScanJsonValues(" \n", 10);
  EXPECT_TRUE(scan.values.empty());
  EXPECT_EQ(scan.error, "");
}

TEST(GoJsonScan, ConcatenatedValuesAreSplitAsADecoderReadsThem) {
  JsonScan scan = ScanJsonValues(R"( {"a":{"b":[1,"}"]}} {"c":2}  {"d")", 10);
  ASSERT_EQ(scan.values.size(), 2u);
  EXPECT_EQ(scan.values[0], R"({"a":{"b":[1,"}"]}})");
  EXPECT_EQ(scan.values[1], R"({"c":2})");
  EXPECT_EQ(scan.error, "unexpected EOF");
  // A caller asking for one value never sees the broken tail.
  EXPECT_EQ(ScanJsonValues(R"({"c":2} garbage)", 1).error, "");
}

TEST(GoJsonScan, DepthIsBounded) {
  std::string deep(kMaxJsonDepth + 5, '[');
  EXPECT_FALSE(FirstError(deep).empty());
}

TEST(JsonCodec, PrintsAsEtcdsGateway) {
  etcdserverpb::RangeResponse response;
  response.mutable_header()->set_cluster_id(6001611773266757492u);
  response.mutable_header()->set_member_id(13049071153751544597u);
  response.mutable_header()->set_revision(2);
  response.mutable_header()->set_raft_term(2);
  mvccpb::KeyValue* kv = response.add_kvs();
  kv->set_key("foo");
  kv->set_value("bar");
  kv->set_create_revision(2);
  kv->set_mod_revision(2);
  kv->set_version(1);
  response.set_count(1);
  EXPECT_EQ(MessageToJson(response),
            R"({"header":{"cluster_id":"6001611773266757492","member_id":"13049071153751544597",)"
            R"("revision":"2","raft_term":"2"},"kvs":[{"key":"Zm9v","create_revision":"2",)"
            R"("mod_revision":"2","version":"1","value":"YmFy"}],"count":"1"})");
  etcdserverpb::StatusResponse status;
  status.set_version("3.4.23");
  status.set_dbsize(20480);
  status.set_leader(1);
  EXPECT_EQ(MessageToJson(status), R"({"version":"3.4.23","dbSize":"20480","leader":"1"})");
  etcdserverpb::LeaseGrantResponse grant;
  grant.set_id(7);
  grant.set_ttl(60);
  EXPECT_EQ(MessageToJson(grant), R"({"ID":"7","TTL":"60"})");
}

TEST(JsonCodec, ParsesProtoNamesCamelNamesEnumsAndIgnoresUnknownFields) {
  etcdserverpb::RangeRequest request;
  ASSERT_TRUE(JsonToMessage(R"({"key":"Zm9v","range_end":"AA==","sortOrder":"DESCEND",)"
                            R"("limit":"5","revision":3,"foo":1})",
                            &request)
                  .ok());
  EXPECT_EQ(request.key(), "foo");
  EXPECT_EQ(request.range_end(), std::string(1, '\0'));
  EXPECT_EQ(request.sort_order(), etcdserverpb::RangeRequest::DESCEND);
  EXPECT_EQ(request.limit(), 5);
  EXPECT_EQ(request.revision(), 3);
  etcdserverpb::LeaseGrantRequest grant;
  ASSERT_TRUE(JsonToMessage(R"({"TTL":"60"})", &grant).ok());
  EXPECT_EQ(grant.ttl(), 60);
}

TEST(JsonCodec, NonObjectBodiesFailAsGo) {
  etcdserverpb::RangeRequest request;
  absl::Status status = JsonToMessage("[1]", &request);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(status.message()),
            "json: cannot unmarshal array into Go value of type map[string]json.RawMessage");
  EXPECT_EQ(std::string(JsonToMessage(R"("x")", &request).message()),
            "json: cannot unmarshal string into Go value of type map[string]json.RawMessage");
  const absl::Status bad_enum = JsonToMessage(R"({"key":"Zm9v","sort_order":"XX"})", &request);
  EXPECT_EQ(bad_enum.code(), absl::StatusCode::kInvalidArgument) << bad_enum;
}

TEST(JsonCodec, ErrorShapes) {
  EXPECT_EQ(ErrorBodyJson(11, "etcdserver: mvcc: required revision has been compacted"),
            R"({"error":"etcdserver: mvcc: required revision has been compacted",)"
            R"("message":"etcdserver: mvcc: required revision has been compacted","code":11})");
  EXPECT_EQ(HttpStatusFromCode(11), 400);
  EXPECT_EQ(HttpStatusFromCode(5), 404);
  EXPECT_EQ(HttpStatusFromCode(9), 412);  // "root user does not exist" on auth enable
  EXPECT_EQ(HttpStatusFromCode(16), 401);
  EXPECT_EQ(StreamErrorJson(7, "etcdserver: permission denied"),
            R"({"error":{"grpc_code":7,"http_code":403,"message":"etcdserver: permission denied",)"
            R"("http_status":"Forbidden"}})");
}

TEST(Routes, EveryEtcdPatternResolves) {
  absl::StatusOr<absl::flat_hash_map<std::string, Route>> routes = ResolveRoutes();
  ASSERT_TRUE(routes.ok()) << routes.status();
  EXPECT_EQ(routes->size(), 48u);
  EXPECT_EQ(routes->at("/v3/kv/compaction").grpc_method, "/etcdserverpb.KV/Compact");
  EXPECT_EQ(routes->at("/v3/maintenance/hash").grpc_method, "/etcdserverpb.Maintenance/Hash");
  EXPECT_EQ(routes->at("/v3/kv/lease/revoke").grpc_method, "/etcdserverpb.Lease/LeaseRevoke");
  EXPECT_EQ(routes->at("/v3/lock/lock").grpc_method, "/v3lockpb.Lock/Lock");
  EXPECT_TRUE(routes->at("/v3/watch").client_streaming);
  EXPECT_TRUE(routes->at("/v3/maintenance/snapshot").streaming);
  EXPECT_FALSE(routes->at("/v3/maintenance/snapshot").client_streaming);
  EXPECT_FALSE(routes->at("/v3/kv/put").streaming);
  int auth = 0;
  for (const auto& [path, route] : *routes) auth += path.rfind("/v3/auth/", 0) == 0;
  EXPECT_EQ(auth, 16);
}

}  // namespace
}  // namespace keel::node::gateway
