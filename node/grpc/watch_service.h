// etcdserverpb.Watch: one bidirectional stream per client connection, adapted to the
// server core's WatchStream/WatchSink.
//
// Threading: requests are handled on the Loop (the WatchStream is Loop-only). Responses are
// queued by the Loop and written by whichever thread finds the stream idle: the Loop
// starts the first write of an idle stream, and each OnWriteDone (a gRPC thread) starts the
// next one itself, so a burst of responses costs no Loop round trip per message. The queue
// and the write/finish flags are shared under a mutex.
// Flow control in both directions is bounded: the next request is read only after the Loop
// has handled the previous one; queued responses are bounded in count and bytes, with one
// Write outstanding; when the queue is full the sink's Send returns false and the
// WatchStream re-reads those events later, after OnSinkWritable (posted once the queue has
// drained to half).
#ifndef KEEL_NODE_GRPC_WATCH_SERVICE_H_
#define KEEL_NODE_GRPC_WATCH_SERVICE_H_

#include <cstddef>

#include "api/etcdserverpb/rpc.grpc.pb.h"
#include "env/env.h"
#include "node/grpc/caller.h"
#include "server/server.h"

namespace keel::node {

struct WatchQueueLimits {
  // Responses waiting for the client on one stream. etcd buffers about as much between its
  // watch channels and grpc-go's flow-control window; a fan-out burst (one put, a response
  // for each of hundreds of watchers) must fit, or every watcher falls back to re-reading
  // the backend.
  size_t max_responses = 1024;
  // Their encoded size. A single batch larger than this is still taken by an empty queue.
  size_t max_bytes = 8 << 20;
};

class WatchService final : public etcdserverpb::Watch::CallbackService {
 public:
  // `loop` and `server` outlive the gRPC server this service is registered with.
  WatchService(env::Loop* loop, server::Server* server, WatchQueueLimits limits = {},
               CommonNameFn common_name = {})
      : loop_(loop), server_(server), limits_(limits), common_name_(std::move(common_name)) {}

  grpc::ServerBidiReactor<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse>* Watch(
      grpc::CallbackServerContext* context) override;

 private:
  env::Loop* const loop_;
  server::Server* const server_;
  const WatchQueueLimits limits_;
  const CommonNameFn common_name_;
};

}  // namespace keel::node

#endif  // KEEL_NODE_GRPC_WATCH_SERVICE_H_
