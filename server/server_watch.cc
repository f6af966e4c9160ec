// Watch streams: the server's face of kv::WatchHub. The hub decides what to send and when;
// this adapter completes the response headers (the hub knows only revisions) and passes
// the sink's back-pressure through.
#include "absl/strings/str_cat.h"
#include "server/server_impl.h"

namespace keel::server {

class ServerImpl::WatchStreamImpl final : public WatchStream {
 public:
  WatchStreamImpl(ServerImpl* server, WatchSink* sink, Caller caller)
      : server_(server), server_alive_(server->alive_), sink_(sink), caller_(std::move(caller)) {
    id_ = server_->watch_hub_->OpenStream(
        [this, sink](std::vector<etcdserverpb::WatchResponse>&& responses) {
          const HeaderInfo info = server_->Header();
          for (etcdserverpb::WatchResponse& r : responses) {
            // Keep the hub's revision: it never exceeds what this watcher has seen.
            FillHeader(info, r.header().revision(), &r);
            // Bug-zoo site server-watch-skip-event: a response with several events loses
            // its last.
            if (server_->config_.bugs.on(env::Bug::kServerWatchSkipEvent) && r.events_size() > 1) {
              r.mutable_events()->RemoveLast();
            }
          }
          if (!sink->Send(responses)) return false;
          Track(responses);
          return true;
        });
    server_->watch_streams_.insert(this);
  }
  // A client may hold its stream past the server's life (a crashed member in keelsim, a
  // gRPC stream finishing during shutdown): then there is nothing left to close.
  ~WatchStreamImpl() override {
    if (server_alive_.expired()) return;
    server_->watch_streams_.erase(this);
    server_->watch_hub_->CloseStream(id_);
  }

  // The auth store changed: cancels every watcher of this stream its caller may no longer
  // read (a revoked permission or role, a deleted user, auth turned on, an invalidated
  // token). The client sees an ordinary cancel of that watch ID.
  // Each watcher is re-checked as the user it was created for, at the store's current
  // revision: an expired token does not end a watch (etcd checks tokens at creation only).
  void RecheckPermissions() {
    std::vector<int64_t> revoked;
    for (const auto& [watch_id, w] : watched_) {
      const AuthInfo who{w.user, server_->auth_->revision()};
      if (!server_->auth_->IsRangePermitted(who, w.key, w.range_end).ok()) {
        revoked.push_back(watch_id);
      }
    }
    for (int64_t watch_id : revoked) {
      etcdserverpb::WatchRequest cancel;
      cancel.mutable_cancel_request()->set_watch_id(watch_id);
      watched_.erase(watch_id);
      (void)server_->watch_hub_->Handle(id_, cancel);
    }
    if (!revoked.empty() && server_->watch_hub_->HasBacklog()) {
      (void)server_->watch_hub_->Pump(1000);
    }
  }

  void Handle(const etcdserverpb::WatchRequest& request) override {
    if (server_alive_.expired()) return;
    // Bug-zoo site kv-watch-skip-compaction: a watch from a compacted revision silently starts
    // at the compaction revision instead of being canceled with compact_revision.
    const int64_t compacted = server_->store_->compact_revision();
    if (server_->config_.bugs.on(env::Bug::kKvWatchSkipCompaction) && request.has_create_request() &&
        request.create_request().start_revision() > 0 && request.create_request().start_revision() < compacted) {
      etcdserverpb::WatchRequest skipped = request;
      skipped.mutable_create_request()->set_start_revision(compacted);
      (void)server_->watch_hub_->Handle(id_, skipped);
      if (server_->watch_hub_->HasBacklog()) (void)server_->watch_hub_->Pump(1000);
      return;
    }
    std::string user;
    if (request.has_create_request() && !Permitted(request.create_request(), &user)) return;
    // RESOURCE_EXHAUSTED means the stream's control backlog is full: the request is
    // dropped, exactly as if the client had sent it to a stream that stopped reading.
    // Queued before the hub sees it: the hub may answer "created" within Handle. Every
    // create the hub accepts must be tracked, or the created answers would be matched to
    // the wrong ranges; beyond the bound (never reached: the hub holds at most
    // max_pending_control unanswered controls) a create is dropped like a full backlog's.
    const bool tracked = request.has_create_request();
    if (tracked && pending_creates_.size() >= kMaxPending) return;
    if (tracked) {
      pending_creates_.push_back(
          Watched{request.create_request().key(), request.create_request().range_end(), user});
    }
    const bool accepted = server_->watch_hub_->Handle(id_, request).ok();
    if (tracked && !accepted) pending_creates_.pop_back();  // dropped: no answer will come
    if (server_->watch_hub_->HasBacklog()) (void)server_->watch_hub_->Pump(1000);
  }

