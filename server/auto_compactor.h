// Auto-compaction as etcd 3.4's compactor package (--auto-compaction-mode and
// --auto-compaction-retention), as a pure state machine on the caller's clock: the server
// calls Tick every interval_ns() of its Loop clock (simulated in keelsim, real in keeld)
// and proposes a Compact for the revision it returns, through the ordinary Compact path.
// Only the leader compacts: on a follower Tick still samples revisions (as etcd's paused
// compactor keeps sampling) but returns nothing.
//
// periodic, retention P (etcd compactor/periodic.go): a revision sample every
// min(P, 1h) / 10; the first compaction once P has passed since start, then one every
// min(P, 1h) after the last success, each to the revision sampled P ago (the oldest of
// the last P / sample-interval + 1 samples). A failed compaction is retried at the next
// sample.
// revision, retention N (compactor/revision.go): every 5 minutes, compact to
// current - N unless that is <= 0 or the revision already compacted to.
#ifndef KEEL_SERVER_AUTO_COMPACTOR_H_
#define KEEL_SERVER_AUTO_COMPACTOR_H_

#include <cstdint>
#include <deque>
#include <optional>

namespace keel::server {

class AutoCompactor {
 public:
  // retention: nanoseconds (periodic) or revisions (revision mode); must be > 0.
  AutoCompactor(bool periodic, int64_t retention, int64_t start_ns, int64_t start_revision);

  // How often Tick must be called.
  int64_t interval_ns() const { return interval_ns_; }
  // One step at `now_ns`; the revision to compact now, if any. Call Done with the outcome
  // before the next Tick (a Tick while one is outstanding returns nothing).
  std::optional<int64_t> Tick(int64_t now_ns, int64_t current_revision, bool is_leader);
  // The compaction Tick asked for finished: `ok` also for "already compacted" (etcd's
  // ErrCompacted counts as success).
  void Done(int64_t now_ns, bool ok);

 private:
  static constexpr int64_t kHourNs = int64_t{3600} * 1'000'000'000;
  static constexpr int64_t kRevisionIntervalNs = int64_t{300} * 1'000'000'000;
  static constexpr int kRetryDivisor = 10;

  const bool periodic_;
  const int64_t retention_;
  int64_t interval_ns_ = 0;
  // periodic
  int64_t compact_interval_ns_ = 0;
  int64_t base_interval_ns_ = 0;
  int64_t last_success_ns_ = 0;
  size_t max_samples_ = 0;
  std::deque<int64_t> samples_;  // bounded by max_samples_ (<= 11)
  // revision
  int64_t last_compacted_ = 0;
  std::optional<int64_t> in_flight_;
};

}  // namespace keel::server

#endif  // KEEL_SERVER_AUTO_COMPACTOR_H_
