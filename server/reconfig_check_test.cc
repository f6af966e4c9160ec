// --strict-reconfig-check and the learner limit, case by case against etcd 3.4's rules
// (etcdserver/server.go mayAddMember/mayRemoveMember/mayPromoteMember, membership's
// IsReadyTo*; the error texts are etcd's rpctypes).
#include "server/reconfig_check.h"

#include "gtest/gtest.h"

namespace keel::server {
namespace {

serverpb::Member M(uint64_t id, bool started = true, bool learner = false) {
  serverpb::Member m;
  m.set_id(id);
  if (started) m.set_name("m" + std::to_string(id));
  m.set_is_learner(learner);
  return m;
}

constexpr PeerContact kUp = PeerContact::kUp;
constexpr PeerContact kDown = PeerContact::kDown;
constexpr PeerContact kNew = PeerContact::kUpRecently;

ReconfigView View(std::vector<serverpb::Member> members, std::map<uint64_t, PeerContact> contact) {
  ReconfigView v;
  v.self_id = 1;
  v.members = std::move(members);
  v.contact = std::move(contact);
  return v;
}

std::string Message(const absl::Status& s) { return std::string(s.message()); }

TEST(ReconfigCheck, AddingAVoterNeedsAQuorumStartedAndEveryVoterConnected) {
  EXPECT_TRUE(CheckAddMember(View({M(1), M(2), M(3)}, {{2, kUp}, {3, kUp}}), false).ok());
  // One of three down: etcd 3.4 answers "unhealthy cluster".
  absl::Status down = CheckAddMember(View({M(1), M(2), M(3)}, {{2, kUp}, {3, kDown}}), false);
  EXPECT_EQ(down.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Message(down), "etcdserver: unhealthy cluster");
  // Two of four voters never started: the new one would leave 2 started of 5.
  absl::Status unstarted = CheckAddMember(
      View({M(1), M(2), M(3, false), M(4, false)}, {{2, kUp}, {3, kUp}, {4, kUp}}), false);
  EXPECT_EQ(Message(unstarted), "etcdserver: re-configuration failed due to not enough started members");
  // etcd counts a peer only once connected for its 5 s health interval.
  EXPECT_EQ(Message(CheckAddMember(View({M(1), M(2), M(3)}, {{2, kUp}, {3, kNew}}), false)),
            "etcdserver: unhealthy cluster");
  // Growing a one-member cluster (a restore) is always allowed.
  EXPECT_TRUE(CheckAddMember(View({M(1)}, {}), false).ok());
}

TEST(ReconfigCheck, AFollowerChecksOnlyStartedMembers) {
  ReconfigView v = View({M(1), M(2), M(3)}, {});
  v.contact.reset();  // not the leader: no connectivity view
  EXPECT_TRUE(CheckAddMember(v, false).ok());
  EXPECT_TRUE(CheckRemoveMember(v, 2).ok());
}

TEST(ReconfigCheck, RemovingAVoterMustLeaveAnActiveQuorum) {
  const std::vector<serverpb::Member> three = {M(1), M(2), M(3)};
  EXPECT_TRUE(CheckRemoveMember(View(three, {{2, kUp}, {3, kUp}}), 2).ok());
  // 3 is down: removing it is safe, removing 2 (up) would leave 1 of 2 active.
  EXPECT_TRUE(CheckRemoveMember(View(three, {{2, kUp}, {3, kDown}}), 3).ok());
  EXPECT_EQ(Message(CheckRemoveMember(View(three, {{2, kUp}, {3, kDown}}), 2)),
            "etcdserver: unhealthy cluster");
  // Learners are removed without checks.
  EXPECT_TRUE(CheckRemoveMember(View({M(1), M(2), M(3, true, true)}, {{2, kDown}}), 3).ok());
}

TEST(ReconfigCheck, PromotionCountsTheLearnerAsStarted) {
  EXPECT_TRUE(CheckPromoteMember(View({M(1), M(2), M(9, true, true)}, {}), 9).ok());
  EXPECT_EQ(Message(CheckPromoteMember(
                View({M(1), M(2, false), M(3, false), M(9, true, true)}, {}), 9)),
            "etcdserver: re-configuration failed due to not enough started members");
}

TEST(ReconfigCheck, AtMostOneLearner) {
  EXPECT_TRUE(CheckLearnerLimit({M(1), M(2)}).ok());
  absl::Status two = CheckLearnerLimit({M(1), M(2, true, true)});
  EXPECT_EQ(two.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Message(two), "etcdserver: too many learner members in cluster");
}

}  // namespace
}  // namespace keel::server