  void OnSinkWritable() override {
    if (server_alive_.expired()) return;
    if (server_->watch_hub_->HasBacklog()) (void)server_->watch_hub_->Pump(1000);
  }

 private:
  // etcd's isWatchPermitted, at each creation (the token is resolved, and renewed, then).
  // A refusal is a created+canceled response with watch ID -1 and the gRPC error's text as
  // the reason, exactly as etcd 3.4 sends it. Deviation: etcd checks a watch with range_end
  // "\0" (every key from `key` on) as if it watched `key` alone; we check the whole range.
  bool Permitted(const etcdserverpb::WatchCreateRequest& create, std::string* user) {
    absl::StatusOr<AuthInfo> who = server_->ResolveCaller(caller_);
    if (who.ok()) *user = who->username;
    absl::Status ok = who.status();
    if (ok.ok()) ok = server_->auth_->IsRangePermitted(*who, create.key(), create.range_end());
    if (ok.ok()) return true;
    etcdserverpb::WatchResponse refused;
    FillHeader(server_->Header(), server_->store_->current_revision(), &refused);
    refused.set_watch_id(-1);
    refused.set_created(true);
    refused.set_canceled(true);
    refused.set_cancel_reason(absl::StrCat("rpc error: code = ", GrpcCodeName(ok.code()),
                                           " desc = ", ok.message()));
    // A full sink drops the refusal; the client sees no answer to this create, as if it
    // were still pending (bounded: nothing is queued for it).
    (void)sink_->Send({refused});
    return false;
  }
  // Go's codes.Code.String() for the codes a refusal can carry.
  static const char* GrpcCodeName(absl::StatusCode code) {
    switch (code) {
      case absl::StatusCode::kUnauthenticated: return "Unauthenticated";
      case absl::StatusCode::kInvalidArgument: return "InvalidArgument";
      default: return "PermissionDenied";
    }
  }

  // Which range each live watcher watches, for RecheckPermissions: creates accepted by the
  // hub are answered "created" in order, so each created response names the oldest
  // pending create's watch ID. Bounded by the hub's own limits on control backlog.
  void Track(const std::vector<etcdserverpb::WatchResponse>& responses) {
    for (const etcdserverpb::WatchResponse& r : responses) {
      if (r.created()) {
        if (pending_creates_.empty()) continue;
        if (!r.canceled()) watched_[r.watch_id()] = std::move(pending_creates_.front());
        pending_creates_.pop_front();
      } else if (r.canceled()) {
        watched_.erase(r.watch_id());
      }
    }
  }

  struct Watched {
    std::string key;
    std::string range_end;
    std::string user;  // resolved when it was created; empty = no credentials
  };
  static constexpr size_t kMaxPending = 4096;
  ServerImpl* const server_;
  const std::weak_ptr<const int> server_alive_;
  WatchSink* const sink_;
  const Caller caller_;
  std::deque<Watched> pending_creates_;
  std::map<int64_t, Watched> watched_;
  kv::StreamId id_ = 0;
};

void ServerImpl::RecheckWatchPermissions() {
  // Copied: a cancel may end a stream's last watcher but never destroys a stream here.
  std::vector<WatchStreamImpl*> streams(watch_streams_.begin(), watch_streams_.end());
  for (WatchStreamImpl* stream : streams) stream->RecheckPermissions();
}

std::unique_ptr<WatchStream> ServerImpl::NewWatchStream(WatchSink* sink, const Caller& caller) {
  return std::make_unique<WatchStreamImpl>(this, sink, caller);
}

}  // namespace keel::server
