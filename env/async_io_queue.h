// AsyncIoQueue: a bounded FIFO of blocking I/O operations run by one dedicated thread, with
// each operation's completion posted to a Loop in the order the operations were submitted.
//
// This is what turns WritableFile::AppendAsync/SyncAsync into "queue and return": the
// Loop thread submits, the I/O thread performs the write/fdatasync, and the callback comes
// back on the Loop. One thread for all files keeps the order total (stronger than the
// per-file order env.h promises) and keeps fsyncs from competing with each other.
//
// Completions: an op that finishes while later ops wait in the queue has its completion
// posted together with a later op's (one Loop wake-up for the WAL's append + fdatasync
// pair instead of two), at most kMaxBatchedCompletions at a time; order is unchanged and
// nothing waits longer than the ops already queued behind it.
//
// Bound: at most `max_ops` operations and `max_bytes` payload bytes wait or run at once.
// When full, Submit BLOCKS its caller until the I/O thread makes room: a full queue means
// the disk is slower than the producer, and stalling the producer (the node's Loop) is the
// honest backpressure; failing the write instead would turn a slow disk into a crashed
// WAL. This cannot deadlock because the I/O thread never waits for the Loop: Loop::Post
// never blocks. An operation larger than max_bytes is admitted alone into an empty queue.
//
// Shutdown: the destructor lets every submitted operation run (data handed to us is
// written, never silently dropped), posts its completion, then joins the thread.
#ifndef KEEL_ENV_ASYNC_IO_QUEUE_H_
#define KEEL_ENV_ASYNC_IO_QUEUE_H_

#include <cstddef>
#include <deque>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "env/env.h"

namespace keel::env {

class AsyncIoQueue {
 public:
  struct Options {
    Loop* loop = nullptr;  // required; completions run here
    size_t max_ops = 1024;
    size_t max_bytes = size_t{64} << 20;
  };
  using Work = absl::AnyInvocable<absl::Status() &&>;

  static absl::StatusOr<std::unique_ptr<AsyncIoQueue>> Create(Options options);
  ~AsyncIoQueue();

  AsyncIoQueue(const AsyncIoQueue&) = delete;
  AsyncIoQueue& operator=(const AsyncIoQueue&) = delete;

  // Queues `work` (accounted as `size_bytes`) and returns; `work` runs on the I/O thread
  // after every earlier submission, then `done(status)` is posted to the Loop. Blocks
  // while the queue is full (see above). Thread-safe; must not be called from the I/O
  // thread itself.
  void Submit(size_t size_bytes, Work work, StatusCallback done);

 private:
  struct Op {
    size_t size_bytes = 0;
    Work work;
    StatusCallback done;
  };

  // A finished op's callback and outcome, not yet posted to the Loop.
  using Completion = std::pair<StatusCallback, absl::Status>;
  static constexpr size_t kMaxBatchedCompletions = 64;

  explicit AsyncIoQueue(Options options);
  void ThreadMain();
  // Posts `*finished` to the Loop as one callback that runs them in order; empties it.
  void PostCompletions(std::vector<Completion>* finished);
  bool HasRoomFor(size_t size_bytes) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  std::thread thread_;

  mutable absl::Mutex mu_;
  absl::CondVar changed_;  // an op was queued or finished, or stopping
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<Op> queue_ ABSL_GUARDED_BY(mu_);
  // Ops and bytes queued or running; the running op keeps its room until it finishes.
  size_t ops_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  size_t bytes_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace keel::env

#endif  // KEEL_ENV_ASYNC_IO_QUEUE_H_
