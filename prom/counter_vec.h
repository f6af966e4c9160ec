// A family of counters keyed by label values, shared by many threads (gRPC's): the
// per-call cost is one reader-locked hash lookup and one relaxed atomic add; the writer
// lock is taken only the first time a label combination appears.
//
// Bounded: at most `max_series` combinations; increments of further new combinations are
// dropped and counted in dropped() (a client calling made-up method names must not grow
// the scrape without limit).
#ifndef KEEL_PROM_COUNTER_VEC_H_
#define KEEL_PROM_COUNTER_VEC_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/node_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace keel::prom {

class CounterVec {
 public:
  explicit CounterVec(size_t max_series) : max_series_(max_series) {}

  // Label values in a fixed order known to the caller (the label names live with it).
  void Add(const std::vector<std::string>& label_values, uint64_t delta = 1);
  // Every combination seen, sorted by label values (a stable scrape order).
  std::vector<std::pair<std::vector<std::string>, uint64_t>> Snapshot() const;
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  const size_t max_series_;
  mutable absl::Mutex mu_;
  // node_hash_map: the atomics never move once created, so adds need only the reader lock.
  absl::node_hash_map<std::vector<std::string>, std::atomic<uint64_t>> series_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint64_t> dropped_{0};
};

}  // namespace keel::prom

#endif  // KEEL_PROM_COUNTER_VEC_H_
