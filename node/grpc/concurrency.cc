#include "node/grpc/concurrency.h"

#include <utility>

#include "base/check.h"

namespace keel::node {

// ---- KeyDeletionWatch ----

KeyDeletionWatch::KeyDeletionWatch(env::Loop* loop, server::Server* server,
                                   const server::Caller& caller, std::string key,
                                   int64_t start_revision, Done on_deleted)
    : loop_(loop), on_deleted_(std::move(on_deleted)) {
  stream_ = server->NewWatchStream(this, caller);
  etcdserverpb::WatchRequest request;
  etcdserverpb::WatchCreateRequest* create = request.mutable_create_request();
  create->set_key(std::move(key));
  create->set_start_revision(start_revision);
  create->add_filters(etcdserverpb::WatchCreateRequest::NOPUT);
  stream_->Handle(request);
}

KeyDeletionWatch::~KeyDeletionWatch() { *alive_ = false; }

bool KeyDeletionWatch::Send(const std::vector<etcdserverpb::WatchResponse>& responses) {
  for (const etcdserverpb::WatchResponse& response : responses) {
    if (!on_deleted_) return true;  // already completed; drain quietly
    OnResponse(response);
  }
  return true;
}

void KeyDeletionWatch::OnResponse(const etcdserverpb::WatchResponse& response) {
  if (response.compact_revision() > 0) {
    Complete(absl::OutOfRangeError("etcdserver: mvcc: required revision has been compacted"));
  } else if (response.canceled()) {
    Complete(absl::UnavailableError(response.cancel_reason().empty()
                                        ? "lost watcher waiting for delete"
                                        : response.cancel_reason()));
  } else {
    for (const mvccpb::Event& event : response.events()) {
      if (event.type() == mvccpb::Event::DELETE) {
        Complete(absl::OkStatus());
        break;
      }
    }
  }
}

void KeyDeletionWatch::Complete(absl::Status status) {
  // Deliver from a fresh Loop task: the owner typically destroys this watch (and its
  // WatchStream) in the callback, which must not happen inside the stream's own Send.
  loop_->Post([alive = alive_, done = std::move(on_deleted_), status]() mutable {
    if (*alive) std::move(done)(status);
  });
  on_deleted_ = nullptr;
}

// ---- DeletionWaiter ----

DeletionWaiter::DeletionWaiter(env::Loop* loop, server::Server* server, server::Caller caller,
                               std::string prefix, int64_t max_create_revision, Done done)
    : loop_(loop),
      server_(server),
      caller_(std::move(caller)),
      prefix_(std::move(prefix)),
      max_create_revision_(max_create_revision),
      done_(std::move(done)) {
  CheckPredecessor();
}

DeletionWaiter::~DeletionWaiter() { *alive_ = false; }

void DeletionWaiter::CheckPredecessor() {
  server_->Range(LastCreatedBeforeRequest(prefix_, max_create_revision_),
                 [this, alive = alive_](absl::StatusOr<etcdserverpb::RangeResponse> result) {
                   if (*alive) OnRange(std::move(result));
                 },
                 caller_);
}

void DeletionWaiter::OnRange(absl::StatusOr<etcdserverpb::RangeResponse> result) {
  KEEL_CHECK(done_ != nullptr);
  if (!result.ok()) {
    std::move(done_)(result.status());
    return;
  }
  if (result->kvs().empty()) {
    std::move(done_)(result->header());
    return;
  }
  // Wait for the newest older key to go, then look again: it may have had predecessors
  // of its own that are still there.
  watch_ = std::make_unique<KeyDeletionWatch>(loop_, server_, caller_, result->kvs(0).key(),
                                              result->header().revision(),
                                              [this, alive = alive_](absl::Status status) {
                                                if (!*alive) return;
                                                watch_.reset();
                                                if (!status.ok()) {
                                                  std::move(done_)(status);
                                                  return;
                                                }
                                                CheckPredecessor();
                                              });
}

}  // namespace keel::node
