#include "env/posix_loop.h"

#include <chrono>
#include <limits>

#include "absl/time/time.h"
#include "base/check.h"

namespace keel::env {
namespace {

int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Destroys callbacks without running them, outside any lock: their destructors may
// release objects that Post again.
void Discard(std::deque<absl::AnyInvocable<void() &&>>* callbacks) {
  while (!callbacks->empty()) callbacks->pop_front();
}

}  // namespace

absl::StatusOr<std::unique_ptr<PosixLoop>> PosixLoop::Create(Options options) {
  if (options.max_posted == 0 || options.max_timers == 0) {
    return absl::InvalidArgumentError("PosixLoop: max_posted and max_timers must be > 0");
  }
  std::unique_ptr<PosixLoop> loop(new PosixLoop(options));
  // Hold the lock while starting so the thread id is published before any callback runs.
  absl::MutexLock lock(&loop->mu_);
  loop->thread_ = std::thread([raw = loop.get()] { raw->ThreadMain(); });
  loop->thread_id_ = loop->thread_.get_id();
  return loop;
}

PosixLoop::PosixLoop(Options options) : options_(options), epoch_nanos_(SteadyNanos()) {}

PosixLoop::~PosixLoop() {
  KEEL_CHECK(!IsLoopThread());
  Stop();
  if (thread_.joinable()) thread_.join();
}

int64_t PosixLoop::NowNanos() const { return SteadyNanos() - epoch_nanos_; }

bool PosixLoop::IsLoopThread() const {
  return std::this_thread::get_id() == thread_id_;
}

TimerId PosixLoop::RunAfter(int64_t delay_nanos, Callback fn) {
  KEEL_CHECK(delay_nanos >= 0);
  const int64_t now = NowNanos();
  // Saturate instead of overflowing for "never" style delays.
  const int64_t deadline = delay_nanos > std::numeric_limits<int64_t>::max() - now
                               ? std::numeric_limits<int64_t>::max()
                               : now + delay_nanos;
  absl::MutexLock lock(&mu_);
  const TimerId id = next_timer_id_++;
  if (stopping_) return id;  // fn is destroyed on return, never run (shutdown rule)
  KEEL_CHECK(timers_.size() < options_.max_timers);
  timers_.emplace(TimerKey{deadline, id}, std::move(fn));
  timer_deadlines_.emplace(id, deadline);
  wake_.Signal();
  return id;
}

bool PosixLoop::Cancel(TimerId id) {
  Callback cancelled;  // destroyed after the lock is released
  absl::MutexLock lock(&mu_);
  auto it = timer_deadlines_.find(id);
  if (it == timer_deadlines_.end()) return false;
  auto timer = timers_.find(TimerKey{it->second, id});
  KEEL_CHECK(timer != timers_.end());
  cancelled = std::move(timer->second);
  timers_.erase(timer);
  timer_deadlines_.erase(it);
  return true;
}

void PosixLoop::Post(Callback fn) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return;  // fn is destroyed on return, never run (shutdown rule)
  KEEL_CHECK(posted_.size() < options_.max_posted);
  posted_.push_back(std::move(fn));
  wake_.Signal();
}

void PosixLoop::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    wake_.Signal();
  }
  if (IsLoopThread()) return;  // the destructor joins
  if (thread_.joinable()) thread_.join();
  // The thread has exited, so nothing else touches the queues now.
  std::deque<Callback> leftovers;
  {
    absl::MutexLock lock(&mu_);
    leftovers.swap(posted_);
    for (auto& [key, fn] : timers_) leftovers.push_back(std::move(fn));
    timers_.clear();
    timer_deadlines_.clear();
  }
  Discard(&leftovers);
}

bool PosixLoop::WaitForWork(std::deque<Callback>* posted) {
  absl::MutexLock lock(&mu_);
  // Each pass either returns or sleeps until a Post/RunAfter/Cancel/Stop signals or the
  // first deadline passes; spurious wake-ups just re-evaluate.
  while (!stopping_) {
    const int64_t now = NowNanos();
    if (!posted_.empty() || (!timers_.empty() && timers_.begin()->first.first <= now)) {
      posted->swap(posted_);
      return true;
    }
    if (timers_.empty()) {
      wake_.Wait(&mu_);
    } else {
      wake_.WaitWithTimeout(&mu_, absl::Nanoseconds(timers_.begin()->first.first - now));
    }
  }
  return false;
}

PosixLoop::Callback PosixLoop::TakeDueTimer(int64_t now) {
  absl::MutexLock lock(&mu_);
  if (stopping_ || timers_.empty() || timers_.begin()->first.first > now) return nullptr;
  auto first = timers_.begin();
  Callback fn = std::move(first->second);
  timer_deadlines_.erase(first->first.second);
  timers_.erase(first);
  return fn;
}

bool PosixLoop::StopRequested() const {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

void PosixLoop::ThreadMain() {
  {
    // Wait until Create() has published thread_id_.
    absl::MutexLock lock(&mu_);
  }
  std::deque<Callback> posted;
  while (WaitForWork(&posted)) {
    // Posted callbacks first, each checked against a Stop() issued by the previous one.
    while (!posted.empty() && !StopRequested()) {
      Callback fn = std::move(posted.front());
      posted.pop_front();
      std::move(fn)();
    }
    Discard(&posted);
    // Then the timers due now, one at a time so that a callback can still Cancel a later
    // timer due at the same instant. Bounded: timers added from here on have deadlines
    // after `now` unless the clock has not moved, and at most max_timers exist.
    const int64_t now = NowNanos();
    for (size_t i = 0; i < options_.max_timers; ++i) {
      Callback fn = TakeDueTimer(now);
      if (fn == nullptr) break;
      std::move(fn)();
    }
  }
}

}  // namespace keel::env
