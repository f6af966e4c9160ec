#include "node/grpc/election_service.h"

#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/check.h"
#include "node/grpc/concurrency.h"
#include "node/grpc/loop_operation.h"
#include "node/grpc/unary_call.h"

namespace keel::node {
namespace {

constexpr char kNotLeaderMessage[] = "election: not leader";
constexpr char kNoLeaderMessage[] = "election: no leader";
constexpr char kMissingLeaderKeyMessage[] = "\"leader\" field must be provided";

std::string ElectionPrefix(const std::string& name) { return name + "/"; }

// Txn: if create_revision(key) == revision then `then_op`.
etcdserverpb::TxnRequest IfOwned(const std::string& key, int64_t revision) {
  etcdserverpb::TxnRequest txn;
  etcdserverpb::Compare* owned = txn.add_compare();
  owned->set_key(key);
  owned->set_target(etcdserverpb::Compare::CREATE);
  owned->set_result(etcdserverpb::Compare::EQUAL);
  owned->set_create_revision(revision);
  return txn;
}

etcdserverpb::TxnRequest ProclaimTxn(const v3electionpb::LeaderKey& leader,
                                     const std::string& value) {
  etcdserverpb::TxnRequest txn = IfOwned(leader.key(), leader.rev());
  etcdserverpb::PutRequest* put = txn.add_success()->mutable_request_put();
  put->set_key(leader.key());
  put->set_value(value);
  put->set_lease(leader.lease());
  return txn;
}

// ---- Campaign ----
class CampaignOperation final : public LoopOperation<v3electionpb::CampaignResponse> {
 public:
  CampaignOperation(env::Loop* loop, server::Server* server, server::Caller caller,
                    grpc::ServerUnaryReactor* reactor, v3electionpb::CampaignResponse* response,
                    v3electionpb::CampaignRequest request)
      : LoopOperation(loop, server, std::move(caller), reactor, response),
        request_(std::move(request)) {
    leader_.set_name(request_.name());
    leader_.set_key(SessionKey(ElectionPrefix(request_.name()), request_.lease()));
    leader_.set_lease(request_.lease());
  }

  void Start() override {
    etcdserverpb::TxnRequest txn = IfOwned(leader_.key(), 0);
    etcdserverpb::PutRequest* put = txn.add_success()->mutable_request_put();
    put->set_key(leader_.key());
    put->set_value(request_.value());
    put->set_lease(request_.lease());
    txn.add_failure()->mutable_request_range()->set_key(leader_.key());
    in_flight_ = true;
    server()->Txn(txn, [self = SelfAs<CampaignOperation>()](
                           absl::StatusOr<etcdserverpb::TxnResponse> result) {
      self->OnCreated(std::move(result));
    }, caller());
  }

  void Cancel() override {
    if (finished()) return;
    waiter_.reset();
    if (!in_flight_ && leader_.rev() != 0) Resign();
    Finish(absl::CancelledError(kContextCanceledMessage));
  }

 private:
  void OnCreated(absl::StatusOr<etcdserverpb::TxnResponse> result) {
    in_flight_ = false;
    if (!result.ok()) {
      Finish(result.status());
      return;
    }
    header_ = result->header();
    leader_.set_rev(result->header().revision());
    bool proclaim = false;
    if (!result->succeeded()) {
      const auto& existing = result->responses(0).response_range();
      if (existing.kvs_size() == 0) {
        Finish(absl::InternalError("election key vanished inside a transaction"));
        return;
      }
      leader_.set_rev(existing.kvs(0).create_revision());
      proclaim = existing.kvs(0).value() != request_.value();
    }
    if (finished()) {  // cancelled while the Txn was in flight
      Resign();
      return;
    }
    if (!proclaim) {
      WaitForPredecessors();
      return;
    }
    in_flight_ = true;
    server()->Txn(
        ProclaimTxn(leader_, request_.value()),
        [self = SelfAs<CampaignOperation>()](absl::StatusOr<etcdserverpb::TxnResponse> proclaimed) {
          self->in_flight_ = false;
          if (self->finished()) {
            self->Resign();
          } else if (!proclaimed.ok()) {
            self->Finish(proclaimed.status());
          } else if (!proclaimed->succeeded()) {
            self->Finish(absl::UnknownError(kNotLeaderMessage));
          } else {
            self->WaitForPredecessors();
          }
        },
        caller());
  }

