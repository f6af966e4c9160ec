#include "server/member_id.h"

#include "gtest/gtest.h"

namespace keel::server {
namespace {

// Golden values read from a real etcd 3.4.23 cluster started with
//   --initial-cluster n1=http://127.0.0.1:21380,n2=http://127.0.0.1:22380,n3=http://127.0.0.1:23380
//   --initial-cluster-token golden-token
// and `etcdctl member list -w json`.
constexpr uint64_t kEtcdN1 = 15045292453836529126ULL;
constexpr uint64_t kEtcdN2 = 8598335777970888403ULL;
constexpr uint64_t kEtcdN3 = 5376518517060075074ULL;
constexpr uint64_t kEtcdClusterId = 10880553049400012295ULL;

TEST(MemberIdTest, MatchesEtcdForABootstrappedCluster) {
  EXPECT_EQ(ComputeMemberId({"http://127.0.0.1:21380"}, "golden-token"), kEtcdN1);
  EXPECT_EQ(ComputeMemberId({"http://127.0.0.1:22380"}, "golden-token"), kEtcdN2);
  EXPECT_EQ(ComputeMemberId({"http://127.0.0.1:23380"}, "golden-token"), kEtcdN3);
  EXPECT_EQ(ComputeClusterId({kEtcdN1, kEtcdN2, kEtcdN3}), kEtcdClusterId);
  EXPECT_EQ(ComputeClusterId({kEtcdN3, kEtcdN1, kEtcdN2}), kEtcdClusterId);
}

TEST(MemberIdTest, DependsOnUrlsTokenAndJoinTimeButNotUrlOrder) {
  const uint64_t base = ComputeMemberId({"http://a:1", "http://b:2"}, "tok");
  EXPECT_EQ(ComputeMemberId({"http://b:2", "http://a:1"}, "tok"), base);
  EXPECT_NE(ComputeMemberId({"http://a:1", "http://b:2"}, "other"), base);
  EXPECT_NE(ComputeMemberId({"http://a:1"}, "tok"), base);
  EXPECT_NE(ComputeMemberId({"http://a:1", "http://b:2"}, "tok", 1700000000), base);
}

}  // namespace
}  // namespace keel::server
