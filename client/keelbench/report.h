// Latency statistics and the report format of etcd's tools/benchmark: summary, response
// time histogram, latency percentiles (including p99.9), and errors by code.
#ifndef KEEL_CLIENT_KEELBENCH_REPORT_H_
#define KEEL_CLIENT_KEELBENCH_REPORT_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace keel::client::keelbench {

// Thread-safe collector. Capacity is fixed up front so recording never allocates.
class Recorder {
 public:
  explicit Recorder(size_t capacity) { latencies_s_.reserve(capacity); }
  void Success(absl::Duration latency);
  void Error(const std::string& code);
  int64_t successes() const;
  int64_t errors() const;
  int64_t done() const { return successes() + errors(); }

  // The text report. `elapsed` is the wall time of the whole run.
  std::string Render(const std::string& title, absl::Duration elapsed) const;

 private:
  mutable absl::Mutex mu_;
  std::vector<double> latencies_s_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t> errors_ ABSL_GUARDED_BY(mu_);  // ordered: stable output
  int64_t error_count_ ABSL_GUARDED_BY(mu_) = 0;
};

// p in [0, 100]; nearest-rank on a sorted vector. 0 when empty.
double Percentile(const std::vector<double>& sorted, double p);

}  // namespace keel::client::keelbench

#endif  // KEEL_CLIENT_KEELBENCH_REPORT_H_
