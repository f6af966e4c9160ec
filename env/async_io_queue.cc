#include "env/async_io_queue.h"

#include <utility>

#include "base/check.h"

namespace keel::env {

absl::StatusOr<std::unique_ptr<AsyncIoQueue>> AsyncIoQueue::Create(Options options) {
  if (options.loop == nullptr) return absl::InvalidArgumentError("AsyncIoQueue: no loop");
  if (options.max_ops == 0 || options.max_bytes == 0) {
    return absl::InvalidArgumentError("AsyncIoQueue: max_ops and max_bytes must be > 0");
  }
  std::unique_ptr<AsyncIoQueue> queue(new AsyncIoQueue(options));
  queue->thread_ = std::thread([raw = queue.get()] { raw->ThreadMain(); });
  return queue;
}

AsyncIoQueue::AsyncIoQueue(Options options) : options_(options) {}

AsyncIoQueue::~AsyncIoQueue() {
  KEEL_CHECK(std::this_thread::get_id() != thread_.get_id());
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    changed_.SignalAll();
  }
  thread_.join();
  absl::MutexLock lock(&mu_);
  KEEL_CHECK(queue_.empty() && ops_in_flight_ == 0 && bytes_in_flight_ == 0);
}

bool AsyncIoQueue::HasRoomFor(size_t size_bytes) const {
  if (ops_in_flight_ == 0) return true;  // an oversized op may go alone
  return ops_in_flight_ < options_.max_ops &&
         bytes_in_flight_ + size_bytes <= options_.max_bytes;
}

void AsyncIoQueue::Submit(size_t size_bytes, Work work, StatusCallback done) {
  KEEL_CHECK(std::this_thread::get_id() != thread_.get_id());
  absl::MutexLock lock(&mu_);
  KEEL_CHECK(!stopping_);
  // Bounded wait: the I/O thread finishes ops without waiting on anyone.
  while (!HasRoomFor(size_bytes)) changed_.Wait(&mu_);
  ops_in_flight_ += 1;
  bytes_in_flight_ += size_bytes;
  queue_.push_back(Op{size_bytes, std::move(work), std::move(done)});
  changed_.SignalAll();
}

void AsyncIoQueue::ThreadMain() {
  std::vector<Completion> finished;
  while (true) {
    Op op;
    {
      absl::MutexLock lock(&mu_);
      while (queue_.empty() && !stopping_) changed_.Wait(&mu_);
      if (queue_.empty()) {  // stopping, and everything submitted has run and was posted
        KEEL_CHECK(finished.empty());
        return;
      }
      op = std::move(queue_.front());
      queue_.pop_front();
    }
    absl::Status status = std::move(op.work)();
    finished.emplace_back(std::move(op.done), std::move(status));
    bool more_queued = false;
    {
      absl::MutexLock lock(&mu_);
      KEEL_CHECK(ops_in_flight_ >= 1 && bytes_in_flight_ >= op.size_bytes);
      ops_in_flight_ -= 1;
      bytes_in_flight_ -= op.size_bytes;
      more_queued = !queue_.empty();
      changed_.SignalAll();
    }
    // Deferred only while a later op is already queued: its completion carries this one.
    if (more_queued && finished.size() < kMaxBatchedCompletions) continue;
    PostCompletions(&finished);
  }
}

void AsyncIoQueue::PostCompletions(std::vector<Completion>* finished) {
  // Posting from this one thread, in queue order, is what orders the callbacks.
  options_.loop->Post([completions = std::move(*finished)]() mutable {
    for (Completion& c : completions) std::move(c.first)(std::move(c.second));
  });
  finished->clear();
}

}  // namespace keel::env
