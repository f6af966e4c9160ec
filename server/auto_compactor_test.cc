// etcd 3.4's compactor schedules, on a manual clock.
#include "server/auto_compactor.h"

#include <vector>

#include "gtest/gtest.h"

namespace keel::server {
namespace {

constexpr int64_t kMin = int64_t{60} * 1'000'000'000;

TEST(AutoCompactorTest, PeriodicCompactsToTheRevisionOfOneRetentionAgo) {
  // Retention 10 min: a sample every minute, first compaction at 10 min to the revision
  // sampled at start, then every 10 min to the revision of 10 min before.
  AutoCompactor c(/*periodic=*/true, 10 * kMin, /*start_ns=*/0, /*start_revision=*/1);
  EXPECT_EQ(c.interval_ns(), kMin);
  std::vector<std::pair<int64_t, int64_t>> compactions;  // (minute, revision)
  int64_t rev = 1;
  for (int minute = 1; minute <= 30; ++minute) {
    rev += 100;  // 100 writes a minute
    std::optional<int64_t> target = c.Tick(minute * kMin, rev, /*is_leader=*/true);
    if (target) {
      compactions.emplace_back(minute, *target);
      c.Done(minute * kMin, true);
    }
  }
  // Minute m samples rev 1 + 100 m; at minute 10 the oldest kept sample is the start (1),
  // at 20 the one of minute 10 (1001)... 10 minutes of history stay.
  ASSERT_EQ(compactions.size(), 3u);
  EXPECT_EQ(compactions[0], std::make_pair(int64_t{10}, int64_t{1}));
  EXPECT_EQ(compactions[1], std::make_pair(int64_t{20}, int64_t{901}));
  EXPECT_EQ(compactions[2], std::make_pair(int64_t{30}, int64_t{1901}));
}

TEST(AutoCompactorTest, PeriodicRetriesAFailureAndOnlyTheLeaderCompacts) {
  AutoCompactor c(true, 10 * kMin, 0, 1);
  for (int minute = 1; minute < 10; ++minute) EXPECT_FALSE(c.Tick(minute * kMin, minute, true));
  EXPECT_FALSE(c.Tick(10 * kMin, 10, /*is_leader=*/false));  // a follower: nothing
  std::optional<int64_t> first = c.Tick(11 * kMin, 11, true);
  ASSERT_TRUE(first.has_value());
  c.Done(11 * kMin, /*ok=*/false);
  EXPECT_TRUE(c.Tick(12 * kMin, 12, true).has_value());  // retried at the next sample
  c.Done(12 * kMin, true);
  EXPECT_FALSE(c.Tick(13 * kMin, 13, true).has_value());  // next one 10 min after success
}

TEST(AutoCompactorTest, PeriodicRetentionAboveAnHourCompactsHourly) {
  AutoCompactor c(true, 5 * 60 * kMin, 0, 1);  // 5 h
  EXPECT_EQ(c.interval_ns(), 6 * kMin);
  int compactions = 0;
  for (int64_t t = 6 * kMin; t <= 8 * 60 * kMin; t += 6 * kMin) {
    if (c.Tick(t, t / kMin, true)) {
      ++compactions;
      c.Done(t, true);
    }
  }
  EXPECT_EQ(compactions, 4);  // at 5 h, 6 h, 7 h, 8 h
}

TEST(AutoCompactorTest, RevisionModeKeepsTheLastNRevisionsEveryFiveMinutes) {
  AutoCompactor c(/*periodic=*/false, 1000, 0, 1);
  EXPECT_EQ(c.interval_ns(), 5 * kMin);
  EXPECT_FALSE(c.Tick(5 * kMin, 900, true));  // 900 - 1000 <= 0
  std::optional<int64_t> target = c.Tick(10 * kMin, 2500, true);
  ASSERT_TRUE(target.has_value());
  EXPECT_EQ(*target, 1500);
  c.Done(10 * kMin, true);
  EXPECT_FALSE(c.Tick(15 * kMin, 2500, true));  // nothing new written: no repeat
  EXPECT_FALSE(c.Tick(20 * kMin, 3000, false));  // not the leader
  EXPECT_EQ(c.Tick(25 * kMin, 3000, true).value_or(0), 2000);
}

}  // namespace
}  // namespace keel::server
