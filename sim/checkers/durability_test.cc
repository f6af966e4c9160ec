#include "sim/checkers/durability.h"

#include "gtest/gtest.h"
#include "sim/checkers/history_builders.h"

namespace keel::sim::checkers {
namespace {

using namespace ::keel::sim::checkers::testing;  // NOLINT: builders

ReplicaFinalState Replica(uint64_t node, int64_t revision,
                          std::map<std::string, StoredValue> kvs) {
  return ReplicaFinalState{node, revision, std::move(kvs)};
}

std::string PropertyOf(const std::optional<Violation>& v) { return v ? v->property : "ok"; }

// x: put a@1, put b@2; y: put c@3, delete@4.
History Writes() {
  return {Put(1, "x", "a", 0, 10, 1), Put(1, "x", "b", 20, 30, 2), Put(2, "y", "c", 0, 40, 3),
          Delete(2, "y", true, 50, 60, 4)};
}

TEST(Durability, ReplicaHoldingEveryAcknowledgedWritePasses) {
  EXPECT_EQ(PropertyOf(CheckDurability(Writes(), {Replica(1, 4, {{"x", {"b", 2}}}),
                                                  Replica(2, 4, {{"x", {"b", 2}}})},
                                       {})),
            "ok");
}

TEST(Durability, LostAcknowledgedWriteIsCaught) {
  // Node 2 rolled back to x=a: the acknowledged write of b is gone.
  std::optional<Violation> v =
      CheckDurability(Writes(), {Replica(1, 4, {{"x", {"b", 2}}}), Replica(2, 4, {{"x", {"a", 1}}})}, {});
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->property, "durability-lost-write");
  EXPECT_EQ(v->ops, std::vector<size_t>{1});
  // A replica behind the acknowledged revision lost it too.
  EXPECT_EQ(PropertyOf(CheckDurability(Writes(), {Replica(3, 2, {{"x", {"b", 2}}, {"y", {"c", 3}}})}, {})),
            "durability-lost-write");
  // A deleted key that came back.
  EXPECT_EQ(PropertyOf(CheckDurability(Writes(), {Replica(1, 4, {{"x", {"b", 2}}, {"y", {"c", 3}}})}, {})),
            "durability-lost-write");
}

TEST(Durability, LaterUnknownWriteMayHaveReplacedIt) {
  History h = Writes();
  h.push_back(Unknown(Put(3, "x", "maybe", 35, 0)));
  EXPECT_EQ(PropertyOf(CheckDurability(h, {Replica(1, 5, {{"x", {"maybe", 5}}})}, {})), "ok");
  EXPECT_EQ(PropertyOf(CheckDurability(h, {Replica(1, 4, {{"x", {"b", 2}}})}, {})), "ok");
  // But not with a revision older than the acknowledged write.
  EXPECT_EQ(PropertyOf(CheckDurability(h, {Replica(1, 5, {{"x", {"maybe", 1}}})}, {})),
            "durability-lost-write");
}

TEST(Durability, KeyNoOneWroteIsAPhantom) {
  EXPECT_EQ(PropertyOf(CheckDurability(Writes(), {Replica(1, 5, {{"x", {"b", 2}}, {"z", {"?", 5}}})}, {})),
            "durability-phantom-key");
}

TEST(Durability, LeaseRevokeExplainsAMissingKey) {
  const std::vector<LeaseRevoke> revokes = {LeaseRevoke{7, 5, {"x"}}};
  EXPECT_EQ(PropertyOf(CheckDurability(Writes(), {Replica(1, 5, {})}, {})),
            "durability-lost-write");
  EXPECT_EQ(PropertyOf(CheckDurability(Writes(), {Replica(1, 5, {})}, revokes)), "ok");
}

TEST(Leases, NoKeyOutlivesTheRevokeOfItsLease) {
  const std::vector<LeaseRevoke> revokes = {LeaseRevoke{7, 5, {"x"}}};
  EXPECT_EQ(PropertyOf(CheckLeaseRevokes(Writes(), {Replica(1, 5, {})}, revokes)), "ok");
  EXPECT_EQ(PropertyOf(CheckLeaseRevokes(Writes(), {Replica(1, 5, {{"x", {"b", 2}}})}, revokes)),
            "lease-outlived-revoke");
  // Re-created after the revoke is fine; a replica that has not applied it yet is too.
  EXPECT_EQ(PropertyOf(CheckLeaseRevokes(Writes(), {Replica(1, 6, {{"x", {"new", 6}}})}, revokes)),
            "ok");
  EXPECT_EQ(PropertyOf(CheckLeaseRevokes(Writes(), {Replica(1, 4, {{"x", {"b", 2}}})}, revokes)),
            "ok");
  // A read at revision 5 or later that still sees the old key.
  History h = Writes();
  h.push_back(GetFound(3, "x", "b", 70, 80, 6, 2));
  EXPECT_EQ(PropertyOf(CheckLeaseRevokes(h, {}, revokes)), "lease-outlived-revoke");
}

TEST(Agreement, EqualRevisionsMeanEqualHashesAndContents) {
  std::vector<HashKvSample> samples = {{1, 10, 0, 0xabc}, {2, 10, 0, 0xabc}, {3, 10, 5, 0xdef}};
  EXPECT_EQ(PropertyOf(CheckReplicaAgreement(samples, {})), "ok");
  samples.push_back({3, 10, 0, 0x123});
  EXPECT_EQ(PropertyOf(CheckReplicaAgreement(samples, {})), "replica-divergence");

  std::vector<ReplicaFinalState> same = {Replica(1, 4, {{"x", {"b", 2}}}),
                                         Replica(2, 4, {{"x", {"b", 2}}}),
                                         Replica(3, 3, {{"x", {"b", 2}}, {"y", {"c", 3}}})};
  EXPECT_EQ(PropertyOf(CheckReplicaAgreement({}, same)), "ok");
  same[1].kvs["extra"] = {"e", 4};
  EXPECT_EQ(PropertyOf(CheckReplicaAgreement({}, same)), "replica-divergence");
}

}  // namespace
}  // namespace keel::sim::checkers
