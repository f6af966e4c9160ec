// LoopOperation: a unary call whose work spans several Server round trips on the Loop and
// may wait without bound (acquiring a lock, campaigning), so client cancellation must stop
// it and release what it holds.
//
// Ownership: the operation is shared (std::shared_ptr): every pending Server callback holds
// a reference, so it lives until its last callback has run. The reactor holds only a weak
// reference and forwards OnCancel to the Loop. Finish is called exactly once, on the Loop;
// afterwards the operation touches neither the reactor nor the response.
#ifndef KEEL_NODE_GRPC_LOOP_OPERATION_H_
#define KEEL_NODE_GRPC_LOOP_OPERATION_H_

#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "env/env.h"
#include "grpcpp/grpcpp.h"
#include "node/grpc/status_convert.h"
#include "server/server.h"

namespace keel::node {

// gRPC-go's message for a cancelled context, which etcd clients see.
inline constexpr char kContextCanceledMessage[] = "context canceled";

class LoopOperationBase : public std::enable_shared_from_this<LoopOperationBase> {
 public:
  LoopOperationBase(env::Loop* loop, server::Server* server, server::Caller caller)
      : loop_(loop), server_(server), caller_(std::move(caller)) {}
  virtual ~LoopOperationBase() = default;

  // On the Loop, once.
  virtual void Start() = 0;
  // On the Loop: the client went away. Release what is held, then finish.
  virtual void Cancel() = 0;

  // Who called (token, certificate CN): every Server request the operation makes carries
  // it, as etcd's v3lock/v3election pass the incoming context (and so its auth metadata)
  // to their in-process client.
  const server::Caller& caller() const { return caller_; }

 protected:
  env::Loop* loop() const { return loop_; }
  server::Server* server() const { return server_; }

 private:
  env::Loop* const loop_;
  server::Server* const server_;
  const server::Caller caller_;
};

// The reactor: forwards cancellation to the Loop and frees itself when gRPC is done.
class CancellableUnaryReactor final : public grpc::ServerUnaryReactor {
 public:
  explicit CancellableUnaryReactor(env::Loop* loop) : loop_(loop) {}
  // Before the reactor is returned to gRPC.
  void Attach(std::weak_ptr<LoopOperationBase> operation) { operation_ = std::move(operation); }

  void OnCancel() override {
    loop_->Post([operation = operation_] {
      if (std::shared_ptr<LoopOperationBase> op = operation.lock()) op->Cancel();
    });
  }
  void OnDone() override { delete this; }

 private:
  env::Loop* const loop_;
  std::weak_ptr<LoopOperationBase> operation_;
};

template <typename Response>
class LoopOperation : public LoopOperationBase {
 public:
  LoopOperation(env::Loop* loop, server::Server* server, server::Caller caller,
                grpc::ServerUnaryReactor* reactor, Response* response)
      : LoopOperationBase(loop, server, std::move(caller)),
        reactor_(reactor),
        response_(response) {}

  // If the Loop drops the operation before finishing it (shutdown), the call still ends.
  ~LoopOperation() override {
    if (reactor_ != nullptr) {
      reactor_->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "etcdserver: server stopped"));
    }
  }

 protected:
  bool finished() const { return reactor_ == nullptr; }
  Response* response() { return response_; }

  void Finish(const absl::Status& status) {
    if (reactor_ == nullptr) return;
    std::exchange(reactor_, nullptr)->Finish(ToGrpcStatus(AsEmbeddedClientError(status)));
  }

  // This operation as its concrete type, to keep it alive in a Server callback.
  template <typename Derived>
  std::shared_ptr<Derived> SelfAs() {
    return std::static_pointer_cast<Derived>(shared_from_this());
  }

 private:
  grpc::ServerUnaryReactor* reactor_;
  Response* response_;
};

// Creates `Op(loop, server, caller, reactor, response, args...)`, wires cancellation, starts
// it on the Loop, and returns the reactor for gRPC.
template <typename Op, typename Response, typename... Args>
grpc::ServerUnaryReactor* StartLoopOperation(env::Loop* loop, server::Server* server,
                                             server::Caller caller, Response* response,
                                             Args&&... args) {
  auto* reactor = new CancellableUnaryReactor(loop);
  auto op = std::make_shared<Op>(loop, server, std::move(caller), reactor, response,
                                 std::forward<Args>(args)...);
  reactor->Attach(op);
  loop->Post([server, op] {
    server->WhenCallerReady(op->caller(), [op] { op->Start(); });
  });
  return reactor;
}

}  // namespace keel::node

#endif  // KEEL_NODE_GRPC_LOOP_OPERATION_H_
