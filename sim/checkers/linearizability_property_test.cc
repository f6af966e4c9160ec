// Property tests: histories generated from a sequential model with random concurrency are
// linearizable by construction and must always pass; mutating one read must usually fail.
// KEEL_CHECKERS_PROPERTY_SEEDS raises the number of seeds for longer sweeps.
#include <cstdlib>
#include <string>

#include "env/rng.h"
#include "gtest/gtest.h"
#include "sim/checkers/linearizability.h"
#include "sim/checkers/random_history.h"

namespace keel::sim::checkers {
namespace {

int Seeds(int default_seeds) {
  const char* env = std::getenv("KEEL_CHECKERS_PROPERTY_SEEDS");
  return env ? std::atoi(env) : default_seeds;
}

RandomHistoryOptions SmallHistories(uint64_t seed) {
  RandomHistoryOptions o;
  o.clients = 2 + static_cast<int>(seed % 4);
  o.keys = 1 + static_cast<int>(seed % 5);
  o.operations = 200;
  o.unknown_probability = 0.05;
  o.failed_probability = 0.03;
  o.range_probability = 0.2;
  return o;
}

TEST(LinearizabilityProperty, GeneratedHistoriesAlwaysPass) {
  for (int seed = 1; seed <= Seeds(200); ++seed) {
    env::Rng rng(seed);
    History h = GenerateLinearizableHistory(SmallHistories(seed), &rng);
    for (bool precheck : {true, false}) {
      LinearizabilityOptions options;
      options.revision_precheck = precheck;
      LinearizabilityResult r = CheckLinearizability(h, options);
      ASSERT_EQ(r.verdict, Verdict::kOk)
          << "seed " << seed << " precheck " << precheck << ": " << r.explanation;
    }
  }
}

TEST(LinearizabilityProperty, MutatingOneReadUsuallyFails) {
  const int seeds = Seeds(200);
  int caught_with_revisions = 0;
  int caught_by_search = 0;
  for (int seed = 1; seed <= seeds; ++seed) {
    env::Rng rng(seed);
    History h = GenerateLinearizableHistory(SmallHistories(seed), &rng);
    ASSERT_TRUE(MutateOneRead(&h, &rng));
    LinearizabilityResult full = CheckLinearizability(h);
    ASSERT_NE(full.verdict, Verdict::kInconclusive);
    caught_with_revisions += full.verdict == Verdict::kViolation;
    LinearizabilityOptions search_only;
    search_only.revision_precheck = false;
    LinearizabilityResult search = CheckLinearizability(h, search_only);
    ASSERT_NE(search.verdict, Verdict::kInconclusive);
    caught_by_search += search.verdict == Verdict::kViolation;
  }
  // A mutated read can stay linearizable when a concurrent write produced the new value;
  // with revisions recorded the read must name the right write, which almost always fails.
  EXPECT_GE(caught_with_revisions, seeds * 95 / 100);
  EXPECT_GE(caught_by_search, seeds * 70 / 100);
  std::printf("mutated reads caught: %d/%d with revisions, %d/%d by search alone\n",
              caught_with_revisions, seeds, caught_by_search, seeds);
}

}  // namespace
}  // namespace keel::sim::checkers
