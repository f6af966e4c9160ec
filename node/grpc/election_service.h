// v3electionpb.Election: etcd's election service (etcdserver/api/v3election), with
// clientv3/concurrency.Election's semantics, over the server core:
//   Campaign(name, lease, value): create "<name>/<lease hex>" = value with the lease (or
//     reuse it, proclaiming the new value), then wait until every key under "<name>/" with
//     a smaller create revision is deleted. Answers the LeaderKey {name, key, rev, lease}.
//   Proclaim(leader, value): rewrite the leader key's value if it is still ours.
//   Resign(leader): delete the leader key if it is still ours.
//   Leader(name): the key under "<name>/" with the smallest create revision.
//   Observe(name): stream the leader's key/value now and on every change.
// Error messages are etcd's ("election: not leader", "election: no leader",
// "\"leader\" field must be provided"), with gRPC code UNKNOWN as etcd's plain Go errors get.
// Every request is made as the caller (token or certificate CN, caller.h), as etcd 3.4's
// service passes the incoming context to its in-process client: with auth on, the caller
// needs permission on "<name>/".
#ifndef KEEL_NODE_GRPC_ELECTION_SERVICE_H_
#define KEEL_NODE_GRPC_ELECTION_SERVICE_H_

#include <cstddef>

#include "api/v3electionpb/v3election.grpc.pb.h"
#include "env/env.h"
#include "node/grpc/caller.h"
#include "server/server.h"

namespace keel::node {

class ElectionService final : public v3electionpb::Election::CallbackService {
 public:
  // `loop` and `server` outlive the gRPC server this service is registered with.
  ElectionService(env::Loop* loop, server::Server* server, CommonNameFn common_name = {},
                  size_t max_queued_observations = 64)
      : loop_(loop),
        server_(server),
        common_name_(std::move(common_name)),
        max_queued_observations_(max_queued_observations) {}

  grpc::ServerUnaryReactor* Campaign(grpc::CallbackServerContext* context,
                                     const v3electionpb::CampaignRequest* request,
                                     v3electionpb::CampaignResponse* response) override;
  grpc::ServerUnaryReactor* Proclaim(grpc::CallbackServerContext* context,
                                     const v3electionpb::ProclaimRequest* request,
                                     v3electionpb::ProclaimResponse* response) override;
  grpc::ServerUnaryReactor* Leader(grpc::CallbackServerContext* context,
                                   const v3electionpb::LeaderRequest* request,
                                   v3electionpb::LeaderResponse* response) override;
  grpc::ServerWriteReactor<v3electionpb::LeaderResponse>* Observe(
      grpc::CallbackServerContext* context, const v3electionpb::LeaderRequest* request) override;
  grpc::ServerUnaryReactor* Resign(grpc::CallbackServerContext* context,
                                   const v3electionpb::ResignRequest* request,
                                   v3electionpb::ResignResponse* response) override;

 private:
  env::Loop* const loop_;
  server::Server* const server_;
  const CommonNameFn common_name_;
  const size_t max_queued_observations_;
};

}  // namespace keel::node

#endif  // KEEL_NODE_GRPC_ELECTION_SERVICE_H_
