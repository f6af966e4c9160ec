// The bug zoo: classic Raft and etcd bugs that `keelsim --bug=NAME` switches on inside the
// real code paths, to show (and test) that the simulator catches each of them. The switches
// exist only in simulation builds (KEEL_SIMULATION); keeld's code has none of them.
#ifndef KEEL_SIM_CLUSTER_BUG_ZOO_H_
#define KEEL_SIM_CLUSTER_BUG_ZOO_H_

#include <string>
#include <string_view>
#include <vector>

namespace keel::sim {

struct BugInfo {
  std::string name;
  std::string description;
  // The checker expected to catch it (documentation and the bug-zoo test's assertion).
  std::string caught_by;
};

// Every bug, in a fixed order.
const std::vector<BugInfo>& BugZoo();
const BugInfo* FindBug(std::string_view name);

}  // namespace keel::sim

#endif  // KEEL_SIM_CLUSTER_BUG_ZOO_H_
