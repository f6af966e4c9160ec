#include "sim/checkers/linearizability.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sim/checkers/history_builders.h"
#include "sim/checkers/revision_check.h"

namespace keel::sim::checkers {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;
using namespace ::keel::sim::checkers::testing;  // NOLINT: builders

LinearizabilityOptions SearchOnly() {
  LinearizabilityOptions o;
  o.revision_precheck = false;
  return o;
}

// Runs both stages and the search alone; returns the search-only result.
LinearizabilityResult SearchResult(const History& h) { return CheckLinearizability(h, SearchOnly()); }

TEST(Linearizability, SequentialPutGetDeleteIsLinearizable) {
  History h = {Put(1, "x", "a", 0, 10, 1), GetFound(1, "x", "a", 20, 30, 1, 1),
               Delete(1, "x", true, 40, 50, 2), GetMissing(1, "x", 60, 70, 2),
               Delete(1, "x", false, 80, 90, 2)};
  EXPECT_EQ(CheckLinearizability(h).verdict, Verdict::kOk);
  EXPECT_EQ(SearchResult(h).verdict, Verdict::kOk);
}

TEST(Linearizability, ReadConcurrentWithWriteMaySeeEitherValue) {
  for (const char* seen : {"a", "b"}) {
    History h = {Put(1, "x", "a", 0, 10, 1), Put(1, "x", "b", 20, 60, 2),
                 GetFound(2, "x", seen, 30, 40)};
    EXPECT_EQ(CheckLinearizability(h).verdict, Verdict::kOk) << seen;
  }
}

TEST(Linearizability, StaleReadAfterAcknowledgedWriteIsCaughtByBothStages) {
  History h = {Put(1, "x", "a", 0, 10, 1), Put(1, "x", "b", 20, 30, 2),
               GetFound(2, "x", "a", 40, 50, 2, 1)};
  LinearizabilityResult precheck = CheckLinearizability(h);
  EXPECT_EQ(precheck.verdict, Verdict::kViolation);
  EXPECT_EQ(precheck.property, "stale-read");
  EXPECT_THAT(precheck.involved_ops, ElementsAre(1, 2));

  LinearizabilityResult search = SearchResult(h);
  EXPECT_EQ(search.verdict, Verdict::kViolation);
  EXPECT_EQ(search.property, "linearizability");
  EXPECT_EQ(search.key, "x");
  EXPECT_THAT(search.longest_prefix, ElementsAre(0, 1));
  EXPECT_THAT(search.involved_ops, ElementsAre(2));
  EXPECT_THAT(search.explanation, HasSubstr("get(x)"));
}

TEST(Linearizability, ReadsGoingBackInTimeAreNotLinearizable) {
  // Both reads overlap the write, but once one read saw "b" a later read cannot see "a".
  History h = {Put(1, "x", "a", 0, 10), Put(1, "x", "b", 20, 100),
               GetFound(2, "x", "b", 30, 40), GetFound(3, "x", "a", 50, 60)};
  EXPECT_EQ(SearchResult(h).verdict, Verdict::kViolation);
}

TEST(Linearizability, LostUpdateOfTwoSucceedingCasIsNotLinearizable) {
  History h = {Put(1, "x", "0", 0, 10), CasValue(1, "x", "0", "1", true, 20, 50),
               CasValue(2, "x", "0", "2", true, 25, 55), GetFound(3, "x", "2", 60, 70)};
  LinearizabilityResult r = SearchResult(h);
  EXPECT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(r.key, "x");
  // One CAS linearizes after the put; the other then finds the compare false.
  EXPECT_EQ(r.longest_prefix.size(), 2u);

  // The same two CAS with one of them failing is fine.
  h[1].cas_succeeded = false;
  EXPECT_EQ(SearchResult(h).verdict, Verdict::kOk);
}

TEST(Linearizability, ReadOfValueNeverWrittenIsCaughtByBothStages) {
  History h = {Put(1, "x", "a", 0, 10, 1), GetFound(2, "x", "zzz", 20, 30, 1, 1)};
  EXPECT_EQ(CheckLinearizability(h).property, "read-wrong-write");
  h[1].read_mod_revision = 7;
  EXPECT_EQ(CheckLinearizability(h).property, "read-future-revision");
  h[1].header_revision = 7;
  EXPECT_EQ(CheckLinearizability(h).property, "read-never-written");
  EXPECT_EQ(SearchResult(h).verdict, Verdict::kViolation);
}

TEST(Linearizability, UnknownWriteMayOrMayNotTakeEffect) {
  const Operation lost = Unknown(Put(1, "x", "b", 20, 0));
  History took_effect = {Put(1, "x", "a", 0, 10, 1), lost, GetFound(2, "x", "b", 30, 40, 2, 2)};
  EXPECT_EQ(CheckLinearizability(took_effect).verdict, Verdict::kOk);
  EXPECT_EQ(SearchResult(took_effect).verdict, Verdict::kOk);

  History never = {Put(1, "x", "a", 0, 10, 1), lost, GetFound(2, "x", "a", 30, 40, 1, 1)};
  EXPECT_EQ(CheckLinearizability(never).verdict, Verdict::kOk);

  // It may take effect long after the client gave up, but only once.
  History late = {Put(1, "x", "a", 0, 10, 1), lost, GetFound(2, "x", "a", 30, 40, 1, 1),
                  GetFound(2, "x", "b", 50, 60, 2, 2), GetFound(2, "x", "a", 70, 80)};
  EXPECT_EQ(SearchResult(late).verdict, Verdict::kViolation);

  // Not before it was invoked.
  History early = {Put(1, "x", "a", 0, 10, 1), GetFound(2, "x", "b", 12, 18), lost};
  EXPECT_EQ(SearchResult(early).verdict, Verdict::kViolation);
}

TEST(Linearizability, FailedWriteNeverTakesEffect) {
  History h = {Failed(Put(1, "x", "a", 0, 10)), GetMissing(2, "x", 20, 30)};
  EXPECT_EQ(SearchResult(h).verdict, Verdict::kOk);
  h[1] = GetFound(2, "x", "a", 20, 30);
  EXPECT_EQ(SearchResult(h).verdict, Verdict::kViolation);
}

TEST(Linearizability, DeleteMustReportWhetherTheKeyExisted) {
  History h = {Put(1, "x", "a", 0, 10), Delete(1, "x", false, 20, 30)};
  EXPECT_EQ(SearchResult(h).verdict, Verdict::kViolation);
  h[1].deleted = true;
  EXPECT_EQ(SearchResult(h).verdict, Verdict::kOk);
}

TEST(Linearizability, CasOnModRevisionAfterUnknownPut) {
  // The unknown put's revision was never seen; a read learns it (5), and a CAS on mod_revision
  // 5 must then succeed while a CAS on 4 must not.
  History h = {Unknown(Put(1, "x", "a", 0, 0)), GetFound(2, "x", "a", 10, 20, 5, 5),
               CasModRevision(2, "x", 5, "b", true, 30, 40, 6), GetFound(2, "x", "b", 50, 60)};
  EXPECT_EQ(CheckLinearizability(h).verdict, Verdict::kOk);
  h[2] = CasModRevision(2, "x", 4, "b", true, 30, 40, 6);
  EXPECT_EQ(SearchResult(h).verdict, Verdict::kViolation);
}

TEST(Linearizability, UnknownCasOnUnknownModRevisionMayGoEitherWay) {
  History h = {Unknown(Put(1, "x", "a", 0, 0)), Unknown(CasModRevision(2, "x", 9, "b", true, 5, 0)),
               GetFound(3, "x", "b", 10, 20)};
  EXPECT_EQ(SearchResult(h).verdict, Verdict::kOk);
  h[2] = GetFound(3, "x", "a", 10, 20);
  EXPECT_EQ(SearchResult(h).verdict, Verdict::kOk);
}

TEST(Linearizability, KeysAreCheckedIndependently) {
  History h = {Put(1, "x", "a", 0, 10), Put(1, "y", "b", 0, 10), GetFound(2, "y", "b", 20, 30),
               GetFound(2, "x", "stale", 20, 30)};
  LinearizabilityResult r = SearchResult(h);
  EXPECT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(r.key, "x");
  EXPECT_EQ(r.keys_checked, 1u);  // "x" sorts first and fails
}

Operation Range(uint64_t client, std::string from, std::string to,
                std::vector<KeyValue> result, int64_t invoke_ns, int64_t complete_ns,
                int64_t revision) {
  Operation op = Base(client, OpKind::kRange, std::move(from), invoke_ns, complete_ns, revision);
  op.range_end = std::move(to);
  op.range_result = std::move(result);
  return op;
}

TEST(Linearizability, RangeIsProjectedOntoEachKey) {
  History h = {Put(1, "a", "1", 0, 10, 1), Put(1, "b", "2", 0, 10, 2),
               Range(2, "a", "c", {{"b", "2", 2, 1}, {"a", "1", 1, 1}}, 20, 30, 2)};
  EXPECT_EQ(CheckLinearizability(h).verdict, Verdict::kOk);
  // Leaving out "b", which exists, is a stale read of b.
  h[2].range_result.pop_back();
  h[2].range_result.erase(h[2].range_result.begin());
  h[2].range_result.push_back({"a", "1", 1, 1});
  EXPECT_EQ(SearchResult(h).verdict, Verdict::kViolation);
}

TEST(Linearizability, NonAtomicRangeIsCaughtOnlyThroughRevisions) {
  // a and b are written by concurrent puts; a range at revision 2 that shows the new b but
  // the old a passes per key (each value overlaps), but not at one revision.
  History h = {Put(1, "a", "old", 0, 10, 1), Put(1, "b", "old", 0, 10, 2),
               Put(1, "a", "new", 20, 100, 3), Put(2, "b", "new", 20, 100, 4),
               Range(3, "a", "c", {{"a", "old", 1, 1}, {"b", "new", 4, 2}}, 30, 40, 4)};
  EXPECT_EQ(SearchResult(h).verdict, Verdict::kOk);
  LinearizabilityResult r = CheckLinearizability(h);
  EXPECT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(r.property, "stale-read");
  EXPECT_THAT(r.involved_ops, ElementsAre(2, 4));
}

TEST(Linearizability, RangeReturningKeyOutsideItIsMalformed) {
  History h = {Put(1, "z", "1", 0, 10, 1), Range(2, "a", "c", {{"z", "1", 1, 1}}, 20, 30, 1)};
  EXPECT_EQ(SearchResult(h).property, "range-key-outside-range");
}

TEST(RevisionCheck, DuplicateWriteRevision) {
  History h = {Put(1, "x", "a", 0, 10, 3), Put(2, "y", "b", 0, 10, 3)};
  std::optional<Violation> v = CheckRevisions(h);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->property, "duplicate-revision");
  EXPECT_THAT(v->ops, UnorderedElementsAre(0, 1));
}

