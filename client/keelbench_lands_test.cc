// keelbench put against a real 3-member etcd 3.4 cluster lands every key it claims: with
// distinct sequential keys, the number of keys in the store afterwards equals the number of
// successful puts keelbench reports, and equals --total.
#include <cstdio>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/client.h"
#include "client/testing/etcd_cluster.h"
#include "gtest/gtest.h"

namespace {

const char* g_keelbench = nullptr;

// Runs a command line, returns its stdout; the exit status goes to *rc.
std::string RunCommand(const std::string& command, int* rc) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  *rc = ::pclose(pipe);
  return out;
}

int64_t ReportedField(const std::string& report, const std::string& field) {
  size_t at = report.find(field + ":\t");
  if (at == std::string::npos) return -1;
  size_t start = at + field.size() + 2;
  int64_t value = -1;
  if (!absl::SimpleAtoi(report.substr(start, report.find('\n', start) - start), &value)) return -1;
  return value;
}

TEST(KeelbenchLands, EveryClaimedPutIsInTheStore) {
  ASSERT_NE(g_keelbench, nullptr);
  auto cluster = keel::client::testing::EtcdCluster::Start(3);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  constexpr int64_t kTotal = 3000;
  std::string command = absl::StrCat(
      g_keelbench, " --endpoints=", absl::StrJoin((*cluster)->ClientAddresses(), ","),
      " --conns=4 --clients=200 put --total=", kTotal, " --key-size=8 --val-size=256",
      " --sequential-keys --key-space-size=", kTotal);
  int rc = -1;
  std::string report = RunCommand(command, &rc);
  ASSERT_EQ(rc, 0) << report;
  const int64_t succeeded = ReportedField(report, "Succeeded");
  EXPECT_EQ(succeeded, kTotal) << report;
  EXPECT_EQ(ReportedField(report, "Failed"), 0) << report;

  auto client = keel::client::Client::Create({.endpoints = (*cluster)->ClientAddresses()});
  ASSERT_TRUE(client.ok()) << client.status();
  etcdserverpb::RangeRequest count_all;
  count_all.set_key(std::string(1, '\0'));
  count_all.set_range_end(std::string(1, '\0'));
  count_all.set_count_only(true);
  auto counted = (*client)->Range(count_all);
  ASSERT_TRUE(counted.ok()) << counted.status();
  EXPECT_EQ(counted->count(), succeeded);
  // Every key written exactly once: the store's revision is 1 + number of puts.
  EXPECT_EQ(counted->header().revision(), 1 + kTotal);
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc > 1) g_keelbench = argv[1];
  return RUN_ALL_TESTS();
}
