// keeld is built from :server and :raft, never the *_sim variants: the bug-zoo switches of
// keelsim must not exist there at all (not merely be off). Checked at compile time.
#include <type_traits>
#include <utility>

#include "gtest/gtest.h"
#include "raft/config.h"
#include "server/config.h"

namespace {

template <typename T, typename = void>
struct HasBugSwitches : std::false_type {};
template <typename T>
struct HasBugSwitches<T, std::void_t<decltype(std::declval<T>().bugs)>> : std::true_type {};

static_assert(!HasBugSwitches<keel::server::ServerConfig>::value,
              "the production server core must not carry keelsim's bug switches");
static_assert(!HasBugSwitches<keel::raft::Config>::value,
              "production Raft must not carry keelsim's bug switches");

TEST(NoBugSwitchesTest, ProductionConfigsHaveNoBugFields) {
#ifdef KEEL_SIMULATION
  FAIL() << "this test must be built without KEEL_SIMULATION";
#endif
  EXPECT_FALSE(HasBugSwitches<keel::server::ServerConfig>::value);
  EXPECT_FALSE(HasBugSwitches<keel::raft::Config>::value);
}

}  // namespace
