#include "prom/histogram.h"

#include <algorithm>
#include <cmath>

#include "base/check.h"

namespace keel::prom {

Buckets ExponentialBuckets(double start, double factor, int count) {
  KEEL_CHECK(start > 0);
  KEEL_CHECK(factor > 1);
  KEEL_CHECK(count >= 1);
  auto bounds = std::make_shared<std::vector<double>>();
  bounds->reserve(count);
  double bound = start;
  for (int i = 0; i < count; ++i) {
    bounds->push_back(bound);
    bound *= factor;
  }
  return bounds;
}

Histogram::Histogram(Buckets buckets) : buckets_(std::move(buckets)) {
  KEEL_CHECK(buckets_ != nullptr);
  KEEL_CHECK(!buckets_->empty());
  for (size_t i = 0; i < buckets_->size(); ++i) {
    KEEL_CHECK(std::isfinite((*buckets_)[i]));
    if (i > 0) KEEL_CHECK((*buckets_)[i - 1] < (*buckets_)[i]);  // strictly increasing
  }
  per_bucket_.assign(buckets_->size() + 1, 0);
}

void Histogram::Observe(double value) {
  // The first bound >= value is the bucket `le` of which counts it (upper bounds are
  // inclusive); past the last bound it lands in +Inf.
  const size_t i = std::lower_bound(buckets_->begin(), buckets_->end(), value) - buckets_->begin();
  per_bucket_[i]++;
  count_++;
  sum_ += value;
}

uint64_t Histogram::CumulativeCount(size_t i) const {
  KEEL_CHECK(i <= buckets_->size());
  uint64_t total = 0;
  for (size_t b = 0; b <= i; ++b) total += per_bucket_[b];
  return total;
}

}  // namespace keel::prom
