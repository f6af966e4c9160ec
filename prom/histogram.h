// A Prometheus histogram as a plain value: fixed upper bounds, one count per bucket, the
// sum and the count of observations. Single-threaded by design: the server core owns its
// histograms on its Loop (server/README.md) and hands out copies in ServerStats, so the
// hot path is an index search and two additions, no atomics and no lock.
//
// Histograms observe, never decide: nothing may branch on their contents (keelsim runs
// stay a function of the seed whatever the clock readings).
#ifndef KEEL_PROM_HISTOGRAM_H_
#define KEEL_PROM_HISTOGRAM_H_

#include <cstdint>
#include <memory>
#include <vector>

namespace keel::prom {

// Upper bounds (the `le` values), strictly increasing and finite; +Inf is implicit.
using Buckets = std::shared_ptr<const std::vector<double>>;

// Prometheus' ExponentialBuckets(start, factor, count) (client_golang), which etcd uses
// for every histogram: start, start*factor, ..., count bounds. CHECKs start > 0,
// factor > 1, count >= 1.
Buckets ExponentialBuckets(double start, double factor, int count);

class Histogram {
 public:
  // CHECKs that `buckets` is non-null, non-empty, finite and strictly increasing.
  explicit Histogram(Buckets buckets);

  void Observe(double value);

  const std::vector<double>& bounds() const { return *buckets_; }
  // Observations <= bounds()[i] (cumulative, as exposed); CumulativeCount(bounds().size())
  // is count().
  uint64_t CumulativeCount(size_t i) const;
  uint64_t count() const { return count_; }
  double sum() const { return sum_; }

 private:
  Buckets buckets_;
  std::vector<uint64_t> per_bucket_;  // bounds().size() + 1 entries; the last is (max, +Inf]
  uint64_t count_ = 0;
  double sum_ = 0;
};

}  // namespace keel::prom

#endif  // KEEL_PROM_HISTOGRAM_H_
