// BugSwitches: keelsim's bug zoo (sim/cluster/bug_zoo.h) as run-time switches inside the
// one object code that keeld and keelsim both link.
//
// Each switch turns on one deliberate, classic Raft or etcd bug at a marked site in the
// core. A default-constructed BugSwitches has every switch off, and nothing outside sim/
// can make one that is not: the only mutator is sim::BugSwitchSetter (sim/
// bug_switch_setter.h), a friend whose Bazel target is visible to sim/ only, and keeld's
// dependency closure contains no sim/ target (//server:keeld_has_no_bug_setter_test).
// keeld has no flag for them. A site costs one load, one bit test and one branch that is
// never taken in production (measured: sim/README.md, "Bug zoo").
//
// A site reads:   if (config_.bugs.on(env::Bug::kServerStaleRead)) local = true;
//
// Adding (or converting a plain-bool entry into) a switch is mechanical:
//   1. add one X(...) line below: the enum name and the zoo name (`keelsim --bug=NAME`);
//   2. at the site, test `bugs.on(env::Bug::kName)` on the BugSwitches the component was
//      given (raft::Config::bugs, server::ServerConfig::bugs, or one the server passes
//      down into a component's options), with no #ifdef;
//   3. add the entry's description and bound to sim/cluster/bug_zoo.cc (the zoo test
//      checks that every switch has an entry and every entry a switch or an env option).
// sim/cluster/cluster.cc needs no change: it turns a zoo name on through the setter.
//
// Header only and free of dependencies: raft/ (which must stay pure) reads it too.
#ifndef KEEL_ENV_BUG_SWITCHES_H_
#define KEEL_ENV_BUG_SWITCHES_H_

#include <cstdint>
#include <string_view>

// X(enum name, zoo name). The order is free; the zoo lists entries in its own order.
#define KEEL_BUG_SWITCHES(X)                                               \
  X(kRaftCommitOldTerm, "raft-commit-old-term")                            \
  X(kRaftSkipAppendCheck, "raft-skip-append-check")                        \
  X(kRaftVoteAnyLog, "raft-vote-any-log")                                  \
  X(kRaftForgetVote, "raft-forget-vote")                                   \
  X(kRaftLearnerAcksCount, "raft-learner-acks-count")                      \
  X(kServerAckBeforeCommit, "server-ack-before-commit")                    \
  X(kServerStaleRead, "server-stale-read")                                 \
  X(kServerIndexBeforeApply, "server-index-before-apply")                  \
  X(kServerFollowerLeaseExpiry, "server-follower-lease-expiry")            \
  X(kServerSkipWal, "server-skip-wal")                                     \
  X(kServerReadBeforeApply, "server-read-before-apply")                    \
  X(kServerLeaseRevokeKeepsKey, "server-lease-revoke-keeps-key")           \
  X(kServerWatchSkipEvent, "server-watch-skip-event")                      \
  X(kKvTxnPartialApply, "kv-txn-partial-apply")                            \
  X(kKvWatchSkipCompaction, "kv-watch-skip-compaction")                    \
  X(kLeaseKeepaliveIgnored, "lease-keepalive-ignored")                     \
  X(kRaftConfChangeAtPropose, "raft-confchange-at-propose")                \
  X(kWalIgnoreSyncError, "wal-ignore-fsync-error")                         \
  X(kServerRemovedLeaderLeads, "server-removed-leader-leads")              \
  X(kLeaseWallClockExpiry, "lease-wall-clock-expiry")

namespace keel::sim {
class BugSwitchSetter;
}  // namespace keel::sim

namespace keel::env {

enum class Bug : uint8_t {
#define KEEL_BUG_ENUM_(id, name) id,
  KEEL_BUG_SWITCHES(KEEL_BUG_ENUM_)
#undef KEEL_BUG_ENUM_
  kCount
};
static_assert(static_cast<int>(Bug::kCount) <= 64, "BugSwitches holds 64 switches");

// The zoo name of each switch, indexed by Bug.
inline constexpr std::string_view kBugNames[] = {
#define KEEL_BUG_NAME_(id, name) name,
    KEEL_BUG_SWITCHES(KEEL_BUG_NAME_)
#undef KEEL_BUG_NAME_
};

class BugSwitches {
 public:
  constexpr BugSwitches() = default;

  bool on(Bug bug) const { return (bits_ >> static_cast<unsigned>(bug)) & 1u; }
  bool any() const { return bits_ != 0; }

 private:
  friend class ::keel::sim::BugSwitchSetter;
  uint64_t bits_ = 0;
};

}  // namespace keel::env

#endif  // KEEL_ENV_BUG_SWITCHES_H_
