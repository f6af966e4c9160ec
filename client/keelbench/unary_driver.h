// Drives `total` unary requests from `clients` concurrent virtual clients over a few gRPC
// channels, with gRPC's async API: each client is a small state machine (one request in
// flight at a time), and a couple of threads poll the completion queues. 1000 clients are
// 1000 structs, not 1000 threads.
#ifndef KEEL_CLIENT_KEELBENCH_UNARY_DRIVER_H_
#define KEEL_CLIENT_KEELBENCH_UNARY_DRIVER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/time/time.h"
#include "client/endpoint.h"
#include "client/keelbench/report.h"
#include "grpcpp/client_context.h"
#include "grpcpp/completion_queue.h"
#include "grpcpp/support/async_unary_call.h"

namespace keel::client::keelbench {

// One request in flight; subclasses hold the typed response and reader.
struct PendingCall {
  virtual ~PendingCall() = default;
  grpc::ClientContext context;
  grpc::Status status;
};

template <typename Response>
struct TypedCall : PendingCall {
  Response response;
  std::unique_ptr<grpc::ClientAsyncResponseReader<Response>> reader;
};

// Starts request `seq` on `endpoint`: prepare, StartCall, then Finish(..., tag).
using StartFn = std::function<std::unique_ptr<PendingCall>(int64_t seq, Endpoint& endpoint,
                                                           grpc::CompletionQueue* cq, void* tag)>;

struct UnaryRun {
  int64_t total = 0;
  int clients = 1;
  double rate_per_s = 0;  // 0: as fast as the clients go
  absl::Duration request_timeout = absl::Seconds(30);
  bool progress = false;  // a progress line on stderr (only when stdout is a terminal)
};

// Runs to completion; every request ends as a success or an error in `recorder`.
// Returns the elapsed wall time.
absl::Duration RunUnary(const UnaryRun& run, const std::vector<std::unique_ptr<Endpoint>>& conns,
                        const StartFn& start, Recorder* recorder);

// Helper for StartFn implementations: typed call with deadline.
template <typename Response, typename PrepareFn>
std::unique_ptr<PendingCall> StartTyped(absl::Duration timeout, void* tag, PrepareFn prepare) {
  auto call = std::make_unique<TypedCall<Response>>();
  call->context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  call->reader = prepare(&call->context);
  call->reader->StartCall();
  call->reader->Finish(&call->response, &call->status, tag);
  return call;
}

}  // namespace keel::client::keelbench

#endif  // KEEL_CLIENT_KEELBENCH_UNARY_DRIVER_H_
