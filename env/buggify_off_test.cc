// Built WITHOUT KEEL_SIMULATION: the macros must be the constant false, even with a run
// installed, so that production code carries no BUGGIFY behaviour at all.
#include "env/buggify.h"

#include "gtest/gtest.h"

namespace keel::env {
namespace {

#ifdef KEEL_SIMULATION
#error "buggify_off_test must be built without KEEL_SIMULATION"
#endif

// A compile-time constant: usable where only constants are.
static_assert(!KEEL_BUGGIFY, "KEEL_BUGGIFY must be constant false in production builds");
static_assert(!KEEL_BUGGIFY_WITH_PROB(1.0), "KEEL_BUGGIFY_WITH_PROB must be constant false");

TEST(BuggifyOffTest, MacrosNeverFireEvenWithARunInstalled) {
  Buggify buggify(env::Rng(1), /*site_enable_probability=*/1.0, /*fire_probability=*/1.0);
  Buggify::Scope scope(&buggify);
  int fired = 0;
  for (int i = 0; i < 100; ++i) fired += KEEL_BUGGIFY ? 1 : 0;
  EXPECT_EQ(fired, 0);
  EXPECT_EQ(buggify.sites_seen(), 0u);  // the site was never even consulted
}

}  // namespace
}  // namespace keel::env
