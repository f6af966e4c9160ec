#include "client/keelbench/report.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace keel::client::keelbench {

void Recorder::Success(absl::Duration latency) {
  absl::MutexLock lock(&mu_);
  // Capacity is the planned request count; a surplus sample would mean double counting.
  if (latencies_s_.size() < latencies_s_.capacity()) latencies_s_.push_back(absl::ToDoubleSeconds(latency));
}

void Recorder::Error(const std::string& code) {
  absl::MutexLock lock(&mu_);
  ++errors_[code];
  ++error_count_;
}

int64_t Recorder::successes() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(latencies_s_.size());
}

int64_t Recorder::errors() const {
  absl::MutexLock lock(&mu_);
  return error_count_;
}

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  // The epsilon keeps 99.9% of 1000 at rank 999 despite binary floating point.
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size()) - 1e-9));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

std::string Recorder::Render(const std::string& title, absl::Duration elapsed) const {
  std::vector<double> sorted;
  std::map<std::string, int64_t> errors;
  {
    absl::MutexLock lock(&mu_);
    sorted = latencies_s_;
    errors = errors_;
  }
  std::sort(sorted.begin(), sorted.end());
  const double total_s = absl::ToDoubleSeconds(elapsed);
  const double n = static_cast<double>(sorted.size());
  double avg = n > 0 ? std::accumulate(sorted.begin(), sorted.end(), 0.0) / n : 0;
  double var = 0;
  for (double v : sorted) var += (v - avg) * (v - avg);
  double stddev = n > 0 ? std::sqrt(var / n) : 0;
  std::string out = title.empty() ? "" : title + "\n";
  absl::StrAppend(&out, "Summary:\n");
  absl::StrAppendFormat(&out, "  Total:\t%.4f secs.\n", total_s);
  absl::StrAppendFormat(&out, "  Slowest:\t%.4f secs.\n", n > 0 ? sorted.back() : 0.0);
  absl::StrAppendFormat(&out, "  Fastest:\t%.4f secs.\n", n > 0 ? sorted.front() : 0.0);
  absl::StrAppendFormat(&out, "  Average:\t%.4f secs.\n", avg);
  absl::StrAppendFormat(&out, "  Stddev:\t%.4f secs.\n", stddev);
  absl::StrAppendFormat(&out, "  Requests/sec:\t%.4f\n", total_s > 0 ? n / total_s : 0.0);
  absl::StrAppendFormat(&out, "  Succeeded:\t%d\n", sorted.size());
  int64_t error_total = 0;
  for (const auto& [code, count] : errors) error_total += count;
  absl::StrAppendFormat(&out, "  Failed:\t%d\n", error_total);
  if (n > 0) {
    // Ten equal-width buckets from fastest to slowest, bars scaled to the largest bucket.
    constexpr int kBuckets = 10;
    double lo = sorted.front(), hi = sorted.back(), width = (hi - lo) / kBuckets;
    std::vector<int64_t> counts(kBuckets + 1, 0);
    for (double v : sorted) {
      int b = width > 0 ? std::min<int>(kBuckets, static_cast<int>((v - lo) / width)) : 0;
      ++counts[b];
    }
    int64_t max_count = *std::max_element(counts.begin(), counts.end());
    absl::StrAppend(&out, "\nResponse time histogram:\n");
    for (int b = 0; b <= kBuckets; ++b) {
      int bar = max_count > 0 ? static_cast<int>(40 * counts[b] / max_count) : 0;
      absl::StrAppendFormat(&out, "  %.4f [%d]\t|%s\n", lo + width * b, counts[b], std::string(bar, '*'));
    }
    absl::StrAppend(&out, "\nLatency distribution:\n");
    for (double p : {10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9}) {
      absl::StrAppendFormat(&out, "  %g%% in %.4f secs.\n", p, Percentile(sorted, p));
    }
  }
  if (!errors.empty()) {
    absl::StrAppend(&out, "\nErrors by code:\n");
    for (const auto& [code, count] : errors) absl::StrAppendFormat(&out, "  %s: %d\n", code, count);
  }
  return out;
}

}  // namespace keel::client::keelbench
