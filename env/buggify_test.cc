// BUGGIFY is a run-time check compiled into every binary (keeld included): these tests
// pin what that check must do with and without an installed run.
#include "env/buggify.h"

#include <string>
#include <thread>

#include "gtest/gtest.h"

namespace keel::env {
namespace {

// Evaluates one BUGGIFY site (this line) `n` times and counts how often it fired.
int FireCount(int n) {
  int fired = 0;
  for (int i = 0; i < n; ++i) fired += KEEL_BUGGIFY("test.fire_count") ? 1 : 0;
  return fired;
}

TEST(BuggifyTest, QuietAndFlagDownWhenNoRunIsInstalled) {
  // keeld's situation: nobody installs a Buggify, so the flag the macro reads first is
  // zero and no site is ever consulted.
  ASSERT_EQ(Buggify::Current(), nullptr);
  EXPECT_EQ(internal::buggify_installed.load(), 0);
  EXPECT_EQ(FireCount(1000), 0);
  EXPECT_FALSE(KEEL_BUGGIFY_WITH_PROB("test.with_prob_off", 1.0));
}

TEST(BuggifyTest, AnotherThreadsRunDoesNotLeakIntoThisThread) {
  // The flag is process-wide, the instance per thread: a simulator thread's run must not
  // make sites fire on a thread that has none (the flag only says "look").
  Buggify buggify(env::Rng(1), 1.0, 1.0);
  Buggify::Scope scope(&buggify);
  EXPECT_EQ(internal::buggify_installed.load(), 1);
  int fired_elsewhere = -1;
  std::thread other([&]() { fired_elsewhere = FireCount(100); });
  other.join();
  EXPECT_EQ(fired_elsewhere, 0);
  EXPECT_EQ(FireCount(10), 10);
}

TEST(BuggifyTest, AnEnabledSiteFiresWithItsProbability) {
  Buggify buggify(env::Rng(1), /*site_enable_probability=*/1.0, /*fire_probability=*/0.25);
  Buggify::Scope scope(&buggify);
  const int fired = FireCount(10'000);
  EXPECT_GT(fired, 2'200);
  EXPECT_LT(fired, 2'800);
  EXPECT_EQ(buggify.sites_seen(), 1u);
  EXPECT_EQ(buggify.fires(), static_cast<uint64_t>(fired));
  EXPECT_EQ(buggify.FiresBySite().at("test.fire_count"), static_cast<uint64_t>(fired));
  EXPECT_EQ(buggify.EnabledSites(), std::vector<std::string>{"test.fire_count"});
}

TEST(BuggifyTest, ADisabledSiteNeverFires) {
  Buggify buggify(env::Rng(1), /*site_enable_probability=*/0.0, /*fire_probability=*/1.0);
  Buggify::Scope scope(&buggify);
  EXPECT_EQ(FireCount(1000), 0);
  EXPECT_EQ(KEEL_BUGGIFY_WITH_PROB("test.disabled", 1.0), false);
  EXPECT_TRUE(buggify.FiresBySite().empty());
}

TEST(BuggifyTest, SiteEnablementDependsOnlyOnSeedAndName) {
  // About half the sites are enabled per run, the same ones for the same seed,
  // regardless of the order in which sites are first reached.
  int enabled = 0, same_when_reversed = 0, differs_from_other_seed = 0;
  for (int i = 1; i <= 200; ++i) {
    Buggify forward(env::Rng(7), 0.5), reversed(env::Rng(7), 0.5), other(env::Rng(8), 0.5);
    (void)reversed.SiteEnabled("other.site");  // a different first site
    const std::string name = "core.site_" + std::to_string(i);
    const bool on = forward.SiteEnabled(name);
    enabled += on;
    same_when_reversed += reversed.SiteEnabled(name) == on;
    differs_from_other_seed += other.SiteEnabled(name) != on;
  }
  EXPECT_GT(enabled, 70);
  EXPECT_LT(enabled, 130);
  EXPECT_EQ(same_when_reversed, 200);
  EXPECT_GT(differs_from_other_seed, 50);
}

TEST(BuggifyTest, ASitesDecisionsDoNotDependOnWhereItIs) {
  // The point of names: moving a site (an edit above it, a refactor into another file)
  // keeps its choices.
  auto sequence = [](std::string_view file, int line) {
    Buggify buggify(env::Rng(3), 1.0, 0.5);
    std::string bits;
    for (int i = 0; i < 64; ++i) bits += buggify.Fires("wal.moved", file, line) ? '1' : '0';
    return bits;
  };
  EXPECT_EQ(sequence("storage/wal.cc", 10), sequence("server/server_recovery.cc", 412));
}

TEST(BuggifyTest, FiringSequenceOfASiteIsReproducible) {
  auto sequence = [](uint64_t seed) {
    Buggify buggify(env::Rng(seed), 1.0, 0.5);
    std::string bits;
    for (int i = 0; i < 64; ++i) bits += buggify.Fires("raft.site") ? '1' : '0';
    return bits;
  };
  EXPECT_EQ(sequence(3), sequence(3));
  EXPECT_NE(sequence(3), sequence(4));
}

TEST(BuggifyDeathTest, ANameUsedAtTwoPlacesAborts) {
  EXPECT_DEATH(
      {
        Buggify buggify(env::Rng(1));
        (void)buggify.Fires("dup.name", "a.cc", 1);
        (void)buggify.Fires("dup.name", "b.cc", 2);
      },
      "dup.name.*names must be unique");
}

TEST(BuggifyTest, ScopesNest) {
  Buggify outer(env::Rng(1)), inner(env::Rng(2));
  {
    Buggify::Scope a(&outer);
    {
      Buggify::Scope b(&inner);
      EXPECT_EQ(Buggify::Current(), &inner);
      EXPECT_EQ(internal::buggify_installed.load(), 2);
    }
    EXPECT_EQ(Buggify::Current(), &outer);
  }
  EXPECT_EQ(Buggify::Current(), nullptr);
  EXPECT_EQ(internal::buggify_installed.load(), 0);
}

}  // namespace
}  // namespace keel::env
