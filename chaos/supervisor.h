// The processes keelchaos starts (cluster members), and the promise that none outlives it.
//
// Every child is recorded in a fixed table that a signal handler can read. The children die
// with keelchaos however it ends:
//   - normal exit or a failed CHECK/abort path that reaches exit(): an atexit hook kills them;
//   - SIGINT / SIGTERM / SIGHUP: the handler SIGKILLs every child, then _exit(128 + signo);
//   - keelchaos itself killed with SIGKILL: each child has PR_SET_PDEATHSIG(SIGKILL).
// Each child runs in its own process group (setpgid), so a Ctrl-C on the terminal reaches
// keelchaos only and the harness decides what the members see.
//
// PR_SET_PDEATHSIG fires when the *thread* that forked exits, so Spawn must be called from
// the main thread (keelchaos's scheduler), which lives as long as the process.
#ifndef KEEL_CHAOS_SUPERVISOR_H_
#define KEEL_CHAOS_SUPERVISOR_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace keel::chaos {

// Installs the signal handlers and the atexit hook. Call once from main before Spawn.
void InstallChildReaper();

// Starts argv[0] (a path) with argv, this process's environment plus `extra_env`
// ("NAME=value"), stdin from /dev/null, stdout+stderr appended to log_path. Fails when the
// table of children is full or fork fails.
absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv, const std::string& log_path,
                            const std::vector<std::string>& extra_env = {});

// SIGKILL (and SIGCONT, so a stopped child can die), reap, forget. No-op for pid <= 0.
void KillChild(pid_t pid);

// True if the child has exited (reaps it and forgets it); false while it runs.
bool ChildExited(pid_t pid, int* wait_status);

// Kills every child still recorded. Async-signal-safe.
void KillAllChildren();

}  // namespace keel::chaos

#endif  // KEEL_CHAOS_SUPERVISOR_H_
