#include "node/grpc/watch_service.h"

#include <deque>
#include <memory>
#include <utility>
#include <vector>

#include "node/check.h"

namespace keel::node {
namespace {

using WatchReactorBase =
    grpc::ServerBidiReactor<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse>;

// Lifetime: created by WatchService::Watch; OnDone (gRPC thread) posts its own deletion to
// the Loop, so Loop-side code never sees a deleted reactor. If the Loop has stopped, the
// posted deletion never runs and the reactor is leaked at process exit, which is harmless.
class WatchReactor final : public WatchReactorBase, public server::WatchSink {
 public:
  WatchReactor(env::Loop* loop, size_t max_queued_responses)
      : loop_(loop), max_queued_responses_(max_queued_responses) {
    KEEL_NODE_CHECK(max_queued_responses_ > 0);
  }

  // Runs on the Loop: the stream exists before the first read is started.
  void Start(server::Server* server) {
    stream_ = server->NewWatchStream(this);
    StartRead(&request_);
  }

  // ---- gRPC side: hand everything to the Loop ----
  void OnReadDone(bool ok) override {
    // !ok: the client half-closed (or the call is being cancelled). Like etcd, a half-close
    // keeps the stream delivering events; the stream ends when the call is cancelled.
    if (!ok) return;
    loop_->Post([this, request = std::move(request_)] {
      if (finishing_) return;
      stream_->Handle(request);
      // Re-arm only after handling: one request in flight keeps the Loop's queue bounded.
      if (!finishing_) StartRead(&request_);
    });
  }

  void OnCancel() override {
    loop_->Post([this] { FinishOnLoop(); });
  }

  void OnWriteDone(bool ok) override {
    loop_->Post([this, ok] { WriteDoneOnLoop(ok); });
  }

  void OnDone() override {
    loop_->Post([this] { delete this; });
  }

  // ---- server::WatchSink, on the Loop ----
  // All or none (the responses are fragments of one logical response). A batch larger
  // than the whole queue is still taken when the queue is empty, or it could never go.
  bool Send(const std::vector<etcdserverpb::WatchResponse>& responses) override {
    if (finishing_) return true;  // nobody listens any more: drop silently
    if (!queue_.empty() && queue_.size() + responses.size() > max_queued_responses_) {
      blocked_ = true;
      return false;
    }
    for (const etcdserverpb::WatchResponse& response : responses) queue_.push_back(response);
    if (!write_in_flight_ && !queue_.empty()) StartNextWrite();
    return true;
  }

 private:
  void StartNextWrite() {
    KEEL_NODE_CHECK(!write_in_flight_ && !queue_.empty());
    write_in_flight_ = true;
    StartWrite(&queue_.front());
  }

  void WriteDoneOnLoop(bool ok) {
    KEEL_NODE_CHECK(write_in_flight_ && !queue_.empty());
    write_in_flight_ = false;
    queue_.pop_front();
    if (!ok || finishing_) {  // !ok: the client went away; reads will fail too
      FinishOnLoop();
      return;
    }
    if (!queue_.empty()) StartNextWrite();
    if (blocked_ && queue_.size() < max_queued_responses_) {
      blocked_ = false;
      stream_->OnSinkWritable();
    }
  }

  // Idempotent: called on a failed read, a failed write, and each write completing after.
  void FinishOnLoop() {
    finishing_ = true;
    stream_.reset();  // cancels every watcher; no Send can reach us after this
    // The front response belongs to gRPC while its write is in flight.
    while (queue_.size() > (write_in_flight_ ? 1u : 0u)) queue_.pop_back();
    MaybeFinish();
  }

  // gRPC requires no Write outstanding when Finish is called on a bidi stream.
  void MaybeFinish() {
    if (write_in_flight_ || finished_) return;
    finished_ = true;
    Finish(grpc::Status::OK);
  }

  env::Loop* const loop_;
  const size_t max_queued_responses_;

  // Owned by gRPC between StartRead and OnReadDone; moved out on OnReadDone.
  etcdserverpb::WatchRequest request_;

  // Loop-only state.
  std::unique_ptr<server::WatchStream> stream_;
  std::deque<etcdserverpb::WatchResponse> queue_;  // front is being written when in flight
  bool write_in_flight_ = false;
  bool blocked_ = false;    // Send returned false; owe the stream an OnSinkWritable
  bool finishing_ = false;  // no more reads, writes or Sends
  bool finished_ = false;   // Finish called
};

}  // namespace

WatchReactorBase* WatchService::Watch(grpc::CallbackServerContext* /*context*/) {
  auto* reactor = new WatchReactor(loop_, max_queued_responses_);
  server::Server* server = server_;
  loop_->Post([reactor, server] { reactor->Start(server); });
  return reactor;
}

}  // namespace keel::node
