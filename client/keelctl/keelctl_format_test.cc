// Server-free checks of the Go formatting conventions keelctl and keelbench depend on.
#include "api/etcdserverpb/rpc.pb.h"
#include "client/keelbench/report.h"
#include "client/keelctl/go_json.h"
#include "client/keelctl/text_format.h"
#include "client/keelctl/txn_parse.h"
#include "gtest/gtest.h"

namespace keel::client {
namespace {

using keelctl::GoJson;

TEST(GoJson, OmitsZeroFieldsKeepsSetMessagesAndBase64sBytes) {
  etcdserverpb::RangeResponse r;
  r.mutable_header()->set_revision(3);
  auto* kv = r.add_kvs();
  kv->set_key("foo");
  kv->set_value("bar");
  kv->set_version(1);
  r.set_count(1);
  EXPECT_EQ(GoJson(r), R"({"header":{"revision":3},"kvs":[{"key":"Zm9v","version":1,"value":"YmFy"}],"count":1})");
  etcdserverpb::PutResponse empty_header;
  empty_header.mutable_header();
  EXPECT_EQ(GoJson(empty_header), R"({"header":{}})");
}

TEST(GoJson, OneofBecomesGoInterfaceField) {
  etcdserverpb::TxnResponse t;
  t.set_succeeded(true);
  t.add_responses()->mutable_response_put()->mutable_header()->set_revision(5);
  EXPECT_EQ(GoJson(t), R"({"succeeded":true,"responses":[{"Response":{"ResponsePut":{"header":{"revision":5}}}}]})");
}

TEST(GoJson, EscapesLikeGo) {
  EXPECT_EQ(keelctl::GoQuote("a<b>&\"\n\x01"), "\"a\\u003cb\\u003e\\u0026\\\"\\n\\u0001\"");
}

TEST(TextFormat, HumanBytesMatchesGoHumanize) {
  EXPECT_EQ(keelctl::HumanBytes(7), "7 B");
  EXPECT_EQ(keelctl::HumanBytes(20480), "20 kB");
  EXPECT_EQ(keelctl::HumanBytes(1500000), "1.5 MB");
  EXPECT_EQ(keelctl::HumanBytes(999), "999 B");
}

TEST(TextFormat, GoDurationMatchesTimeDurationString) {
  EXPECT_EQ(keelctl::GoDuration(absl::Nanoseconds(866336)), "866.336µs");
  EXPECT_EQ(keelctl::GoDuration(absl::Nanoseconds(1122668)), "1.122668ms");
  EXPECT_EQ(keelctl::GoDuration(absl::Seconds(90)), "1m30s");
  EXPECT_EQ(keelctl::GoDuration(absl::Milliseconds(2500)), "2.5s");
  EXPECT_EQ(keelctl::GoDuration(absl::Nanoseconds(12)), "12ns");
}

TEST(TextFormat, TableCentersTitlesAndRightAlignsCells) {
  std::string t = keelctl::RenderTable({"endpoint", "hash"}, {{"127.0.0.1:2379", "42"}});
  EXPECT_EQ(t,
            "+----------------+------+\n"
            "|    ENDPOINT    | HASH |\n"
            "+----------------+------+\n"
            "| 127.0.0.1:2379 |   42 |\n"
            "+----------------+------+\n");
}

TEST(TxnParse, SectionsComparesAndOps) {
  auto txn = keelctl::ParseTxn({"value(\"k\") = \"v 1\"", "mod(\"m\") > \"3\"", "", "put k \"x y\"", "",
                                "get k --prefix", "del d", ""});
  ASSERT_TRUE(txn.ok()) << txn.status();
  ASSERT_EQ(txn->compare_size(), 2);
  EXPECT_EQ(txn->compare(0).value(), "v 1");
  EXPECT_EQ(txn->compare(1).mod_revision(), 3);
  EXPECT_EQ(txn->success(0).request_put().value(), "x y");
  EXPECT_EQ(txn->failure(0).request_range().range_end(), "l");
  EXPECT_EQ(txn->failure(1).request_delete_range().key(), "d");
  EXPECT_EQ(keelctl::ParseTxn({"put b 2", "", ""}).status().message(), "malformed comparison: put b 2");
  EXPECT_EQ(keelctl::ParseTxn({"value(\"a\") = \"1\"", "", "put q 1"}).status().message(), "EOF");
}

TEST(Report, PercentilesAreNearestRank) {
  std::vector<double> sorted;
  for (int i = 1; i <= 1000; ++i) sorted.push_back(i);
  EXPECT_EQ(keelbench::Percentile(sorted, 50), 500);
  EXPECT_EQ(keelbench::Percentile(sorted, 99), 990);
  EXPECT_EQ(keelbench::Percentile(sorted, 99.9), 999);
  EXPECT_EQ(keelbench::Percentile({}, 50), 0);
}

}  // namespace
}  // namespace keel::client