  void WaitForPredecessors() {
    waiter_ = std::make_unique<DeletionWaiter>(
        loop(), server(), caller(), ElectionPrefix(request_.name()), leader_.rev() - 1,
        [self = SelfAs<CampaignOperation>()](
            absl::StatusOr<etcdserverpb::ResponseHeader> header) mutable {
          self->loop()->Post([self] { self->waiter_.reset(); });
          if (self->finished()) return;
          if (!header.ok()) {
            self->Finish(header.status());
            return;
          }
          *self->response()->mutable_header() = self->header_;  // etcd: the campaign's header
          *self->response()->mutable_leader() = self->leader_;
          self->Finish(absl::OkStatus());
        });
  }

  // Fire and forget, guarded by ownership (the key's lease bounds its life otherwise).
  void Resign() {
    etcdserverpb::TxnRequest txn = IfOwned(leader_.key(), leader_.rev());
    txn.add_success()->mutable_request_delete_range()->set_key(leader_.key());
    server()->Txn(
        txn, [self = SelfAs<CampaignOperation>()](absl::StatusOr<etcdserverpb::TxnResponse>) {},
        caller());
  }

  const v3electionpb::CampaignRequest request_;
  v3electionpb::LeaderKey leader_;
  etcdserverpb::ResponseHeader header_;
  bool in_flight_ = false;
  std::unique_ptr<DeletionWaiter> waiter_;
};

// ---- Observe ----
// Streams the current leader, then every change of the leader's key; when that key is
// deleted, looks up (or waits for) the next leader. Outgoing responses are bounded by
// max_queued; a full queue pushes back on the watch through WatchSink::Send.
class ObserveReactor final : public grpc::ServerWriteReactor<v3electionpb::LeaderResponse> {
 public:
  ObserveReactor(env::Loop* loop, server::Server* server, server::Caller caller, std::string name,
                 size_t max_queued)
      : loop_(loop),
        server_(server),
        caller_(std::move(caller)),
        prefix_(ElectionPrefix(name)),
        max_queued_(max_queued) {}

  // On the Loop.
  void Start() { FindLeader(); }

  void OnWriteDone(bool ok) override {
    loop_->Post([this, ok] {
      KEEL_CHECK(write_in_flight_ && !queue_.empty());
      write_in_flight_ = false;
      queue_.pop_front();
      if (!ok) {
        End(grpc::Status::CANCELLED);
        return;
      }
      if (!queue_.empty()) StartNextWrite();
      if (blocked_ && queue_.size() < max_queued_ && watch_ != nullptr) {
        blocked_ = false;
        watch_->stream->OnSinkWritable();
      }
      MaybeFinish();
    });
  }
  void OnCancel() override {
    loop_->Post([this] { End(grpc::Status::CANCELLED); });
  }
  void OnDone() override {
    loop_->Post([this] {
      *alive_ = false;
      delete this;
    });
  }

  // A watch's sink: tags its responses with the watch's generation, so that a retired
  // watch's last responses (delivered before its stream is destroyed) are ignored.
  class GenerationSink final : public server::WatchSink {
   public:
    GenerationSink(ObserveReactor* owner, uint64_t generation)
        : owner_(owner), generation_(generation) {}
    bool Send(const std::vector<etcdserverpb::WatchResponse>& responses) override {
      return owner_->OnWatchResponses(generation_, responses);
    }

   private:
    ObserveReactor* const owner_;
    const uint64_t generation_;
  };

  // Destruction order matters: the stream (declared last) goes before its sink.
  struct ActiveWatch {
    std::unique_ptr<GenerationSink> sink;
    std::unique_ptr<server::WatchStream> stream;
  };

  bool OnWatchResponses(uint64_t generation,
                        const std::vector<etcdserverpb::WatchResponse>& responses) {
    if (ending_ || generation != generation_) return true;
    if (!queue_.empty() && queue_.size() + responses.size() > max_queued_) {
      blocked_ = true;
      return false;
    }
    for (const etcdserverpb::WatchResponse& response : responses) {
      if (generation != generation_) break;  // the leader changed mid-batch
      OnWatchResponse(response);
    }
    return true;
  }

