#include "server/auto_compactor.h"

#include <algorithm>

#include "base/check.h"

namespace keel::server {

AutoCompactor::AutoCompactor(bool periodic, int64_t retention, int64_t start_ns,
                             int64_t start_revision)
    : periodic_(periodic), retention_(retention) {
  KEEL_CHECK(retention > 0);
  if (!periodic_) {
    interval_ns_ = kRevisionIntervalNs;
    return;
  }
  compact_interval_ns_ = std::min(retention, kHourNs);
  interval_ns_ = std::max<int64_t>(1, compact_interval_ns_ / kRetryDivisor);
  base_interval_ns_ = retention;
  last_success_ns_ = start_ns;
  max_samples_ = static_cast<size_t>(retention / interval_ns_) + 1;
  samples_.push_back(start_revision);
}

std::optional<int64_t> AutoCompactor::Tick(int64_t now_ns, int64_t current_revision,
                                           bool is_leader) {
  std::optional<int64_t> compact;
  if (!periodic_) {
    const int64_t target = current_revision - retention_;
    if (is_leader && !in_flight_ && target > 0 && target != last_compacted_) compact = target;
  } else {
    if (is_leader && !in_flight_ && now_ns - last_success_ns_ >= base_interval_ns_) {
      base_interval_ns_ = compact_interval_ns_;  // after the first, every min(P, 1h)
      compact = samples_.front();
    }
    samples_.push_back(current_revision);
    if (samples_.size() > max_samples_) samples_.pop_front();
    KEEL_CHECK(samples_.size() <= max_samples_);
  }
  in_flight_ = compact;
  return compact;
}

void AutoCompactor::Done(int64_t now_ns, bool ok) {
  KEEL_CHECK(in_flight_.has_value());
  if (ok) {
    last_success_ns_ = now_ns;
    last_compacted_ = *in_flight_;
  }
  in_flight_.reset();
}

}  // namespace keel::server
