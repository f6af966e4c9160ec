#include "client/watcher.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "client/error_kind.h"

namespace keel::client {
namespace {

absl::Status CompactedError(int64_t wanted, int64_t compact_revision) {
  return absl::OutOfRangeError(absl::StrCat(
      "etcdserver: mvcc: required revision has been compacted (watch from revision ", wanted,
      ", compact revision ", compact_revision, ")"));
}

}  // namespace

Watcher::Watcher(Client* client, WatchOptions options)
    : client_(client), options_(std::move(options)), next_revision_(options_.start_revision) {}

Watcher::~Watcher() {
  Cancel();
  if (stream_ != nullptr) stream_->Finish().IgnoreError();
}

absl::StatusOr<std::unique_ptr<Watcher>> Watcher::Create(Client* client, WatchOptions options) {
  std::unique_ptr<Watcher> watcher(new Watcher(client, std::move(options)));
  absl::Status s = watcher->Open();
  if (!s.ok()) return s;
  return watcher;
}

absl::Status Watcher::Open() {
  endpoint_ = client_->PreferredEndpoint();
  absl::Time connect_deadline = absl::Now() + client_->options().dial_timeout;
  if (!endpoint_->WaitConnected(connect_deadline)) {
    client_->Failover(endpoint_.get());
    return absl::UnavailableError(absl::StrCat("could not connect to ", endpoint_->address));
  }
  grpc::ClientContext* context;
  {
    absl::MutexLock lock(&mu_);
    if (cancelled_) return absl::CancelledError("watch cancelled");
    context_ = std::make_unique<grpc::ClientContext>();
    context = context_.get();
  }
  stream_ = endpoint_->watch->Watch(context);
  etcdserverpb::WatchRequest request;
  auto* create = request.mutable_create_request();
  create->set_key(options_.key);
  create->set_range_end(options_.range_end);
  create->set_start_revision(next_revision_);
  create->set_prev_kv(options_.prev_kv);
  create->set_progress_notify(options_.progress_notify);
  etcdserverpb::WatchResponse created;
  if (!stream_->Write(request) || !stream_->Read(&created)) {
    grpc::Status status = stream_->Finish();
    stream_.reset();
    client_->Failover(endpoint_.get());
    return FromGrpc(status.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "watch stream closed")
                                : status);
  }
  if (!created.created()) return absl::InternalError("watch: first response was not 'created'");
  if (created.canceled()) {
    if (created.compact_revision() > 0) return CompactedError(next_revision_, created.compact_revision());
    return absl::FailedPreconditionError(absl::StrCat("watch canceled: ", created.cancel_reason()));
  }
  // A watch "from now" resumes after the revision current when it was created.
  if (next_revision_ == 0) next_revision_ = created.header().revision() + 1;
  return absl::OkStatus();
}

absl::Status Watcher::Resume(const grpc::Status& cause) {
  client_->Failover(endpoint_.get());
  absl::Time give_up = absl::Now() + options_.resume_timeout;
  absl::Status last = FromGrpc(cause);
  // Bounded by the resume deadline; each failed attempt waits before the next.
  while (absl::Now() < give_up) {
    {
      absl::MutexLock lock(&mu_);
      if (cancelled_) return absl::CancelledError("watch cancelled");
    }
    last = Open();
    if (last.ok()) {
      ++resume_count_;
      return last;
    }
    if (last.code() == absl::StatusCode::kOutOfRange || last.code() == absl::StatusCode::kCancelled) {
      return last;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  return absl::UnavailableError(absl::StrCat("watch could not resume: ", last.message()));
}

absl::StatusOr<etcdserverpb::WatchResponse> Watcher::Next() {
  // Bounded: each iteration either returns, or consumes one empty response / one resume.
  for (;;) {
    if (stream_ == nullptr) {
      absl::Status s = Resume(grpc::Status(grpc::StatusCode::UNAVAILABLE, "no stream"));
      if (!s.ok()) return s;
    }
    etcdserverpb::WatchResponse response;
    if (!stream_->Read(&response)) {
      grpc::Status status = stream_->Finish();
      stream_.reset();
      {
        absl::MutexLock lock(&mu_);
        if (cancelled_) return absl::CancelledError("watch cancelled");
      }
      absl::Status s = Resume(status);
      if (!s.ok()) return s;
      continue;
    }
    if (response.compact_revision() > 0) {
      return CompactedError(next_revision_, response.compact_revision());
    }
    if (response.canceled()) {
      return absl::FailedPreconditionError(absl::StrCat("watch canceled: ", response.cancel_reason()));
    }
    if (response.events_size() > 0) {
      int64_t last = response.events(response.events_size() - 1).kv().mod_revision();
      KEEL_CHECK(last >= next_revision_);
      next_revision_ = last + 1;
      return response;
    }
    // Progress notification: everything up to the header revision has been delivered.
    next_revision_ = std::max(next_revision_, response.header().revision() + 1);
    if (options_.progress_notify) return response;
  }
}

void Watcher::Cancel() {
  absl::MutexLock lock(&mu_);
  cancelled_ = true;
  if (context_ != nullptr) context_->TryCancel();
}

}  // namespace keel::client
