// etcdserverpb.KV over the server core: each method is one hop to the Loop and back.
#ifndef KEEL_NODE_GRPC_KV_SERVICE_H_
#define KEEL_NODE_GRPC_KV_SERVICE_H_

#include "api/etcdserverpb/rpc.grpc.pb.h"
#include "env/env.h"
#include "node/grpc/caller.h"
#include "server/server.h"

namespace keel::node {

class KvService final : public etcdserverpb::KV::CallbackService {
 public:
  // `loop` and `server` outlive the gRPC server this service is registered with.
  KvService(env::Loop* loop, server::Server* server, CommonNameFn common_name = {})
      : loop_(loop), server_(server), common_name_(std::move(common_name)) {}

  grpc::ServerUnaryReactor* Range(grpc::CallbackServerContext* context,
                                  const etcdserverpb::RangeRequest* request,
                                  etcdserverpb::RangeResponse* response) override;
  grpc::ServerUnaryReactor* Put(grpc::CallbackServerContext* context,
                                const etcdserverpb::PutRequest* request,
                                etcdserverpb::PutResponse* response) override;
  grpc::ServerUnaryReactor* DeleteRange(grpc::CallbackServerContext* context,
                                        const etcdserverpb::DeleteRangeRequest* request,
                                        etcdserverpb::DeleteRangeResponse* response) override;
  grpc::ServerUnaryReactor* Txn(grpc::CallbackServerContext* context,
                                const etcdserverpb::TxnRequest* request,
                                etcdserverpb::TxnResponse* response) override;
  grpc::ServerUnaryReactor* Compact(grpc::CallbackServerContext* context,
                                    const etcdserverpb::CompactionRequest* request,
                                    etcdserverpb::CompactionResponse* response) override;

 private:
  env::Loop* const loop_;
  server::Server* const server_;
  const CommonNameFn common_name_;
};

}  // namespace keel::node

#endif  // KEEL_NODE_GRPC_KV_SERVICE_H_
