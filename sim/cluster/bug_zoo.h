// The bug zoo: classic Raft and etcd bugs that `keelsim --bug=NAME` switches on inside the
// real code paths, to show (and test) that the simulator catches each of them. The switches
// are run-time values in the object code keeld runs too (env/bug_switches.h), off unless
// sim/ turns one on through sim::BugSwitchSetter, which keeld cannot reach.
#ifndef KEEL_SIM_CLUSTER_BUG_ZOO_H_
#define KEEL_SIM_CLUSTER_BUG_ZOO_H_

#include <string>
#include <string_view>
#include <vector>

namespace keel::sim {

struct BugInfo {
  std::string name;
  std::string description;
  // The checkers expected to catch it, as RunResult::checker names them, separated by
  // " / " (the bug-zoo test asserts the first failing seed's checker is one of them).
  std::string caught_by;
  // `keelsim sweep --seeds=1-<bound> --bug=NAME` must fail (bug_zoo_test.sh asserts it).
  // A few times the first failing seed measured when the bound was last set, at most 300
  // (the target); the measured seed is in the comment next to each entry.
  int bound = 300;
};

// Every bug, in a fixed order.
const std::vector<BugInfo>& BugZoo();
const BugInfo* FindBug(std::string_view name);

}  // namespace keel::sim

#endif  // KEEL_SIM_CLUSTER_BUG_ZOO_H_
