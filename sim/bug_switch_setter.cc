#include "sim/bug_switch_setter.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace keel::sim {

std::optional<env::Bug> BugSwitchSetter::Find(std::string_view name) {
  for (int i = 0; i < static_cast<int>(env::Bug::kCount); ++i) {
    if (env::kBugNames[i] == name) return static_cast<env::Bug>(i);
  }
  return std::nullopt;
}

void BugSwitchSetter::TurnOn(env::Bug bug, env::BugSwitches* switches) {
  switches->bits_ |= uint64_t{1} << static_cast<unsigned>(bug);
}

absl::Status BugSwitchSetter::TurnOn(std::string_view name, env::BugSwitches* switches) {
  std::optional<env::Bug> bug = Find(name);
  if (!bug.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat("unknown bug ", std::string(name)));
  }
  TurnOn(*bug, switches);
  return absl::OkStatus();
}

}  // namespace keel::sim
