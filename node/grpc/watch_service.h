// etcdserverpb.Watch: one bidirectional stream per client connection, adapted to the
// server core's WatchStream/WatchSink.
//
// Threading: every gRPC reactor callback only posts to the Loop; all stream state
// (the WatchStream, the outgoing queue, the finishing flag) is touched on the Loop alone.
// Flow control in both directions is bounded: the next request is read only after the Loop
// has handled the previous one, and at most `max_queued_responses` responses wait for the
// client, with one Write outstanding; when the queue is full the sink's Send returns false
// and the WatchStream holds its events until OnSinkWritable.
#ifndef KEEL_NODE_GRPC_WATCH_SERVICE_H_
#define KEEL_NODE_GRPC_WATCH_SERVICE_H_

#include <cstddef>

#include "api/etcdserverpb/rpc.grpc.pb.h"
#include "env/env.h"
#include "server/server.h"

namespace keel::node {

class WatchService final : public etcdserverpb::Watch::CallbackService {
 public:
  // `loop` and `server` outlive the gRPC server this service is registered with.
  WatchService(env::Loop* loop, server::Server* server, size_t max_queued_responses = 64)
      : loop_(loop), server_(server), max_queued_responses_(max_queued_responses) {}

  grpc::ServerBidiReactor<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse>* Watch(
      grpc::CallbackServerContext* context) override;

 private:
  env::Loop* const loop_;
  server::Server* const server_;
  const size_t max_queued_responses_;
};

}  // namespace keel::node

#endif  // KEEL_NODE_GRPC_WATCH_SERVICE_H_
