#include "prom/exposition.h"

#include <cmath>
#include <limits>

#include "gtest/gtest.h"

namespace keel::prom {
namespace {

TEST(ExpositionTest, ValuesPrintAsGoPrintsThem) {
  EXPECT_EQ(FormatValue(6), "6");
  EXPECT_EQ(FormatValue(0.001), "0.001");
  EXPECT_EQ(FormatValue(0.001 * 8192), "8.192");  // etcd's last fsync bucket
  EXPECT_EQ(FormatValue(0.0001 * 8192), "0.8192");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
  EXPECT_EQ(FormatValue(0.0001), "0.0001");
  EXPECT_EQ(FormatValue(0.00001), "1e-05");
  EXPECT_EQ(FormatValue(20000), "20000");
  EXPECT_EQ(FormatValue(1e6), "1e+06");
  // Large values keep every digit (a 6-digit format would round them), as etcd prints
  // its default quota.
  EXPECT_EQ(FormatValue(2147483648.0), "2.147483648e+09");
  EXPECT_EQ(FormatValue(123456789), "1.23456789e+08");
  EXPECT_EQ(FormatValue(-2.5), "-2.5");
}

TEST(ExpositionTest, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(EscapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  EXPECT_EQ(EscapeHelp("x \"quoted\" \\ \n y"), "x \"quoted\" \\\\ \\n y");
  ExpositionWriter w;
  w.Family("m_total", MetricType::kCounter, "line one\nline two");
  w.Sample({{"path", "C:\\dir\n\"x\""}}, 1);
  EXPECT_EQ(std::move(w).Take(),
            "# HELP m_total line one\\nline two\n# TYPE m_total counter\n"
            "m_total{path=\"C:\\\\dir\\n\\\"x\\\"\"} 1\n");
}

TEST(ExpositionTest, HistogramHasCumulativeBucketsSumAndCount) {
  Histogram h(ExponentialBuckets(0.001, 2, 2));
  h.Observe(0.0005);
  h.Observe(0.0015);
  h.Observe(1);
  ExpositionWriter w;
  w.Family("d_seconds", MetricType::kHistogram, "Latency.");
  w.Histogram({{"To", "abc"}}, h);
  EXPECT_EQ(std::move(w).Take(),
            "# HELP d_seconds Latency.\n# TYPE d_seconds histogram\n"
            "d_seconds_bucket{To=\"abc\",le=\"0.001\"} 1\n"
            "d_seconds_bucket{To=\"abc\",le=\"0.002\"} 2\n"
            "d_seconds_bucket{To=\"abc\",le=\"+Inf\"} 3\n"
            "d_seconds_sum{To=\"abc\"} 1.002\n"
            "d_seconds_count{To=\"abc\"} 3\n");
}

TEST(ExpositionTest, NamesFollowTheGrammar) {
  EXPECT_TRUE(IsValidMetricName("etcd_server_has_leader"));
  EXPECT_TRUE(IsValidMetricName("a:b_c1"));
  EXPECT_FALSE(IsValidMetricName("1abc"));
  EXPECT_FALSE(IsValidMetricName("a-b"));
  EXPECT_FALSE(IsValidMetricName(""));
  EXPECT_TRUE(IsValidLabelName("grpc_code"));
  EXPECT_FALSE(IsValidLabelName("__name__"));
  EXPECT_FALSE(IsValidLabelName("a:b"));
}

TEST(ExpositionDeathTest, AFamilyIsDeclaredOnce) {
  ExpositionWriter w;
  w.Family("m", MetricType::kGauge, "h");
  EXPECT_DEATH(w.Family("m", MetricType::kGauge, "h"), "invariant violated");
}

TEST(ExpositionDeathTest, SampleTypeMustMatchTheFamily) {
  ExpositionWriter w;
  w.Family("m", MetricType::kHistogram, "h");
  EXPECT_DEATH(w.Sample({}, 1), "invariant violated");
}

}  // namespace
}  // namespace keel::prom
