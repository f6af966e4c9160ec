#include "sim/bug_switch_setter.h"

#include <set>
#include <string>
#include <type_traits>

#include "gtest/gtest.h"
#include "sim/cluster/bug_zoo.h"

namespace keel::sim {
namespace {

// What keeld's code can do with a BugSwitches: make the default one and copy it. No
// constructor takes bits, so every value outside sim/ is the all-off one.
static_assert(!std::is_constructible_v<env::BugSwitches, uint64_t>);
static_assert(std::is_trivially_copyable_v<env::BugSwitches>);

TEST(BugSwitchSetterTest, DefaultHasEverySwitchOff) {
  const env::BugSwitches none;
  EXPECT_FALSE(none.any());
  for (int i = 0; i < static_cast<int>(env::Bug::kCount); ++i) {
    EXPECT_FALSE(none.on(static_cast<env::Bug>(i))) << env::kBugNames[i];
  }
}

TEST(BugSwitchSetterTest, TurnsOnExactlyTheNamedSwitch) {
  for (int i = 0; i < static_cast<int>(env::Bug::kCount); ++i) {
    env::BugSwitches s;
    ASSERT_TRUE(BugSwitchSetter::TurnOn(env::kBugNames[i], &s).ok());
    for (int j = 0; j < static_cast<int>(env::Bug::kCount); ++j) {
      EXPECT_EQ(s.on(static_cast<env::Bug>(j)), i == j) << env::kBugNames[i] << " vs " << env::kBugNames[j];
    }
  }
}

TEST(BugSwitchSetterTest, NamesAreUniqueAndUnknownNamesAreRefused) {
  std::set<std::string_view> names(std::begin(env::kBugNames), std::end(env::kBugNames));
  EXPECT_EQ(names.size(), static_cast<size_t>(env::Bug::kCount));
  env::BugSwitches s;
  EXPECT_EQ(BugSwitchSetter::TurnOn("no-such-bug", &s).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(s.any());
}

TEST(BugSwitchSetterTest, EverySwitchIsInTheZooAndEveryEntryCanBeTurnedOn) {
  for (std::string_view name : env::kBugNames) {
    EXPECT_NE(FindBug(name), nullptr) << name << " has a switch but no bug_zoo.cc entry";
  }
  for (const BugInfo& b : BugZoo()) {
    // The one entry that is not a core switch is an option of the LevelDB Env adapter
    // (SimCluster::StartNode sets it).
    if (b.name == "leveldb-log-switch-gap") continue;
    EXPECT_TRUE(BugSwitchSetter::Find(b.name).has_value()) << b.name << " has no switch";
  }
}

}  // namespace
}  // namespace keel::sim
