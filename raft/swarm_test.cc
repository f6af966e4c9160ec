// Swarm testing (in the spirit of TigerBeetle's VOPR): each seed picks its own cluster
// size, features and fault mix, runs a safety phase under faults with the Figure 3
// checker after every step, then a liveness phase in which faults stop and the healed
// cluster must commit a new entry on every node.
//
// KEEL_RAFT_SWARM_SEEDS=<n> runs more seeds (default 2000); KEEL_RAFT_SWARM_SEED=<s> runs
// exactly one seed (to replay a failure, the test prints this command).
#include <cstdlib>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "raft/testing/cluster.h"

namespace keel::raft {
namespace {

using testing::Cluster;
using testing::ClusterOptions;

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  uint64_t out = 0;
  return v != nullptr && absl::SimpleAtoi(v, &out) ? out : fallback;
}

// Returns "" on success, else a description of the failure.
std::string RunSeed(uint64_t seed) {
  SplitMix64Source pick(seed ^ 0x5eed5eed5eedULL);
  ClusterOptions o;
  o.seed = seed;
  o.num_nodes = pick.Uniform(2) == 0 ? 3 : 5;
  o.pre_vote = pick.Uniform(2) == 0;
  o.check_quorum = pick.Uniform(2) == 0;
  o.drop_rate = pick.Uniform(3) == 0 ? 0 : static_cast<double>(pick.Uniform(20)) / 100;
  o.long_delay_rate = pick.Uniform(3) == 0 ? 0.02 : 0;
  o.long_delay_slots = 100;
  o.max_delay_slots = 1 + static_cast<int>(pick.Uniform(6));
  o.snapshot_every = pick.Uniform(2) == 0 ? 0 : 3 + pick.Uniform(15);
  o.crash_mid_ready_rate = pick.Uniform(3) == 0 ? 0.002 : 0;
  o.max_size_per_msg = pick.Uniform(2) == 0 ? 1 << 20 : 0;
  o.max_inflight_msgs = pick.Uniform(2) == 0 ? 256 : 2;
  const uint64_t crash_per_mille = pick.Uniform(4) * 3;
  const uint64_t partition_per_mille = pick.Uniform(4) * 3;
  // Membership churn: demote voters to learners and promote them back, alone (simple
  // change) or two at once (joint consensus, left automatically).
  const uint64_t conf_change_per_mille = pick.Uniform(3) == 0 ? 0 : 5 + pick.Uniform(10);
  Cluster c(o);

  // Safety phase.
  int cmd = 0;
  for (int slot = 0; slot < 600; ++slot) {
    SplitMix64Source& r = c.rng();
    if (r.Uniform(10) == 0) {
      const uint64_t id = 1 + r.Uniform(o.num_nodes);
      c.Start(id, absl::StrCat("s", seed, "-", cmd++));
    }
    if (r.Uniform(1000) < crash_per_mille) {
      const uint64_t id = 1 + r.Uniform(o.num_nodes);
      if (c.alive(id)) {
        c.Crash(id);
      } else {
        c.Restart(id);
      }
    }
    if (r.Uniform(1000) < conf_change_per_mille) {
      for (uint64_t leader = 1; leader <= static_cast<uint64_t>(o.num_nodes); ++leader) {
        if (!c.is_leader(leader)) continue;
        raftpb::ConfChangeV2 cc;
        const int changes = r.Uniform(4) == 0 ? 2 : 1;
        for (int k = 0; k < changes; ++k) {
          // Never demote the leader itself (etcd does not either).
          const uint64_t target = 1 + (leader + r.Uniform(o.num_nodes - 1)) % o.num_nodes;
          raftpb::ConfChangeSingle* ch = cc.add_changes();
          ch->set_node_id(target);
          ch->set_type(r.Uniform(2) == 0 ? raftpb::ConfChangeAddLearnerNode
                                         : raftpb::ConfChangeAddNode);
        }
        c.ProposeConfChange(leader, cc);
      }
    }
    if (r.Uniform(1000) < 3) {
      const uint64_t id = 1 + r.Uniform(o.num_nodes);
      c.TransferLeader(id, 1 + r.Uniform(o.num_nodes));
    }
    if (r.Uniform(1000) < partition_per_mille) {
      const uint64_t id = 1 + r.Uniform(o.num_nodes);
      if (c.connected(id)) {
        c.Disconnect(id);
      } else {
        c.Connect(id);
      }
    }
    c.Step();
    if (!c.violation().empty()) return c.violation();
  }

  // Liveness phase: heal everything; the cluster must converge.
  c.SetDropRate(0);
  c.SetLongDelayRate(0);
  c.SetCrashMidReadyRate(0);
  for (uint64_t id = 1; id <= static_cast<uint64_t>(o.num_nodes); ++id) {
    if (!c.alive(id)) c.Restart(id);
    c.Connect(id);
  }
  auto index = c.One("final", o.num_nodes, true);
  if (!c.violation().empty()) return c.violation();
  if (!index) {
    return "liveness: healed cluster did not commit on all nodes\n" + c.DebugString();
  }
  return "";
}

void RunSeeds(uint64_t first, uint64_t last) {
  int failures = 0;
  for (uint64_t seed = first; seed <= last && failures < 5; ++seed) {
    const std::string failure = RunSeed(seed);
    if (!failure.empty()) {
      ++failures;
      ADD_FAILURE() << "seed " << seed << ": " << failure << "\n  replay: KEEL_RAFT_SWARM_SEED="
                    << seed << " bazel test //raft:swarm_test";
    }
  }
}

// The seed range is split in two tests so Bazel can run them as parallel shards.
TEST(Swarm, SafetyAndLivenessFirstHalf) {
  const uint64_t only = EnvOr("KEEL_RAFT_SWARM_SEED", 0);
  if (only != 0) {
    RunSeeds(only, only);
    return;
  }
  RunSeeds(1, EnvOr("KEEL_RAFT_SWARM_SEEDS", 2000) / 2);
}

TEST(Swarm, SafetyAndLivenessSecondHalf) {
  if (EnvOr("KEEL_RAFT_SWARM_SEED", 0) != 0) return;  // Replaying one seed: first half does it.
  const uint64_t total = EnvOr("KEEL_RAFT_SWARM_SEEDS", 2000);
  RunSeeds(total / 2 + 1, total);
}

TEST(Swarm, SameSeedSameRun) {
  // Determinism: one seed, two runs, identical outcomes and message counts.
  for (uint64_t seed : {7u, 8u}) {
    ClusterOptions o;
    o.seed = seed;
    o.num_nodes = 5;
    o.drop_rate = 0.1;
    Cluster a(o), b(o);
    for (int i = 0; i < 20; ++i) {
      a.Start(1 + i % 5, absl::StrCat(i));
      b.Start(1 + i % 5, absl::StrCat(i));
      a.Run(30);
      b.Run(30);
    }
    EXPECT_EQ(a.messages_sent(), b.messages_sent());
    EXPECT_EQ(a.bytes_sent(), b.bytes_sent());
    EXPECT_EQ(a.checker().max_applied_index(), b.checker().max_applied_index());
    for (uint64_t id = 1; id <= 5; ++id) EXPECT_EQ(a.term(id), b.term(id));
  }
}

}  // namespace
}  // namespace keel::raft
