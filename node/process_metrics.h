// client_golang's process collector (process_*), which etcd 3.4 exports, read from Linux'
// /proc/self the way client_golang's procfs does.
#ifndef KEEL_NODE_PROCESS_METRICS_H_
#define KEEL_NODE_PROCESS_METRICS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "prom/exposition.h"

namespace keel::node {

struct ProcessMetrics {
  double cpu_seconds = 0;          // utime + stime
  double start_time_seconds = 0;   // since the Unix epoch
  uint64_t resident_memory_bytes = 0;
  uint64_t virtual_memory_bytes = 0;
  uint64_t open_fds = 0;
  uint64_t max_fds = 0;            // RLIMIT_NOFILE soft limit
};

absl::StatusOr<ProcessMetrics> ReadProcessMetrics();

// Pure parts, for tests: /proc/<pid>/stat's text and /proc/stat's btime line.
absl::StatusOr<ProcessMetrics> ParseProcStat(const std::string& stat, uint64_t boot_time_seconds,
                                             long clock_ticks_per_second, long page_size_bytes);

void RenderProcessMetrics(const ProcessMetrics& p, prom::ExpositionWriter* w);

}  // namespace keel::node

#endif  // KEEL_NODE_PROCESS_METRICS_H_
