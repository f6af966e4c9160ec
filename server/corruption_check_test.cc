// etcd 3.4's corruption-check rules (etcdserver/corrupt.go), case by case.
#include "server/corruption_check.h"

#include "gtest/gtest.h"

namespace keel::server {
namespace {

PeerHash Answer(uint64_t id, uint32_t hash, int64_t rev, int64_t crev) {
  PeerHash p;
  p.member_id = id;
  p.hash = KvHash{hash, rev, crev};
  return p;
}

PeerHash Failed(uint64_t id, absl::Status error) {
  PeerHash p;
  p.member_id = id;
  p.error = std::move(error);
  return p;
}

TEST(InitialCheck, APeerWithTheSameCompactRevisionAndAnotherHashIsAMismatch) {
  const KvHash local{111, 20, 5};
  std::vector<HashMismatch> found =
      InitialMismatches(local, {Answer(0xa1, 111, 25, 5), Answer(0xb2, 222, 20, 5)});
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].member_id, 0xb2u);
  EXPECT_NE(found[0].reason.find("remote-peer-id b2"), std::string::npos) << found[0].reason;
}

TEST(InitialCheck, AnotherCompactRevisionOrNoAnswerCannotBeCompared) {
  const KvHash local{111, 20, 5};
  EXPECT_TRUE(InitialMismatches(local, {Answer(0xa1, 999, 20, 7),
                                        Failed(0xb2, absl::OutOfRangeError("future rev")),
                                        Failed(0xc3, absl::UnavailableError("unreachable"))})
                  .empty());
}

TEST(PeriodicCheck, AgreeingMembersRaiseNothing) {
  const KvHash h{7, 30, 10};
  EXPECT_TRUE(PeriodicMismatches(1, h, h, {Answer(2, 7, 30, 10), Answer(3, 7, 28, 10)}).empty());
}

TEST(PeriodicCheck, AFollowerHashDifferingAtTheLeadersCompactRevisionIsNamed) {
  const KvHash h{7, 30, 10};
  std::vector<HashMismatch> found = PeriodicMismatches(1, h, h, {Answer(2, 7, 30, 10),
                                                                 Answer(3, 8, 30, 10)});
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].member_id, 3u);
  EXPECT_NE(found[0].reason.find("same compact revision then hashes must match"),
            std::string::npos);
}

TEST(PeriodicCheck, AFollowerAheadOfTheLeaderIsAMismatch) {
  const KvHash h{7, 30, 10};
  std::vector<HashMismatch> ahead = PeriodicMismatches(1, h, h, {Answer(2, 9, 31, 10)});
  ASSERT_FALSE(ahead.empty());
  EXPECT_EQ(ahead[0].member_id, 2u);
  std::vector<HashMismatch> compacted = PeriodicMismatches(1, h, h, {Answer(2, 9, 30, 11)});
  ASSERT_FALSE(compacted.empty());
  EXPECT_EQ(compacted[0].member_id, 2u);
}

TEST(PeriodicCheck, TheLeadersOwnHashChangingAtAnUnchangedRevisionNamesTheLeader) {
  std::vector<HashMismatch> found = PeriodicMismatches(1, KvHash{7, 30, 10}, KvHash{8, 30, 10}, {});
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].member_id, 1u);
  // A new write in between changes revision and hash legitimately.
  EXPECT_TRUE(PeriodicMismatches(1, KvHash{7, 30, 10}, KvHash{8, 31, 10}, {}).empty());
}

TEST(PeriodicCheck, AFollowerWithAnOlderCompactRevisionIsNotCompared) {
  const KvHash h{7, 30, 10};
  EXPECT_TRUE(PeriodicMismatches(1, h, h, {Answer(2, 99, 30, 8)}).empty());
}

TEST(MemberIdHex, IsEtcdsUnpaddedLowerCaseHex) {
  EXPECT_EQ(MemberIdHex(0x8e9e05c52164694dULL), "8e9e05c52164694d");
  EXPECT_EQ(MemberIdHex(0xabc), "abc");
}

}  // namespace
}  // namespace keel::server
