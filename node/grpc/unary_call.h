// Runs one unary RPC on the member's Loop without blocking a gRPC thread.
//
// The gRPC thread posts the call to the Loop and returns the call's reactor at once; the
// Server's callback (on the Loop) fills the response and finishes the reactor. Exactly one
// Finish per call is guaranteed by UnaryCompletion: if the callback is destroyed without
// running (the Loop stopped before running the posted task, or the Server dropped it), the
// call finishes with etcd's unknown-outcome error instead of hanging gRPC's shutdown.
#ifndef KEEL_NODE_GRPC_UNARY_CALL_H_
#define KEEL_NODE_GRPC_UNARY_CALL_H_

#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "env/env.h"
#include "grpcpp/grpcpp.h"
#include "node/grpc/admission.h"
#include "node/grpc/status_convert.h"
#include "server/server.h"

namespace keel::node {

// etcd's message for a request cut short by shutdown (outcome unknown to the client).
inline constexpr char kServerStoppedMessage[] = "etcdserver: server stopped";

// Move-only owner of "finish this call once". Not thread-safe; lives in one callback.
template <typename Response>
class UnaryCompletion {
 public:
  UnaryCompletion(grpc::ServerUnaryReactor* reactor, Response* response)
      : reactor_(reactor), response_(response) {}
  UnaryCompletion(UnaryCompletion&& other) noexcept
      : reactor_(std::exchange(other.reactor_, nullptr)),
        response_(std::exchange(other.response_, nullptr)) {}
  UnaryCompletion& operator=(UnaryCompletion&&) = delete;
  UnaryCompletion(const UnaryCompletion&) = delete;
  ~UnaryCompletion() {
    if (reactor_ != nullptr) {
      reactor_->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, kServerStoppedMessage));
    }
  }

  void Finish(absl::StatusOr<Response> result) {
    if (reactor_ == nullptr) return;  // already finished
    grpc::ServerUnaryReactor* reactor = std::exchange(reactor_, nullptr);
    if (result.ok()) {
      *response_ = *std::move(result);
      reactor->Finish(grpc::Status::OK);
    } else {
      reactor->Finish(ToGrpcStatus(result.status()));
    }
  }

 private:
  grpc::ServerUnaryReactor* reactor_;
  Response* response_;
};

// Posts `(server->*method)(*request, done)` to `loop`. `request` and `response` stay valid
// until the reactor is finished (gRPC's contract for callback unary methods).
template <typename Request, typename Response>
grpc::ServerUnaryReactor* RunUnaryOnLoop(grpc::CallbackServerContext* context, env::Loop* loop,
                                         server::Server* server,
                                         void (server::Server::*method)(const Request&,
                                                                        server::Callback<Response>),
                                         const Request* request, Response* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::optional<UnaryAdmission::Ticket> ticket = UnaryAdmission::Global().TryAdmit();
  if (!ticket.has_value()) {
    reactor->Finish(TooManyRequestsStatus());
    return reactor;
  }
  UnaryCompletion<Response> completion(reactor, response);
  loop->Post([server, method, request, completion = std::move(completion),
              ticket = std::move(*ticket)]() mutable {
    (server->*method)(*request, [completion = std::move(completion), ticket = std::move(ticket)](
                                    absl::StatusOr<Response> result) mutable {
      completion.Finish(std::move(result));
    });
  });
  return reactor;
}

// The same for a Server method that also takes the caller's identity (server::Caller).
template <typename Request, typename Response>
grpc::ServerUnaryReactor* RunUnaryOnLoop(
    grpc::CallbackServerContext* context, env::Loop* loop, server::Server* server,
    void (server::Server::*method)(const Request&, server::Callback<Response>,
                                   const server::Caller&),
    const Request* request, Response* response, server::Caller caller) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::optional<UnaryAdmission::Ticket> ticket = UnaryAdmission::Global().TryAdmit();
  if (!ticket.has_value()) {
    reactor->Finish(TooManyRequestsStatus());
    return reactor;
  }
  UnaryCompletion<Response> completion(reactor, response);
  loop->Post([server, method, request, caller = std::move(caller),
              completion = std::move(completion), ticket = std::move(*ticket)]() mutable {
    // A token issued through another member may need its Authenticate entry applied here.
    // The admission ticket is held until the answer, waiting included.
    server->WhenCallerReady(caller, [server, method, request, caller,
                                     completion = std::move(completion),
                                     ticket = std::move(ticket)]() mutable {
      (server->*method)(
          *request,
          [completion = std::move(completion), ticket = std::move(ticket)](
              absl::StatusOr<Response> result) mutable { completion.Finish(std::move(result)); },
          caller);
    });
  });
  return reactor;
}

// The same for a method that needs a root-role caller once auth is on (etcd's
// authMaintenanceServer): Server::CheckAdmin first, on the Loop.
template <typename Request, typename Response>
grpc::ServerUnaryReactor* RunAdminUnaryOnLoop(
    grpc::CallbackServerContext* context, env::Loop* loop, server::Server* server,
    void (server::Server::*method)(const Request&, server::Callback<Response>),
    const Request* request, Response* response, server::Caller caller) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  UnaryCompletion<Response> completion(reactor, response);
  loop->Post([server, method, request, caller = std::move(caller),
              completion = std::move(completion)]() mutable {
    server->WhenCallerReady(caller, [server, method, request, caller,
                                     completion = std::move(completion)]() mutable {
      absl::Status admin = server->CheckAdmin(caller);
      if (!admin.ok()) return completion.Finish(admin);
      (server->*method)(
          *request,
          [completion = std::move(completion)](absl::StatusOr<Response> result) mutable {
            completion.Finish(std::move(result));
          });
    });
  });
  return reactor;
}

// Finishes a call at once with `status` (validation failures before reaching the Loop).
inline grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context,
                                           const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

}  // namespace keel::node

#endif  // KEEL_NODE_GRPC_UNARY_CALL_H_
