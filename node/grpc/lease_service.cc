#include "node/grpc/lease_service.h"

#include <utility>

#include "base/check.h"
#include "node/grpc/status_convert.h"
#include "node/grpc/unary_call.h"

namespace keel::node {
namespace {

using KeepAliveReactorBase = grpc::ServerBidiReactor<etcdserverpb::LeaseKeepAliveRequest,
                                                     etcdserverpb::LeaseKeepAliveResponse>;

// etcd's message for an unknown lease (lease.ErrLeaseNotFound through rpctypes).
constexpr char kLeaseNotFoundMessage[] = "etcdserver: requested lease not found";

bool IsLeaseNotFound(const absl::Status& status) {
  return status.code() == absl::StatusCode::kNotFound && status.message() == kLeaseNotFoundMessage;
}

// etcd's v3rpc header.fill: this member's identity and state, for responses the v3rpc layer
// makes up itself (an unknown lease's keep-alive or time-to-live). On the Loop.
void FillHeader(const server::ServerStats& stats, etcdserverpb::ResponseHeader* header) {
  header->set_cluster_id(stats.cluster_id);
  header->set_member_id(stats.member_id);
  header->set_raft_term(stats.raft_term);
  header->set_revision(stats.revision);
}

// One LeaseKeepAlive stream. States alternate: reading -> on the Loop -> writing -> reading.
// Only one of those is ever active, so the members need no lock: each hand-over (StartRead,
// Post, StartWrite) is a happens-before edge.
class KeepAliveReactor final : public KeepAliveReactorBase {
 public:
  KeepAliveReactor(env::Loop* loop, server::Server* server) : loop_(loop), server_(server) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);  // client closed its side (etcd returns nil then)
      return;
    }
    loop_->Post([this] {
      server_->LeaseKeepAlive(request_,
                              [this](absl::StatusOr<etcdserverpb::LeaseKeepAliveResponse> result) {
                                OnKeepAliveDone(std::move(result));
                              });
    });
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);
      return;
    }
    StartRead(&request_);
  }

  void OnDone() override { delete this; }

 private:
  // On the Loop.
  void OnKeepAliveDone(absl::StatusOr<etcdserverpb::LeaseKeepAliveResponse> result) {
    if (!result.ok()) {
      // etcd answers a keep-alive for an unknown lease with TTL 0 rather than an error, so
      // that `etcdctl lease keep-alive` reports "lease ... expired or revoked".
      if (IsLeaseNotFound(result.status())) {
        response_.Clear();
        FillHeader(server_->Stats(), response_.mutable_header());
        response_.set_id(request_.id());
        response_.set_ttl(0);
        StartWrite(&response_);
        return;
      }
      Finish(ToGrpcStatus(result.status()));
      return;
    }
    response_ = *std::move(result);
    StartWrite(&response_);
  }

  env::Loop* const loop_;
  server::Server* const server_;
  etcdserverpb::LeaseKeepAliveRequest request_;
  etcdserverpb::LeaseKeepAliveResponse response_;
};

}  // namespace

grpc::ServerUnaryReactor* LeaseService::LeaseGrant(grpc::CallbackServerContext* context,
                                                   const etcdserverpb::LeaseGrantRequest* request,
                                                   etcdserverpb::LeaseGrantResponse* response) {
  return RunUnaryOnLoop(context, loop_, server_, &server::Server::LeaseGrant, request, response);
}

grpc::ServerUnaryReactor* LeaseService::LeaseRevoke(grpc::CallbackServerContext* context,
                                                    const etcdserverpb::LeaseRevokeRequest* request,
                                                    etcdserverpb::LeaseRevokeResponse* response) {
  return RunUnaryOnLoop(context, loop_, server_, &server::Server::LeaseRevoke, request, response,
                        CallerOf(*context, common_name_));
}

KeepAliveReactorBase* LeaseService::LeaseKeepAlive(grpc::CallbackServerContext* /*context*/) {
  return new KeepAliveReactor(loop_, server_);
}

grpc::ServerUnaryReactor* LeaseService::LeaseTimeToLive(
    grpc::CallbackServerContext* context, const etcdserverpb::LeaseTimeToLiveRequest* request,
    etcdserverpb::LeaseTimeToLiveResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  UnaryCompletion<etcdserverpb::LeaseTimeToLiveResponse> completion(reactor, response);
  server::Server* server = server_;
  loop_->Post([server, request, completion = std::move(completion)]() mutable {
    server->LeaseTimeToLive(
        *request, [server, id = request->id(), completion = std::move(completion)](
                      absl::StatusOr<etcdserverpb::LeaseTimeToLiveResponse> result) mutable {
          // etcd's v3rpc answers an unknown lease with TTL -1 ("lease ... already expired"),
          // not with an error.
          if (!result.ok() && IsLeaseNotFound(result.status())) {
            etcdserverpb::LeaseTimeToLiveResponse expired;
            FillHeader(server->Stats(), expired.mutable_header());
            expired.set_id(id);
            expired.set_ttl(-1);
            result = std::move(expired);
          }
          completion.Finish(std::move(result));
        });
  });
  return reactor;
}

grpc::ServerUnaryReactor* LeaseService::LeaseLeases(grpc::CallbackServerContext* context,
                                                    const etcdserverpb::LeaseLeasesRequest* request,
                                                    etcdserverpb::LeaseLeasesResponse* response) {
  return RunUnaryOnLoop(context, loop_, server_, &server::Server::LeaseLeases, request, response);
}

}  // namespace keel::node
