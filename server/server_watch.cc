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
#ifdef KEEL_SIMULATION
            // KEEL_BUG_SITE watch_skip_event: a response with several events loses its last.
            if (server_->config_.bugs.watch_skip_event && r.events_size() > 1) r.mutable_events()->RemoveLast();
#endif
          }
          return sink->Send(responses);
        });
  }
  // A client may hold its stream past the server's life (a crashed member in keelsim, a
  // gRPC stream finishing during shutdown): then there is nothing left to close.
  ~WatchStreamImpl() override {
    if (!server_alive_.expired()) server_->watch_hub_->CloseStream(id_);
  }

  void Handle(const etcdserverpb::WatchRequest& request) override {
    if (server_alive_.expired()) return;
    if (request.has_create_request() && !Permitted(request.create_request())) return;
    // RESOURCE_EXHAUSTED means the stream's control backlog is full: the request is
    // dropped, exactly as if the client had sent it to a stream that stopped reading.
    (void)server_->watch_hub_->Handle(id_, request);
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
  bool Permitted(const etcdserverpb::WatchCreateRequest& create) {
    absl::StatusOr<AuthInfo> who = server_->ResolveCaller(caller_);
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

  ServerImpl* const server_;
  const std::weak_ptr<const int> server_alive_;
  WatchSink* const sink_;
  const Caller caller_;
  kv::StreamId id_ = 0;
};

std::unique_ptr<WatchStream> ServerImpl::NewWatchStream(WatchSink* sink, const Caller& caller) {
  return std::make_unique<WatchStreamImpl>(this, sink, caller);
}

}  // namespace keel::server
