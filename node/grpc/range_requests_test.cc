#include "node/grpc/range_requests.h"

#include "gtest/gtest.h"

namespace keel::node {
namespace {

TEST(PrefixEndTest, IncrementsTheLastByteThatCanBe) {
  EXPECT_EQ(PrefixEnd("lock/"), "lock0");  // '/' + 1 == '0'
  EXPECT_EQ(PrefixEnd("a\xff"), "b");
  EXPECT_EQ(PrefixEnd(std::string("a\xff\xff", 3)), "b");
}

TEST(PrefixEndTest, AllOnesOrEmptyMeansEveryKey) {
  EXPECT_EQ(PrefixEnd(std::string("\xff\xff", 2)), std::string(1, '\0'));
  EXPECT_EQ(PrefixEnd(""), std::string(1, '\0'));
}

TEST(RangeRequestsTest, FirstCreatedIsPrefixSortedByCreateAscendingLimitOne) {
  etcdserverpb::RangeRequest request = FirstCreatedRequest("e/");
  EXPECT_EQ(request.key(), "e/");
  EXPECT_EQ(request.range_end(), "e0");
  EXPECT_EQ(request.sort_target(), etcdserverpb::RangeRequest::CREATE);
  EXPECT_EQ(request.sort_order(), etcdserverpb::RangeRequest::ASCEND);
  EXPECT_EQ(request.limit(), 1);
  EXPECT_EQ(request.max_create_revision(), 0);
}

TEST(RangeRequestsTest, LastCreatedBeforeBoundsCreateRevisionAndSortsDescending) {
  etcdserverpb::RangeRequest request = LastCreatedBeforeRequest("l/", 41);
  EXPECT_EQ(request.range_end(), "l0");
  EXPECT_EQ(request.sort_order(), etcdserverpb::RangeRequest::DESCEND);
  EXPECT_EQ(request.sort_target(), etcdserverpb::RangeRequest::CREATE);
  EXPECT_EQ(request.max_create_revision(), 41);
  EXPECT_EQ(request.limit(), 1);
}

TEST(SessionKeyTest, IsPrefixPlusLowerCaseHexLease) {
  // etcd: fmt.Sprintf("%s%x", pfx, leaseID)
  EXPECT_EQ(SessionKey("mylock/", 0x694d7a6c3f1b2a0c), "mylock/694d7a6c3f1b2a0c");
  EXPECT_EQ(SessionKey("e/", 255), "e/ff");
}

}  // namespace
}  // namespace keel::node
