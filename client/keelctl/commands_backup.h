// keelctl snapshot status / restore: the offline snapshot commands (no endpoint needed).
#ifndef KEEL_CLIENT_KEELCTL_COMMANDS_BACKUP_H_
#define KEEL_CLIENT_KEELCTL_COMMANDS_BACKUP_H_

#include "CLI/CLI.hpp"
#include "client/keelctl/command_context.h"

namespace keel::client::keelctl {

// Adds `status` and `restore` under `snapshot`.
void AddSnapshotFileCommands(CLI::App& snapshot, Context& ctx);

}  // namespace keel::client::keelctl

#endif  // KEEL_CLIENT_KEELCTL_COMMANDS_BACKUP_H_
