// The Raft-level swarm (raft_swarm.h): correct raft/ passes it, it replays bit for bit, and
// it really reaches what it exists for (joint configurations entered and left, both ways).
#include "sim/cluster/raft_swarm.h"

#include <cstdint>
#include <map>
#include <string>

#include "gtest/gtest.h"

namespace keel::sim {
namespace {

TEST(RaftSwarm, PassesReplaysAndEntersAndLeavesJointConfigurations) {
  std::map<std::string, uint64_t> total;
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    const RaftSwarmResult first = RunRaftSwarm(seed, nullptr);
    ASSERT_FALSE(first.violation.has_value())
        << "seed " << seed << " " << first.summary << ": " << first.violation->property << ": "
        << first.violation->message;
    const RaftSwarmResult again = RunRaftSwarm(seed, nullptr);
    EXPECT_EQ(first.trace_hash, again.trace_hash) << "seed " << seed;
    EXPECT_EQ(first.events, again.events) << "seed " << seed;
    for (const auto& [name, n] : first.coverage) total[name] += n;
  }
  EXPECT_EQ(total["swarm.runs"], 8u);
  EXPECT_GT(total["swarm.joint_entered_auto"], 0u);
  EXPECT_GT(total["swarm.joint_entered_explicit"], 0u);
  EXPECT_GT(total["swarm.leave_joint_proposed"], 0u);
  EXPECT_GT(total["raft.joint_left"], 0u);
  EXPECT_GT(total["swarm.joint_commits_checked"], 0u);
  EXPECT_GT(total["raft.leader_transfers"], 0u);
  EXPECT_GT(total["swarm.fault.crash"], 0u);
}

}  // namespace
}  // namespace keel::sim
