#include "kv/lease/lessor.h"

#include <functional>

#include "env/rng.h"
#include "gtest/gtest.h"

namespace keel::kv {
namespace {

constexpr int64_t kSec = 1'000'000'000;

LessorOptions TestOptions() {
  LessorOptions o;
  o.min_ttl_seconds = 2;
  o.checkpoint_interval_ns = 300 * kSec;
  o.expired_retry_ns = 3 * kSec;
  return o;
}

TEST(LessorGrant, RaisesShortTtlToMinimumAndRejectsBadIds) {
  Lessor lessor(TestOptions());
  EXPECT_EQ(*lessor.Grant(1, 1, 0), 2);
  EXPECT_EQ(*lessor.Grant(2, 60, 0), 60);

  absl::Status dup = lessor.Grant(1, 10, 0).status();
  EXPECT_EQ(dup.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(dup.message(), "etcdserver: lease already exists");

  absl::Status zero = lessor.Grant(kNoLease, 10, 0).status();
  EXPECT_EQ(zero.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(zero.message(), "etcdserver: requested lease not found");

  absl::Status big = lessor.Grant(3, kMaxLeaseTtlSeconds + 1, 0).status();
  EXPECT_EQ(big.code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(big.message(), "etcdserver: too large lease TTL");
  EXPECT_EQ(lessor.Leases(), (std::vector<LeaseId>{1, 2}));
}

TEST(LessorRevoke, ReturnsAttachedKeysSortedAndForgetsTheLease) {
  Lessor lessor(TestOptions());
  ASSERT_TRUE(lessor.Grant(7, 10, 0).ok());
  ASSERT_TRUE(lessor.Attach(7, "b").ok());
  ASSERT_TRUE(lessor.Attach(7, "a").ok());
  ASSERT_TRUE(lessor.Attach(7, "c").ok());
  lessor.Detach(7, "c");
  lessor.Detach(7, "never-attached");  // harmless

  auto keys = lessor.Revoke(7);
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(*keys, (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(lessor.Exists(7));
  EXPECT_EQ(lessor.Revoke(7).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(lessor.Attach(7, "a").code(), absl::StatusCode::kNotFound);
}

TEST(LessorExpiry, FollowersNeverExpireLeasesOnTheirOwnClock) {
  Lessor follower(TestOptions());
  ASSERT_TRUE(follower.Grant(1, 5, 0).ok());
  EXPECT_TRUE(follower.ExpiredLeases(1'000'000 * kSec, 10).empty());
  EXPECT_EQ(follower.Renew(1, 0).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(follower.TimeToLive(1, 1'000'000 * kSec)->ttl_seconds, 5);
}

TEST(LessorExpiry, PrimaryReportsExpiryAtTtlAndRetriesUntilRevoked) {
  Lessor leader(TestOptions());
  leader.Promote(0, 0);
  ASSERT_TRUE(leader.Grant(1, 10, 0).ok());
  ASSERT_TRUE(leader.Grant(2, 20, 0).ok());

  EXPECT_TRUE(leader.ExpiredLeases(10 * kSec - 1, 10).empty());
  EXPECT_EQ(leader.ExpiredLeases(10 * kSec, 10), (std::vector<LeaseId>{1}));
  // Reported once; again only after the retry interval, in case the revoke was lost.
  EXPECT_TRUE(leader.ExpiredLeases(12 * kSec, 10).empty());
  EXPECT_EQ(leader.ExpiredLeases(13 * kSec, 10), (std::vector<LeaseId>{1}));
  EXPECT_EQ(leader.TimeToLive(1, 13 * kSec)->ttl_seconds, -1);

  ASSERT_TRUE(leader.Revoke(1).ok());
  EXPECT_EQ(leader.ExpiredLeases(100 * kSec, 10), (std::vector<LeaseId>{2}));
}

TEST(LessorExpiry, ExpiredLeasesRespectsTheBatchLimitOldestFirst) {
  Lessor leader(TestOptions());
  leader.Promote(0, 0);
  for (LeaseId id = 1; id <= 5; ++id) ASSERT_TRUE(leader.Grant(id, 10 + id, 0).ok());
  EXPECT_EQ(leader.ExpiredLeases(100 * kSec, 2), (std::vector<LeaseId>{1, 2}));
  EXPECT_EQ(leader.ExpiredLeases(100 * kSec, 10), (std::vector<LeaseId>{3, 4, 5}));
}

TEST(LessorRenew, KeepAliveExtendsFromNowAndExpiredLeasesCannotBeRenewed) {
  Lessor leader(TestOptions());
  leader.Promote(0, 0);
  ASSERT_TRUE(leader.Grant(1, 10, 0).ok());
  auto renewed = leader.Renew(1, 8 * kSec);
  ASSERT_TRUE(renewed.ok());
  EXPECT_EQ(renewed->ttl_seconds, 10);
  EXPECT_FALSE(renewed->clear_checkpoint);
  EXPECT_TRUE(leader.ExpiredLeases(17 * kSec, 10).empty());
  EXPECT_EQ(leader.TimeToLive(1, 17 * kSec)->ttl_seconds, 1);
  EXPECT_EQ(leader.ExpiredLeases(18 * kSec, 10), (std::vector<LeaseId>{1}));
  EXPECT_EQ(leader.Renew(1, 18 * kSec).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(leader.Renew(99, 0).status().code(), absl::StatusCode::kNotFound);
}

TEST(LessorTimeToLive, RoundsUpAndListsKeys) {
  Lessor leader(TestOptions());
  leader.Promote(0, 0);
  ASSERT_TRUE(leader.Grant(4, 10, 0).ok());
  ASSERT_TRUE(leader.Attach(4, "k2").ok());
  ASSERT_TRUE(leader.Attach(4, "k1").ok());
  auto ttl = leader.TimeToLive(4, 2 * kSec + 1);
  ASSERT_TRUE(ttl.ok());
  EXPECT_EQ(ttl->granted_ttl_seconds, 10);
  EXPECT_EQ(ttl->ttl_seconds, 8);  // 7.999999999 s left rounds up
  EXPECT_EQ(ttl->keys, (std::vector<std::string>{"k1", "k2"}));
}

// A leader change must neither reset a lease to its full TTL nor revoke it: the new leader
// resumes from the checkpointed remainder, extended by the election allowance.
TEST(LessorCheckpoint, NewLeaderResumesFromCheckpointedRemainder) {
  Lessor old_leader(TestOptions()), follower(TestOptions());
  old_leader.Promote(0, 0);
  for (Lessor* l : {&old_leader, &follower}) ASSERT_TRUE(l->Grant(9, 1000, 0).ok());

  EXPECT_TRUE(old_leader.DueCheckpoints(300 * kSec - 1, 10).empty());
  auto due = old_leader.DueCheckpoints(300 * kSec, 10);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0], (std::pair<LeaseId, int64_t>{9, 700}));
  // The checkpoint is replicated: every member applies it.
  for (Lessor* l : {&old_leader, &follower}) l->Checkpoint(9, due[0].second, 300 * kSec);

  // The old leader dies at 350 s; the follower wins an election at 352 s.
  follower.Promote(352 * kSec, 5 * kSec);
  EXPECT_TRUE(follower.ExpiredLeases(352 * kSec + 704 * kSec, 10).empty());
  EXPECT_EQ(follower.ExpiredLeases(352 * kSec + 705 * kSec, 10), (std::vector<LeaseId>{9}));

  // A keep-alive after a checkpoint asks the server to clear the stale remainder.
  Lessor other(TestOptions());
  ASSERT_TRUE(other.Grant(9, 1000, 0).ok());
  other.Checkpoint(9, 700, 0);
  other.Promote(0, 0);
  auto renewed = other.Renew(9, kSec);
  ASSERT_TRUE(renewed.ok());
  EXPECT_TRUE(renewed->clear_checkpoint);
}

TEST(LessorPromotion, ElectionExtensionKeepsLeasesAliveAndDemotionStopsTheClock) {
  Lessor l(TestOptions());
  ASSERT_TRUE(l.Grant(1, 5, 0).ok());
  l.Promote(100 * kSec, 2 * kSec);
  EXPECT_TRUE(l.ExpiredLeases(106 * kSec, 10).empty());
  EXPECT_EQ(l.ExpiredLeases(107 * kSec, 10), (std::vector<LeaseId>{1}));
  l.Demote();
  EXPECT_FALSE(l.is_primary());
  EXPECT_TRUE(l.ExpiredLeases(1000 * kSec, 10).empty());
  EXPECT_TRUE(l.DueCheckpoints(1000 * kSec, 10).empty());
}

TEST(LessorRestore, RecordsRoundTripAndRestoredLessorIsNotPrimary) {
  Lessor a(TestOptions());
  a.Promote(0, 0);
  ASSERT_TRUE(a.Grant(3, 30, 0).ok());
  ASSERT_TRUE(a.Grant(1, 10, 0).ok());
  a.Checkpoint(3, 12, 0);
  std::vector<LeaseRecord> records;
  for (LeaseId id : a.Leases()) records.push_back(*a.Record(id));

  Lessor b(TestOptions());
  ASSERT_TRUE(b.Grant(50, 10, 0).ok());
  b.Restore(records);
  EXPECT_EQ(b.Leases(), (std::vector<LeaseId>{1, 3}));
  EXPECT_EQ(b.Record(3)->remaining_ttl_seconds, 12);
  EXPECT_FALSE(b.is_primary());
  EXPECT_EQ(b.TimeToLive(3, 0)->ttl_seconds, 12);
}

// Replicas that apply the same log agree exactly, whoever is primary, and a lease
// disappears only through an explicit revoke (which the leader proposes on expiry).
TEST(LessorReplication, ReplicasApplyingTheSameLogAgree) {
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    env::Rng rng(seed);
    Lessor replicas[3] = {Lessor(TestOptions()), Lessor(TestOptions()), Lessor(TestOptions())};
    int leader = 0;
    replicas[leader].Promote(0, 0);
    int64_t now = 0;
    for (int step = 0; step < 300; ++step) {
      now += static_cast<int64_t>(rng.Uniform(3 * kSec));
      const LeaseId id = 1 + static_cast<LeaseId>(rng.Uniform(8));
      std::vector<std::function<void(Lessor&)>> log;  // one replicated entry
      switch (rng.Uniform(6)) {
        case 0: {
          const int64_t ttl = 1 + static_cast<int64_t>(rng.Uniform(20));
          log.push_back([=](Lessor& l) { (void)l.Grant(id, ttl, now); });
          break;
        }
        case 1: {
          std::string key = "k" + std::to_string(rng.Uniform(16));
          log.push_back([=](Lessor& l) { (void)l.Attach(id, key); });
          break;
        }
        case 2:
          for (LeaseId expired : replicas[leader].ExpiredLeases(now, 4)) {
            log.push_back([=](Lessor& l) { ASSERT_TRUE(l.Revoke(expired).ok()); });
          }
          break;
        case 3:
          (void)replicas[leader].Renew(id, now);
          break;
        case 4: {
          replicas[leader].Demote();
          leader = static_cast<int>(rng.Uniform(3));
          replicas[leader].Promote(now, 2 * kSec);
          break;
        }
        default:
          for (auto [cid, remaining] : replicas[leader].DueCheckpoints(now, 4)) {
            log.push_back([=](Lessor& l) { l.Checkpoint(cid, remaining, now); });
          }
      }
      for (auto& entry : log) {
        for (Lessor& r : replicas) entry(r);
      }
      for (int i = 0; i < 3; ++i) {
        if (i != leader) {
          ASSERT_TRUE(replicas[i].ExpiredLeases(now + 1'000'000 * kSec, 1).empty());
        }
      }
    }
    const std::vector<LeaseId> ids = replicas[0].Leases();
    for (const Lessor& r : replicas) {
      ASSERT_EQ(r.Leases(), ids) << "seed " << seed;
      for (LeaseId id : ids) {
        ASSERT_EQ(r.Record(id)->ttl_seconds, replicas[0].Record(id)->ttl_seconds);
        ASSERT_EQ(r.Record(id)->remaining_ttl_seconds,
                  replicas[0].Record(id)->remaining_ttl_seconds);
        ASSERT_EQ(r.TimeToLive(id, 0)->keys, replicas[0].TimeToLive(id, 0)->keys);
      }
    }
  }
}

}  // namespace
}  // namespace keel::kv
