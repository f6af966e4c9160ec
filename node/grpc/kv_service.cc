#include "node/grpc/kv_service.h"

#include "node/grpc/unary_call.h"

namespace keel::node {

grpc::ServerUnaryReactor* KvService::Range(grpc::CallbackServerContext* context,
                                           const etcdserverpb::RangeRequest* request,
                                           etcdserverpb::RangeResponse* response) {
  return RunUnaryOnLoop(context, loop_, server_, &server::Server::Range, request, response,
                        CallerOf(*context, common_name_));
}

grpc::ServerUnaryReactor* KvService::Put(grpc::CallbackServerContext* context,
                                         const etcdserverpb::PutRequest* request,
                                         etcdserverpb::PutResponse* response) {
  return RunUnaryOnLoop(context, loop_, server_, &server::Server::Put, request, response,
                        CallerOf(*context, common_name_));
}

grpc::ServerUnaryReactor* KvService::DeleteRange(grpc::CallbackServerContext* context,
                                                 const etcdserverpb::DeleteRangeRequest* request,
                                                 etcdserverpb::DeleteRangeResponse* response) {
  return RunUnaryOnLoop(context, loop_, server_, &server::Server::DeleteRange, request, response,
                        CallerOf(*context, common_name_));
}

grpc::ServerUnaryReactor* KvService::Txn(grpc::CallbackServerContext* context,
                                         const etcdserverpb::TxnRequest* request,
                                         etcdserverpb::TxnResponse* response) {
  return RunUnaryOnLoop(context, loop_, server_, &server::Server::Txn, request, response,
                        CallerOf(*context, common_name_));
}

grpc::ServerUnaryReactor* KvService::Compact(grpc::CallbackServerContext* context,
                                             const etcdserverpb::CompactionRequest* request,
                                             etcdserverpb::CompactionResponse* response) {
  return RunUnaryOnLoop(context, loop_, server_, &server::Server::Compact, request, response);
}

}  // namespace keel::node