TEST(RevisionCheck, WriteAfterCompletedReadMustGetAHigherRevision) {
  History h = {GetMissing(1, "y", 0, 10, 5), Put(2, "x", "a", 20, 30, 5)};
  std::optional<Violation> v = CheckRevisions(h);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->property, "revision-real-time");
  h[1].header_revision = 6;
  EXPECT_FALSE(CheckRevisions(h).has_value());
}

TEST(RevisionCheck, ReadAfterCompletedWriteMustNotObserveAnOlderRevision) {
  History h = {Put(1, "x", "a", 0, 10, 8), GetMissing(2, "y", 20, 30, 7)};
  ASSERT_TRUE(CheckRevisions(h).has_value());
  EXPECT_EQ(CheckRevisions(h)->property, "revision-real-time");
  // Overlapping in time, either order of revisions is fine.
  h[1].invoke_ns = 5;
  EXPECT_FALSE(CheckRevisions(h).has_value());
}

TEST(RevisionCheck, ReadMustMatchTheWriteAtItsModRevision) {
  // Same value, different write: the read claims mod_revision 1 but x was rewritten at 2
  // with the same value ("a") — an ABA the value-only view cannot see.
  History h = {Put(1, "x", "a", 0, 10, 1), Put(1, "y", "a", 20, 30, 2),
               GetFound(2, "x", "a", 40, 50, 2, 2)};
  ASSERT_TRUE(CheckRevisions(h).has_value());
  EXPECT_EQ(CheckRevisions(h)->property, "read-wrong-write");
}

TEST(RevisionCheck, NotFoundAfterPutNeedsADelete) {
  History h = {Put(1, "x", "a", 0, 10, 1), GetMissing(2, "x", 20, 30, 1)};
  ASSERT_TRUE(CheckRevisions(h).has_value());
  EXPECT_EQ(CheckRevisions(h)->property, "stale-read");
  h.push_back(Unknown(Delete(3, "x", false, 5, 0)));
  EXPECT_FALSE(CheckRevisions(h).has_value());
}

TEST(Linearizability, BudgetExhaustionIsInconclusiveNeverOk) {
  History h = {Put(1, "x", "a", 0, 10), Put(2, "x", "b", 0, 10), GetFound(3, "x", "a", 20, 30)};
  LinearizabilityOptions o = SearchOnly();
  o.max_search_steps = 2;
  LinearizabilityResult r = CheckLinearizability(h, o);
  EXPECT_EQ(r.verdict, Verdict::kInconclusive);
  EXPECT_THAT(r.explanation, HasSubstr("x"));
  o.max_search_steps = 1000;
  EXPECT_EQ(CheckLinearizability(h, o).verdict, Verdict::kOk);
}

}  // namespace
}  // namespace keel::sim::checkers
