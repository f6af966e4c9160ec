#include "base/check.h"

#include "gtest/gtest.h"

namespace {

int evaluations = 0;
bool CountedTrue() {
  ++evaluations;
  return true;
}

TEST(KeelCheck, PassingCheckEvaluatesItsConditionOnce) {
  evaluations = 0;
  KEEL_CHECK(CountedTrue());
  KEEL_CHECK_MSG(CountedTrue(), "must hold");
  EXPECT_EQ(evaluations, 2);
}

TEST(KeelCheckDeathTest, FailingCheckAbortsNamingTheConditionAndReason) {
  EXPECT_DEATH(KEEL_CHECK(1 + 1 == 3), "invariant violated: 1 \\+ 1 == 3");
  EXPECT_DEATH(KEEL_CHECK_MSG(false, "the log never shrinks"),
               "invariant violated: false \\(the log never shrinks\\)");
}

TEST(KeelCheckDeathTest, StaysOnInOptimisedBuilds) {
  // Built with -c opt (NDEBUG) this must still abort: that is the point of KEEL_CHECK.
  volatile bool broken = true;
  EXPECT_DEATH(KEEL_CHECK(!broken), "invariant violated");
}

TEST(KeelDcheck, FollowsNdebug) {
  evaluations = 0;
  KEEL_DCHECK(CountedTrue());
#ifdef NDEBUG
  EXPECT_EQ(evaluations, 0);
#else
  EXPECT_EQ(evaluations, 1);
#endif
}

}  // namespace
