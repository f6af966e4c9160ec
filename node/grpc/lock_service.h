// v3lockpb.Lock: etcd's distributed lock service (etcdserver/api/v3lock), built like etcd's
// on clientv3/concurrency.Mutex semantics, over the server core instead of a client:
//   Lock(name, lease): key = "<name>/<lease hex>" is created with the lease unless it
//     exists; the caller owns the lock when no key under "<name>/" has a smaller create
//     revision, else it waits for each such key's deletion (newest first). Answers the key,
//     which the caller passes to Unlock. The lease must be kept alive by the caller.
//   Unlock(key): deletes the key.
// A cancelled Lock call deletes its key, as etcd's Mutex.Lock does on a failed wait.
// Every request is made as the caller (token or certificate CN, caller.h): with auth on,
// locking needs read and write permission on "<name>/", as in etcd 3.4.
#ifndef KEEL_NODE_GRPC_LOCK_SERVICE_H_
#define KEEL_NODE_GRPC_LOCK_SERVICE_H_

#include "api/v3lockpb/v3lock.grpc.pb.h"
#include "env/env.h"
#include "node/grpc/caller.h"
#include "server/server.h"

namespace keel::node {

class LockService final : public v3lockpb::Lock::CallbackService {
 public:
  // `loop` and `server` outlive the gRPC server this service is registered with.
  LockService(env::Loop* loop, server::Server* server, CommonNameFn common_name = {})
      : loop_(loop), server_(server), common_name_(std::move(common_name)) {}

  grpc::ServerUnaryReactor* Lock(grpc::CallbackServerContext* context,
                                 const v3lockpb::LockRequest* request,
                                 v3lockpb::LockResponse* response) override;
  grpc::ServerUnaryReactor* Unlock(grpc::CallbackServerContext* context,
                                   const v3lockpb::UnlockRequest* request,
                                   v3lockpb::UnlockResponse* response) override;

 private:
  env::Loop* const loop_;
  server::Server* const server_;
  const CommonNameFn common_name_;
};

}  // namespace keel::node

#endif  // KEEL_NODE_GRPC_LOCK_SERVICE_H_
