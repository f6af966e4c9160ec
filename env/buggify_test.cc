// Built with KEEL_SIMULATION defined (see BUILD.bazel).
#include "env/buggify.h"

#include <string>

#include "gtest/gtest.h"

namespace keel::env {
namespace {

#ifndef KEEL_SIMULATION
#error "buggify_test must be built with KEEL_SIMULATION"
#endif

// Evaluates one BUGGIFY site (this line) `n` times and counts how often it fired.
int FireCount(int n) {
  int fired = 0;
  for (int i = 0; i < n; ++i) fired += KEEL_BUGGIFY ? 1 : 0;
  return fired;
}

TEST(BuggifyTest, QuietWhenNoRunIsInstalled) {
  ASSERT_EQ(Buggify::Current(), nullptr);
  EXPECT_EQ(FireCount(1000), 0);
}

TEST(BuggifyTest, AnEnabledSiteFiresWithItsProbability) {
  Buggify buggify(env::Rng(1), /*site_enable_probability=*/1.0, /*fire_probability=*/0.25);
  Buggify::Scope scope(&buggify);
  const int fired = FireCount(10'000);
  EXPECT_GT(fired, 2'200);
  EXPECT_LT(fired, 2'800);
  EXPECT_EQ(buggify.sites_seen(), 1u);
  EXPECT_EQ(buggify.fires(), static_cast<uint64_t>(fired));
}

TEST(BuggifyTest, ADisabledSiteNeverFires) {
  Buggify buggify(env::Rng(1), /*site_enable_probability=*/0.0, /*fire_probability=*/1.0);
  Buggify::Scope scope(&buggify);
  EXPECT_EQ(FireCount(1000), 0);
  EXPECT_EQ(KEEL_BUGGIFY_WITH_PROB(1.0), false);
}

TEST(BuggifyTest, SiteEnablementIsPerRunAndDependsOnlyOnSeedAndSite) {
  // About half the sites are enabled per run, the same ones for the same seed,
  // regardless of the order in which sites are first reached.
  int enabled = 0, same_when_reversed = 0, differs_from_other_seed = 0;
  for (int line = 1; line <= 200; ++line) {
    Buggify forward(env::Rng(7), 0.5), reversed(env::Rng(7), 0.5), other(env::Rng(8), 0.5);
    (void)reversed.SiteEnabled("other.cc", 1);  // a different first site
    const bool on = forward.SiteEnabled("core.cc", line);
    enabled += on;
    same_when_reversed += reversed.SiteEnabled("core.cc", line) == on;
    differs_from_other_seed += other.SiteEnabled("core.cc", line) != on;
  }
  EXPECT_GT(enabled, 70);
  EXPECT_LT(enabled, 130);
  EXPECT_EQ(same_when_reversed, 200);
  EXPECT_GT(differs_from_other_seed, 50);
}

TEST(BuggifyTest, FiringSequenceOfASiteIsReproducible) {
  auto sequence = [](uint64_t seed) {
    Buggify buggify(env::Rng(seed), 1.0, 0.5);
    std::string bits;
    for (int i = 0; i < 64; ++i) bits += buggify.Fires("raft.cc", 10) ? '1' : '0';
    return bits;
  };
  EXPECT_EQ(sequence(3), sequence(3));
  EXPECT_NE(sequence(3), sequence(4));
}

TEST(BuggifyTest, ScopesNest) {
  Buggify outer(env::Rng(1)), inner(env::Rng(2));
  {
    Buggify::Scope a(&outer);
    {
      Buggify::Scope b(&inner);
      EXPECT_EQ(Buggify::Current(), &inner);
    }
    EXPECT_EQ(Buggify::Current(), &outer);
  }
  EXPECT_EQ(Buggify::Current(), nullptr);
}

}  // namespace
}  // namespace keel::env
