// Runs a sweep's seeds in worker processes, so that a seed which brings its process down
// (a failed Raft invariant or KEEL_SIM_CHECK aborting, a segfault, an out-of-memory kill)
// is reported as that seed's failure and the sweep goes on. With threads, the first such
// seed would end the whole sweep and lose every result still in flight; in a sharded
// sweep, the shard's verdict with it. Finding a crash is finding a bug.
//
// Protocol (line-oriented, one item in flight per worker): the parent writes an item (a
// seed) and a newline to the worker's stdin; the worker answers with exactly one line on
// its stdout. A worker whose stdout ends before it answers has crashed on that item: the
// parent reaps it, reports the item with the exit status and the tail of the worker's
// stderr (where abort messages go), and starts a replacement for the remaining items.
//
// The parent is single-threaded and only spawns (posix_spawn of `argv`, no fork of a
// running simulation). Every buffer is bounded: an answer longer than kMaxLineBytes, or a
// worker that cannot be started, is an error.
#ifndef KEEL_SIM_KEELSIM_WORKER_POOL_H_
#define KEEL_SIM_KEELSIM_WORKER_POOL_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"

namespace keel::sim {

struct WorkerPoolOptions {
  // The worker's command line; argv[0] is a path (e.g. /proc/self/exe).
  std::vector<std::string> argv;
  int workers = 1;
  // How much of a crashed worker's stderr is kept for its report.
  size_t stderr_tail_bytes = 2048;
};

// What became of one item: its answer line, or how its worker died.
struct WorkerOutcome {
  bool crashed = false;
  std::string line;   // !crashed: the worker's answer, without the newline
  std::string crash;  // crashed: "killed by signal 6 (Aborted): <last stderr line>"
};

inline constexpr size_t kMaxLineBytes = size_t{1} << 20;

// Hands out `items` in order to up to `options.workers` workers and calls `on_outcome`
// in this thread as each item finishes, in completion order. Returning false from
// `on_outcome` hands out no more items; items already running still finish and are
// reported. Returns an error only if the pool itself fails (cannot start a worker, an
// over-long answer, a worker that answers twice); item crashes are outcomes.
absl::Status RunInWorkers(const WorkerPoolOptions& options, const std::vector<std::string>& items,
                          absl::FunctionRef<bool(const std::string& item, const WorkerOutcome&)>
                              on_outcome);

}  // namespace keel::sim

#endif  // KEEL_SIM_KEELSIM_WORKER_POOL_H_
