// The one way to turn a bug-zoo switch on (env/bug_switches.h). Its Bazel target is
// visible to sim/ only, and keeld's dependency closure holds no sim/ target, so keeld
// cannot turn a bug on (//server:keeld_has_no_bug_setter_test checks the closure).
#ifndef KEEL_SIM_BUG_SWITCH_SETTER_H_
#define KEEL_SIM_BUG_SWITCH_SETTER_H_

#include <optional>
#include <string_view>

#include "absl/status/status.h"
#include "env/bug_switches.h"

namespace keel::sim {

class BugSwitchSetter {
 public:
  // The switch a zoo name (`keelsim --bug=NAME`) names, if it is a switch.
  static std::optional<env::Bug> Find(std::string_view name);
  // Turns on the switch `name` names; InvalidArgument for a name that is no switch.
  static absl::Status TurnOn(std::string_view name, env::BugSwitches* switches);
  static void TurnOn(env::Bug bug, env::BugSwitches* switches);
};

}  // namespace keel::sim

#endif  // KEEL_SIM_BUG_SWITCH_SETTER_H_
