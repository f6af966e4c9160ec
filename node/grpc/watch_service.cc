#include "node/grpc/watch_service.h"

#include <deque>
#include <memory>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "base/check.h"

namespace keel::node {
namespace {

using WatchReactorBase =
    grpc::ServerBidiReactor<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse>;

// Lifetime: created by WatchService::Watch; OnDone (gRPC thread) posts its own deletion to
// the Loop. Every task that references the reactor is posted from inside a reaction, hence
// before OnDone's, so Loop-side code never sees a deleted reactor. If the Loop has stopped,
// the posted deletion never runs and the reactor is leaked at process exit (harmless).
class WatchReactor final : public WatchReactorBase, public server::WatchSink {
 public:
  WatchReactor(env::Loop* loop, WatchQueueLimits limits) : loop_(loop), limits_(limits) {
    KEEL_CHECK(limits_.max_responses > 0 && limits_.max_bytes > 0);
  }

  // Runs on the Loop: the stream exists before the first read is started.
  void Start(server::Server* server, const server::Caller& caller) {
    stream_ = server->NewWatchStream(this, caller);
    StartRead(&request_);
  }

  // ---- gRPC side ----
  void OnReadDone(bool ok) override {
    // !ok: the client half-closed (or the call is being cancelled). Like etcd, a half-close
    // keeps the stream delivering events; the stream ends when the call is cancelled.
    if (!ok) return;
    loop_->Post([this, request = std::move(request_)] {
      if (stream_ == nullptr) return;  // finishing
      stream_->Handle(request);
      // Re-arm only after handling: one request in flight keeps the Loop's queue bounded.
      if (stream_ != nullptr) StartRead(&request_);
    });
  }

  void OnCancel() override {
    loop_->Post([this] { FinishOnLoop(); });
  }

  // The next write starts here, on the gRPC thread, without a Loop round trip.
  void OnWriteDone(bool ok) override {
    const etcdserverpb::WatchResponse* next = nullptr;
    bool finish = false;
    bool wake = false;
    {
      absl::MutexLock lock(&mu_);
      KEEL_CHECK(write_in_flight_ && !queue_.empty());
      write_in_flight_ = false;
      queued_bytes_ -= queue_.front().bytes;
      queue_.pop_front();
      if (!ok) finishing_ = true;  // the client went away; reads fail too
      if (finishing_) {
        DropQueuedLocked();
        finish = !finished_;
        finished_ = true;
      } else {
        if (!queue_.empty()) {
          write_in_flight_ = true;
          next = &queue_.front().response;
        }
        if (blocked_ && queue_.size() <= limits_.max_responses / 2 &&
            queued_bytes_ <= limits_.max_bytes / 2) {
          blocked_ = false;
          wake = true;
        }
      }
    }
    // Posted before Finish, hence before OnDone posts the deletion.
    if (!ok) loop_->Post([this] { FinishOnLoop(); });
    if (wake) {
      loop_->Post([this] {
        if (stream_ != nullptr) stream_->OnSinkWritable();
      });
    }
    if (next != nullptr) StartWrite(next);
    if (finish) Finish(grpc::Status::OK);
  }

  void OnDone() override {
    loop_->Post([this] { delete this; });
  }

  // ---- server::WatchSink, on the Loop ----
  // All or none (the responses are fragments of one logical response). A batch larger
  // than the whole queue is still taken when the queue is empty, or it could never go.
  bool Send(const std::vector<etcdserverpb::WatchResponse>& responses) override {
    size_t bytes = 0;
    for (const etcdserverpb::WatchResponse& r : responses) bytes += r.ByteSizeLong();
    const etcdserverpb::WatchResponse* first = nullptr;
    {
      absl::MutexLock lock(&mu_);
      if (finishing_) return true;  // nobody listens any more: drop silently
      if (!queue_.empty() && (queue_.size() + responses.size() > limits_.max_responses ||
                              queued_bytes_ + bytes > limits_.max_bytes)) {
        blocked_ = true;
        return false;
      }
      for (const etcdserverpb::WatchResponse& r : responses) {
        queue_.push_back(Queued{r, r.ByteSizeLong()});
      }
      queued_bytes_ += bytes;
      if (!write_in_flight_ && !queue_.empty()) {
        write_in_flight_ = true;
        first = &queue_.front().response;  // deque: stays put while others are appended
      }
    }
    if (first != nullptr) StartWrite(first);
    return true;
  }

 private:
  struct Queued {
    etcdserverpb::WatchResponse response;
    size_t bytes = 0;
  };

  // Idempotent: called on cancellation and after a failed write.
  void FinishOnLoop() {
    stream_.reset();  // cancels every watcher; no Send can reach us after this
    bool finish = false;
    {
      absl::MutexLock lock(&mu_);
      finishing_ = true;
      DropQueuedLocked();
      // gRPC requires no Write outstanding when Finish is called on a bidi stream; the
      // write in flight finishes the call from OnWriteDone instead.
      if (!write_in_flight_ && !finished_) finish = finished_ = true;
    }
    if (finish) Finish(grpc::Status::OK);
  }

  // Drops every queued response except the one gRPC is writing.
  void DropQueuedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    while (queue_.size() > (write_in_flight_ ? 1u : 0u)) {
      queued_bytes_ -= queue_.back().bytes;
      queue_.pop_back();
    }
  }

  env::Loop* const loop_;
  const WatchQueueLimits limits_;

  // Owned by gRPC between StartRead and OnReadDone; moved out on OnReadDone.
  etcdserverpb::WatchRequest request_;

  // Loop-only: null once the stream is finishing.
  std::unique_ptr<server::WatchStream> stream_;

  absl::Mutex mu_;
  // The front is being written while write_in_flight_.
  std::deque<Queued> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool blocked_ ABSL_GUARDED_BY(mu_) = false;    // Send refused; owe an OnSinkWritable
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;  // no more reads, writes or Sends
  bool finished_ ABSL_GUARDED_BY(mu_) = false;   // Finish called (or about to be)
};

}  // namespace

WatchReactorBase* WatchService::Watch(grpc::CallbackServerContext* context) {
  auto* reactor = new WatchReactor(loop_, limits_);
  server::Server* server = server_;
  loop_->Post([reactor, server, caller = CallerOf(*context, common_name_)] {
    reactor->Start(server, caller);
  });
  return reactor;
}

}  // namespace keel::node
