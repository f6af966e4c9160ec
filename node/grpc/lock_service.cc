#include "node/grpc/lock_service.h"

#include <memory>
#include <string>
#include <utility>

#include "node/grpc/concurrency.h"
#include "node/grpc/loop_operation.h"
#include "node/grpc/unary_call.h"

namespace keel::node {
namespace {

// One Lock call: create-or-find my key, then wait for my predecessors (concurrency.Mutex).
class LockOperation final : public LoopOperation<v3lockpb::LockResponse> {
 public:
  LockOperation(env::Loop* loop, server::Server* server, server::Caller caller,
                grpc::ServerUnaryReactor* reactor, v3lockpb::LockResponse* response,
                std::string name, int64_t lease)
      : LoopOperation(loop, server, std::move(caller), reactor, response),
        prefix_(name + "/"),
        key_(SessionKey(prefix_, lease)),
        lease_(lease) {}

  void Start() override {
    etcdserverpb::TxnRequest txn;
    etcdserverpb::Compare* missing = txn.add_compare();
    missing->set_key(key_);
    missing->set_target(etcdserverpb::Compare::CREATE);
    missing->set_result(etcdserverpb::Compare::EQUAL);
    missing->set_create_revision(0);
    etcdserverpb::PutRequest* put = txn.add_success()->mutable_request_put();
    put->set_key(key_);
    put->set_lease(lease_);
    *txn.add_success()->mutable_request_range() = FirstCreatedRequest(prefix_);
    txn.add_failure()->mutable_request_range()->set_key(key_);
    *txn.add_failure()->mutable_request_range() = FirstCreatedRequest(prefix_);
    txn_in_flight_ = true;
    server()->Txn(
        txn, [self = SelfAs<LockOperation>()](absl::StatusOr<etcdserverpb::TxnResponse> result) {
          self->OnTxn(std::move(result));
        },
        caller());
  }

  void Cancel() override {
    if (finished()) return;
    waiter_.reset();
    // If the Txn is still in flight it may yet create the key: OnTxn deletes it then.
    if (!txn_in_flight_) Unlock();
    Finish(absl::CancelledError(kContextCanceledMessage));
  }

 private:
  void OnTxn(absl::StatusOr<etcdserverpb::TxnResponse> result) {
    txn_in_flight_ = false;
    if (!result.ok()) {
      Finish(result.status());
      return;
    }
    if (finished()) {  // cancelled meanwhile
      Unlock();
      return;
    }
    int64_t my_revision = result->header().revision();
    if (!result->succeeded()) {
      const auto& mine = result->responses(0).response_range();
      if (mine.kvs_size() == 0) {  // deleted between compare and read: cannot happen in a Txn
        Finish(absl::InternalError("lock key vanished inside a transaction"));
        return;
      }
      my_revision = mine.kvs(0).create_revision();
    }
    const auto& owner = result->responses(1).response_range();
    if (owner.kvs_size() == 0 || owner.kvs(0).create_revision() == my_revision) {
      Acquired(result->header());
      return;
    }
    waiter_ = std::make_unique<DeletionWaiter>(
        loop(), server(), caller(), prefix_, my_revision - 1,
        [self =
             SelfAs<LockOperation>()](absl::StatusOr<etcdserverpb::ResponseHeader> header) mutable {
          self->OnPredecessorsGone(std::move(header));
        });
  }

  void OnPredecessorsGone(absl::StatusOr<etcdserverpb::ResponseHeader> header) {
    // Runs inside the waiter's callback: release it from a fresh task, not here.
    loop()->Post([self = SelfAs<LockOperation>()] { self->waiter_.reset(); });
    if (finished()) return;
    if (!header.ok()) {
      Unlock();  // as etcd: a failed wait releases the key
      Finish(header.status());
      return;
    }
    Acquired(*header);
  }

  void Acquired(const etcdserverpb::ResponseHeader& header) {
    *response()->mutable_header() = header;
    response()->set_key(key_);
    Finish(absl::OkStatus());
  }

  // Fire and forget: the key's lease bounds its life if this delete is lost.
  void Unlock() {
    etcdserverpb::DeleteRangeRequest request;
    request.set_key(key_);
    server()->DeleteRange(
        request,
        [self = SelfAs<LockOperation>()](absl::StatusOr<etcdserverpb::DeleteRangeResponse>) {},
        caller());
  }

  const std::string prefix_;
  const std::string key_;
  const int64_t lease_;
  bool txn_in_flight_ = false;
  std::unique_ptr<DeletionWaiter> waiter_;
};

}  // namespace

grpc::ServerUnaryReactor* LockService::Lock(grpc::CallbackServerContext* context,
                                            const v3lockpb::LockRequest* request,
                                            v3lockpb::LockResponse* response) {
  return StartLoopOperation<LockOperation>(loop_, server_, CallerOf(*context, common_name_),
                                           response, request->name(), request->lease());
}

grpc::ServerUnaryReactor* LockService::Unlock(grpc::CallbackServerContext* context,
                                              const v3lockpb::UnlockRequest* request,
                                              v3lockpb::UnlockResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  UnaryCompletion<v3lockpb::UnlockResponse> completion(reactor, response);
  server::Server* server = server_;
  etcdserverpb::DeleteRangeRequest delete_request;
  delete_request.set_key(request->key());
  loop_->Post([server, delete_request = std::move(delete_request),
               caller = CallerOf(*context, common_name_),
               completion = std::move(completion)]() mutable {
    server->DeleteRange(delete_request,
                        [completion = std::move(completion)](
                            absl::StatusOr<etcdserverpb::DeleteRangeResponse> result) mutable {
                          if (!result.ok()) {
                            completion.Finish(AsEmbeddedClientError(result.status()));
                            return;
                          }
                          v3lockpb::UnlockResponse unlock;
                          *unlock.mutable_header() = result->header();
                          completion.Finish(std::move(unlock));
                        },
                        caller);
  });
  return reactor;
}

}  // namespace keel::node