  enum class Phase { kFinding, kAwaitingFirstPut, kFollowingLeader };

  void FindLeader() {
    phase_ = Phase::kFinding;
    server_->Range(FirstCreatedRequest(prefix_),
                   [this, alive = alive_](absl::StatusOr<etcdserverpb::RangeResponse> result) {
                     if (!*alive || ending_) return;
                     if (!result.ok()) {
                       // etcd's Observe closes its channel on a failed Get: the
                       // stream ends OK with nothing sent.
                       End(grpc::Status::OK);
                       return;
                     }
                     if (result->kvs_size() == 0) {
                       phase_ = Phase::kAwaitingFirstPut;
                       Watch(prefix_, PrefixEnd(prefix_), result->header().revision());
                       return;
                     }
                     Observed(result->header(), result->kvs(0));
                   },
                   caller_);
  }

  void Observed(const etcdserverpb::ResponseHeader& header, const mvccpb::KeyValue& kv) {
    Enqueue(header, kv);
    phase_ = Phase::kFollowingLeader;
    Watch(kv.key(), "", header.revision() + 1);
  }

  void Watch(const std::string& key, const std::string& range_end, int64_t start_revision) {
    ReplaceStream();
    watch_ = std::make_unique<ActiveWatch>();
    watch_->sink = std::make_unique<GenerationSink>(this, ++generation_);
    watch_->stream = server_->NewWatchStream(watch_->sink.get(), caller_);
    etcdserverpb::WatchRequest request;
    auto* create = request.mutable_create_request();
    create->set_key(key);
    create->set_range_end(range_end);
    create->set_start_revision(start_revision);
    watch_->stream->Handle(request);
  }

  // Watch streams are never destroyed inside their own Send: retire, then free later.
  void ReplaceStream() {
    ++generation_;  // whatever the old stream still delivers is now stale
    if (watch_ == nullptr) return;
    std::shared_ptr<ActiveWatch> retired(std::move(watch_));
    loop_->Post([retired] {});
  }

  void OnWatchResponse(const etcdserverpb::WatchResponse& response) {
    if (response.canceled() || response.compact_revision() > 0) {
      End(grpc::Status::OK);  // etcd closes the observe channel on watch errors
      return;
    }
    for (const mvccpb::Event& event : response.events()) {
      if (phase_ == Phase::kAwaitingFirstPut) {
        if (event.type() != mvccpb::Event::PUT) continue;
        etcdserverpb::ResponseHeader header = response.header();
        header.set_revision(event.kv().mod_revision());
        Observed(header, event.kv());
        return;
      }
      if (event.type() == mvccpb::Event::DELETE) {
        ReplaceStream();
        FindLeader();
        return;
      }
      Enqueue(response.header(), event.kv());
    }
  }

  void Enqueue(const etcdserverpb::ResponseHeader& header, const mvccpb::KeyValue& kv) {
    v3electionpb::LeaderResponse response;
    *response.mutable_header() = header;
    *response.mutable_kv() = kv;
    queue_.push_back(std::move(response));
    if (!write_in_flight_) StartNextWrite();
  }

  void StartNextWrite() {
    KEEL_CHECK(!write_in_flight_ && !queue_.empty());
    write_in_flight_ = true;
    StartWrite(&queue_.front());
  }

  void End(grpc::Status status) {
    if (!ending_) {
      ending_ = true;
      end_status_ = std::move(status);
      ReplaceStream();
      while (queue_.size() > (write_in_flight_ ? 1u : 0u)) queue_.pop_back();
    }
    MaybeFinish();
  }

  void MaybeFinish() {
    if (!ending_ || write_in_flight_ || finished_) return;
    finished_ = true;
    Finish(end_status_);
  }

