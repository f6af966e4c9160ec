#include "prom/counter_vec.h"

#include <algorithm>

namespace keel::prom {

void CounterVec::Add(const std::vector<std::string>& label_values, uint64_t delta) {
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = series_.find(label_values);
    if (it != series_.end()) {
      it->second.fetch_add(delta, std::memory_order_relaxed);
      return;
    }
  }
  absl::MutexLock lock(&mu_);
  auto it = series_.find(label_values);  // another thread may have created it meanwhile
  if (it == series_.end()) {
    if (series_.size() >= max_series_) {
      dropped_.fetch_add(delta, std::memory_order_relaxed);
      return;
    }
    it = series_.try_emplace(label_values, 0).first;
  }
  it->second.fetch_add(delta, std::memory_order_relaxed);
}

std::vector<std::pair<std::vector<std::string>, uint64_t>> CounterVec::Snapshot() const {
  std::vector<std::pair<std::vector<std::string>, uint64_t>> out;
  {
    absl::ReaderMutexLock lock(&mu_);
    out.reserve(series_.size());
    for (const auto& [labels, value] : series_) {
      out.emplace_back(labels, value.load(std::memory_order_relaxed));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace keel::prom
