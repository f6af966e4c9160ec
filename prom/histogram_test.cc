#include "prom/histogram.h"

#include "gtest/gtest.h"

namespace keel::prom {
namespace {

TEST(HistogramTest, ExponentialBucketsMatchClientGolang) {
  // etcd's etcd_disk_wal_fsync_duration_seconds: ExponentialBuckets(0.001, 2, 14).
  Buckets b = ExponentialBuckets(0.001, 2, 14);
  ASSERT_EQ(b->size(), 14u);
  EXPECT_EQ(b->front(), 0.001);
  EXPECT_EQ((*b)[1], 0.002);
  EXPECT_EQ(b->back(), 0.001 * 8192);
}

TEST(HistogramTest, UpperBoundsAreInclusiveAndCountsCumulative) {
  Histogram h(ExponentialBuckets(1, 2, 3));  // le 1, 2, 4, +Inf
  h.Observe(0.5);
  h.Observe(1);    // on the bound: counts in le="1"
  h.Observe(1.5);
  h.Observe(4);
  h.Observe(100);  // beyond every bound: +Inf only
  EXPECT_EQ(h.CumulativeCount(0), 2u);
  EXPECT_EQ(h.CumulativeCount(1), 3u);
  EXPECT_EQ(h.CumulativeCount(2), 4u);
  EXPECT_EQ(h.CumulativeCount(3), 5u);
  EXPECT_EQ(h.count(), 5u);
  EXPECT_DOUBLE_EQ(h.sum(), 107);
}

TEST(HistogramTest, CopiesAreIndependentSnapshots) {
  Histogram h(ExponentialBuckets(1, 2, 2));
  h.Observe(1);
  Histogram copy = h;
  h.Observe(1);
  EXPECT_EQ(copy.count(), 1u);
  EXPECT_EQ(h.count(), 2u);
}

TEST(HistogramDeathTest, RefusesBoundsThatDoNotIncrease) {
  auto bad = std::make_shared<const std::vector<double>>(std::vector<double>{1, 1});
  EXPECT_DEATH(Histogram{bad}, "invariant violated");
}

}  // namespace
}  // namespace keel::prom
