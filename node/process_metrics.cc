#include "node/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace keel::node {
namespace {

absl::StatusOr<std::string> ReadWholeFile(const char* path) {
  std::ifstream in(path);
  if (!in) return absl::UnavailableError(std::string("cannot read ") + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::StatusOr<uint64_t> BootTimeSeconds() {
  absl::StatusOr<std::string> stat = ReadWholeFile("/proc/stat");
  if (!stat.ok()) return stat.status();
  for (absl::string_view line : absl::StrSplit(*stat, '\n')) {
    if (!absl::ConsumePrefix(&line, "btime ")) continue;
    uint64_t btime = 0;
    if (absl::SimpleAtoi(line, &btime)) return btime;
  }
  return absl::UnavailableError("no btime in /proc/stat");
}

uint64_t CountOpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  uint64_t n = 0;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n > 0 ? n - 1 : 0;  // not the descriptor opendir itself holds
}

}  // namespace

absl::StatusOr<ProcessMetrics> ParseProcStat(const std::string& stat, uint64_t boot_time_seconds,
                                             long clock_ticks_per_second, long page_size_bytes) {
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so fields are
  // counted after the LAST ')'. Field numbers as proc(5): utime 14, stime 15,
  // starttime 22, vsize 23, rss 24.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return absl::InvalidArgumentError("malformed /proc/self/stat");
  std::vector<std::string> fields = absl::StrSplit(stat.substr(close + 1), ' ', absl::SkipEmpty());
  // fields[0] is field 3 (state).
  auto field = [&fields](int number, uint64_t* out) {
    const size_t i = static_cast<size_t>(number - 3);
    return i < fields.size() && absl::SimpleAtoi(fields[i], out);
  };
  uint64_t utime = 0, stime = 0, start = 0, vsize = 0, rss = 0;
  if (!field(14, &utime) || !field(15, &stime) || !field(22, &start) || !field(23, &vsize) ||
      !field(24, &rss)) {
    return absl::InvalidArgumentError("malformed /proc/self/stat");
  }
  ProcessMetrics p;
  const double hz = static_cast<double>(clock_ticks_per_second);
  p.cpu_seconds = static_cast<double>(utime + stime) / hz;
  p.start_time_seconds = static_cast<double>(boot_time_seconds) + static_cast<double>(start) / hz;
  p.virtual_memory_bytes = vsize;
  p.resident_memory_bytes = rss * static_cast<uint64_t>(page_size_bytes);
  return p;
}

absl::StatusOr<ProcessMetrics> ReadProcessMetrics() {
  absl::StatusOr<std::string> stat = ReadWholeFile("/proc/self/stat");
  if (!stat.ok()) return stat.status();
  absl::StatusOr<uint64_t> btime = BootTimeSeconds();
  if (!btime.ok()) return btime.status();
  absl::StatusOr<ProcessMetrics> p =
      ParseProcStat(*stat, *btime, sysconf(_SC_CLK_TCK), sysconf(_SC_PAGESIZE));
  if (!p.ok()) return p;
  p->open_fds = CountOpenFds();
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) p->max_fds = limit.rlim_cur;
  return p;
}

void RenderProcessMetrics(const ProcessMetrics& p, prom::ExpositionWriter* w) {
  using prom::MetricType;
  w->Family("process_cpu_seconds_total", MetricType::kCounter,
            "Total user and system CPU time spent in seconds.");
  w->Sample({}, p.cpu_seconds);
  w->Family("process_max_fds", MetricType::kGauge, "Maximum number of open file descriptors.");
  w->Sample({}, static_cast<double>(p.max_fds));
  w->Family("process_open_fds", MetricType::kGauge, "Number of open file descriptors.");
  w->Sample({}, static_cast<double>(p.open_fds));
  w->Family("process_resident_memory_bytes", MetricType::kGauge, "Resident memory size in bytes.");
  w->Sample({}, static_cast<double>(p.resident_memory_bytes));
  w->Family("process_start_time_seconds", MetricType::kGauge,
            "Start time of the process since unix epoch in seconds.");
  w->Sample({}, p.start_time_seconds);
  w->Family("process_virtual_memory_bytes", MetricType::kGauge, "Virtual memory size in bytes.");
  w->Sample({}, static_cast<double>(p.virtual_memory_bytes));
}

}  // namespace keel::node
