// Watch streams: the server's face of kv::WatchHub. The hub decides what to send and when;
// this adapter completes the response headers (the hub knows only revisions) and passes
// the sink's back-pressure through.
#include "server/server_impl.h"

namespace keel::server {

class ServerImpl::WatchStreamImpl final : public WatchStream {
 public:
  WatchStreamImpl(ServerImpl* server, WatchSink* sink)
      : server_(server), server_alive_(server->alive_) {
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
#ifdef KEEL_SIMULATION
    // KEEL_BUG_SITE watch_skip_compaction: a watch from a compacted revision silently starts
    // at the compaction revision instead of being canceled with compact_revision.
    const int64_t compacted = server_->store_->compact_revision();
    if (server_->config_.bugs.watch_skip_compaction && request.has_create_request() &&
        request.create_request().start_revision() > 0 && request.create_request().start_revision() < compacted) {
      etcdserverpb::WatchRequest skipped = request;
      skipped.mutable_create_request()->set_start_revision(compacted);
      (void)server_->watch_hub_->Handle(id_, skipped);
      if (server_->watch_hub_->HasBacklog()) (void)server_->watch_hub_->Pump(1000);
      return;
    }
#endif
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
  ServerImpl* const server_;
  const std::weak_ptr<const int> server_alive_;
  kv::StreamId id_ = 0;
};

std::unique_ptr<WatchStream> ServerImpl::NewWatchStream(WatchSink* sink) {
  return std::make_unique<WatchStreamImpl>(this, sink);
}

}  // namespace keel::server