  env::Loop* const loop_;
  server::Server* const server_;
  const server::Caller caller_;
  const std::string prefix_;
  const size_t max_queued_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  Phase phase_ = Phase::kFinding;
  std::unique_ptr<ActiveWatch> watch_;
  uint64_t generation_ = 0;
  std::deque<v3electionpb::LeaderResponse> queue_;
  bool write_in_flight_ = false;
  bool blocked_ = false;
  bool ending_ = false;
  bool finished_ = false;
  grpc::Status end_status_;
};

}  // namespace

grpc::ServerUnaryReactor* ElectionService::Campaign(grpc::CallbackServerContext* context,
                                                    const v3electionpb::CampaignRequest* request,
                                                    v3electionpb::CampaignResponse* response) {
  return StartLoopOperation<CampaignOperation>(loop_, server_, CallerOf(*context, common_name_),
                                               response, *request);
}

grpc::ServerUnaryReactor* ElectionService::Proclaim(grpc::CallbackServerContext* context,
                                                    const v3electionpb::ProclaimRequest* request,
                                                    v3electionpb::ProclaimResponse* response) {
  if (!request->has_leader()) {
    return FinishNow(context, absl::UnknownError(kMissingLeaderKeyMessage));
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  UnaryCompletion<v3electionpb::ProclaimResponse> completion(reactor, response);
  server::Server* server = server_;
  loop_->Post([server, txn = ProclaimTxn(request->leader(), request->value()),
               caller = CallerOf(*context, common_name_),
               completion = std::move(completion)]() mutable {
    server->Txn(txn, [completion = std::move(completion)](
                         absl::StatusOr<etcdserverpb::TxnResponse> result) mutable {
      if (!result.ok()) return completion.Finish(AsEmbeddedClientError(result.status()));
      if (!result->succeeded()) return completion.Finish(absl::UnknownError(kNotLeaderMessage));
      v3electionpb::ProclaimResponse proclaimed;
      *proclaimed.mutable_header() = result->header();
      completion.Finish(std::move(proclaimed));
    }, caller);
  });
  return reactor;
}

grpc::ServerUnaryReactor* ElectionService::Leader(grpc::CallbackServerContext* context,
                                                  const v3electionpb::LeaderRequest* request,
                                                  v3electionpb::LeaderResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  UnaryCompletion<v3electionpb::LeaderResponse> completion(reactor, response);
  server::Server* server = server_;
  loop_->Post([server, range = FirstCreatedRequest(ElectionPrefix(request->name())),
               caller = CallerOf(*context, common_name_),
               completion = std::move(completion)]() mutable {
    server->Range(range, [completion = std::move(completion)](
                             absl::StatusOr<etcdserverpb::RangeResponse> result) mutable {
      if (!result.ok()) return completion.Finish(AsEmbeddedClientError(result.status()));
      if (result->kvs_size() == 0) return completion.Finish(absl::UnknownError(kNoLeaderMessage));
      v3electionpb::LeaderResponse leader;
      *leader.mutable_header() = result->header();
      *leader.mutable_kv() = result->kvs(0);
      completion.Finish(std::move(leader));
    }, caller);
  });
  return reactor;
}

grpc::ServerWriteReactor<v3electionpb::LeaderResponse>* ElectionService::Observe(
    grpc::CallbackServerContext* context, const v3electionpb::LeaderRequest* request) {
  auto* reactor = new ObserveReactor(loop_, server_, CallerOf(*context, common_name_),
                                     request->name(), max_queued_observations_);
  loop_->Post([reactor] { reactor->Start(); });
  return reactor;
}

grpc::ServerUnaryReactor* ElectionService::Resign(grpc::CallbackServerContext* context,
                                                  const v3electionpb::ResignRequest* request,
                                                  v3electionpb::ResignResponse* response) {
  if (!request->has_leader()) {
    return FinishNow(context, absl::UnknownError(kMissingLeaderKeyMessage));
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  UnaryCompletion<v3electionpb::ResignResponse> completion(reactor, response);
  etcdserverpb::TxnRequest txn = IfOwned(request->leader().key(), request->leader().rev());
  txn.add_success()->mutable_request_delete_range()->set_key(request->leader().key());
  server::Server* server = server_;
  loop_->Post([server, txn = std::move(txn), caller = CallerOf(*context, common_name_),
               completion = std::move(completion)]() mutable {
    server->Txn(txn, [completion = std::move(completion)](
                         absl::StatusOr<etcdserverpb::TxnResponse> result) mutable {
      if (!result.ok()) return completion.Finish(AsEmbeddedClientError(result.status()));
      // etcd's Resign succeeds whether or not the key was still ours.
      v3electionpb::ResignResponse resigned;
      *resigned.mutable_header() = result->header();
      completion.Finish(std::move(resigned));
    }, caller);
  });
  return reactor;
}

}  // namespace keel::node
