// etcdserverpb.Maintenance over the server core. Snapshot streams the member's state in
// chunks of `snapshot_chunk_bytes`, one Write outstanding at a time, each read on the Loop
// (the SnapshotReader belongs to the Loop like the rest of the Server), then etcd's
// trailing SHA-256 message. etcdctl 3.4 accepts the saved file only if its size is
// 32 mod 512 (a bbolt file plus the digest): the reader's total must be a multiple of 512.
#ifndef KEEL_NODE_GRPC_MAINTENANCE_SERVICE_H_
#define KEEL_NODE_GRPC_MAINTENANCE_SERVICE_H_

#include <cstddef>

#include "api/etcdserverpb/rpc.grpc.pb.h"
#include "env/env.h"
#include "node/grpc/caller.h"
#include "server/server.h"

namespace keel::node {

class MaintenanceService final : public etcdserverpb::Maintenance::CallbackService {
 public:
  // etcd sends 32 KiB snapshot chunks.
  static constexpr size_t kDefaultSnapshotChunkBytes = 32 * 1024;

  // `loop` and `server` outlive the gRPC server this service is registered with.
  // Defragment, Hash, HashKV and Snapshot need a root-role caller once auth is on.
  MaintenanceService(env::Loop* loop, server::Server* server,
                     size_t snapshot_chunk_bytes = kDefaultSnapshotChunkBytes,
                     CommonNameFn common_name = {})
      : loop_(loop),
        server_(server),
        snapshot_chunk_bytes_(snapshot_chunk_bytes),
        common_name_(std::move(common_name)) {}

  grpc::ServerUnaryReactor* Alarm(grpc::CallbackServerContext* context,
                                  const etcdserverpb::AlarmRequest* request,
                                  etcdserverpb::AlarmResponse* response) override;
  grpc::ServerUnaryReactor* Status(grpc::CallbackServerContext* context,
                                   const etcdserverpb::StatusRequest* request,
                                   etcdserverpb::StatusResponse* response) override;
  grpc::ServerUnaryReactor* Defragment(grpc::CallbackServerContext* context,
                                       const etcdserverpb::DefragmentRequest* request,
                                       etcdserverpb::DefragmentResponse* response) override;
  grpc::ServerUnaryReactor* Hash(grpc::CallbackServerContext* context,
                                 const etcdserverpb::HashRequest* request,
                                 etcdserverpb::HashResponse* response) override;
  grpc::ServerUnaryReactor* HashKV(grpc::CallbackServerContext* context,
                                   const etcdserverpb::HashKVRequest* request,
                                   etcdserverpb::HashKVResponse* response) override;
  grpc::ServerWriteReactor<etcdserverpb::SnapshotResponse>* Snapshot(
      grpc::CallbackServerContext* context, const etcdserverpb::SnapshotRequest* request) override;
  grpc::ServerUnaryReactor* MoveLeader(grpc::CallbackServerContext* context,
                                       const etcdserverpb::MoveLeaderRequest* request,
                                       etcdserverpb::MoveLeaderResponse* response) override;

 private:
  env::Loop* const loop_;
  server::Server* const server_;
  const size_t snapshot_chunk_bytes_;
  const CommonNameFn common_name_;
};

}  // namespace keel::node

#endif  // KEEL_NODE_GRPC_MAINTENANCE_SERVICE_H_
