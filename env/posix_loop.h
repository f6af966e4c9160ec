// PosixLoop: the real Loop. One thread runs every callback; the clock is steady_clock.
//
// Ordering: posted callbacks run in the order Post() returned (FIFO); timers run in order
// of (deadline, insertion sequence), so equal deadlines fire in the order they were added.
// Each wake-up runs the posted callbacks that were queued when it woke, then the timers due
// at that instant, so neither starves the other.
//
// Shutdown rule: Stop() (or the destructor) lets the callback that is running finish, then
// runs nothing more. Callbacks still queued, timers not yet fired, and anything posted or
// scheduled after Stop() began are destroyed without running (their captures are released
// on the thread that called Stop, or on the posting thread for late posts). Code that must
// observe completion therefore stops producers (transport, file system) before the Loop.
//
// Bounds: Post never blocks, so it is safe from any thread, including I/O threads whose
// progress the Loop may itself be waiting on. The posted queue is bounded by
// Options::max_posted; exceeding it is a producer bug (every producer in env/ limits
// its own in-flight posts) and aborts the process rather than growing without limit.
#ifndef KEEL_ENV_POSIX_LOOP_H_
#define KEEL_ENV_POSIX_LOOP_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "env/env.h"

namespace keel::env {

class PosixLoop final : public Loop {
 public:
  struct Options {
    // Hard cap on callbacks posted but not yet run; see "Bounds" above.
    size_t max_posted = size_t{1} << 20;
    // Hard cap on pending timers (same reasoning: a node keeps a handful of timers).
    size_t max_timers = size_t{1} << 20;
  };

  // Starts the loop thread.
  static absl::StatusOr<std::unique_ptr<PosixLoop>> Create(Options options);
  static absl::StatusOr<std::unique_ptr<PosixLoop>> Create() { return Create(Options()); }

  // Stops and joins. Must not run on the loop thread (a thread cannot join itself).
  ~PosixLoop() override;

  int64_t NowNanos() const override;
  TimerId RunAfter(int64_t delay_nanos, absl::AnyInvocable<void() &&> fn) override;
  bool Cancel(TimerId id) override;
  void Post(absl::AnyInvocable<void() &&> fn) override;

  // Idempotent. From any other thread: stops the loop and joins its thread. From the loop
  // thread (inside a callback): only requests the stop; the current callback returns and
  // nothing more runs; the destructor joins.
  void Stop();

  // True when called from inside one of this loop's callbacks.
  bool IsLoopThread() const;

 private:
  using Callback = absl::AnyInvocable<void() &&>;
  // Timers are keyed by (deadline, sequence): ordered like a min-heap, but an ordered map
  // lets Cancel erase the entry at once instead of leaving a tombstone to pop later.
  using TimerKey = std::pair<int64_t, TimerId>;

  explicit PosixLoop(Options options);
  void ThreadMain();
  // Blocks until a callback is posted or a timer is due; moves the posted callbacks out.
  // False once a stop is requested.
  bool WaitForWork(std::deque<Callback>* posted);
  // The first timer due at `now`, removed from the timer set; null if none (or stopping).
  Callback TakeDueTimer(int64_t now);
  bool StopRequested() const;

  const Options options_;
  const int64_t epoch_nanos_;  // steady_clock reading at construction
  std::thread thread_;
  std::thread::id thread_id_;  // written before the thread runs any callback

  mutable absl::Mutex mu_;
  absl::CondVar wake_;  // signalled by Post, RunAfter and Stop
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  TimerId next_timer_id_ ABSL_GUARDED_BY(mu_) = 1;  // 0 is never a valid id
  std::deque<Callback> posted_ ABSL_GUARDED_BY(mu_);
  absl::btree_map<TimerKey, Callback> timers_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<TimerId, int64_t> timer_deadlines_ ABSL_GUARDED_BY(mu_);
};

}  // namespace keel::env

#endif  // KEEL_ENV_POSIX_LOOP_H_
