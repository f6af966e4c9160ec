#include "node/grpc/maintenance_service.h"

#include <openssl/evp.h>

#include <memory>
#include <string>
#include <utility>

#include "base/check.h"
#include "node/grpc/status_convert.h"
#include "node/grpc/unary_call.h"

namespace keel::node {
namespace {

// Streams one snapshot as etcd's v3rpc does: the data in chunks, then one last message whose
// blob is the SHA-256 of all the data (etcdctl 3.4 checks for it, and `snapshot restore`
// verifies it). Alternates: the Loop reads a chunk -> gRPC writes it -> the Loop reads the
// next; one step active at a time, so members need no lock. The reader is created, used
// and destroyed on the Loop.
class SnapshotReactor final : public grpc::ServerWriteReactor<etcdserverpb::SnapshotResponse> {
 public:
  SnapshotReactor(env::Loop* loop, size_t chunk_bytes)
      : loop_(loop), chunk_bytes_(chunk_bytes), digest_(EVP_MD_CTX_new()) {
    KEEL_CHECK(chunk_bytes_ > 0);
    KEEL_CHECK(digest_ != nullptr);
    KEEL_CHECK(EVP_DigestInit_ex(digest_, EVP_sha256(), nullptr) == 1);
  }
  ~SnapshotReactor() override { EVP_MD_CTX_free(digest_); }

  // On the Loop. Needs a root-role caller once auth is on (etcd's authMaintenanceServer).
  void Start(server::Server* server, const server::Caller& caller) {
    absl::Status admin = server->CheckAdmin(caller);
    if (!admin.ok()) {
      Finish(ToGrpcStatus(admin));
      return;
    }
    absl::StatusOr<std::unique_ptr<server::SnapshotReader>> reader = server->Snapshot();
    if (!reader.ok()) {
      Finish(ToGrpcStatus(reader.status()));
      return;
    }
    reader_ = *std::move(reader);
    WriteNext();
  }

  void OnWriteDone(bool ok) override {
    loop_->Post([this, ok] {
      if (!ok) {  // client gone
        reader_.reset();
        Finish(grpc::Status::CANCELLED);
      } else if (stage_ == Stage::kDigestSent) {
        Finish(grpc::Status::OK);
      } else {
        WriteNext();
      }
    });
  }

  void OnDone() override {
    loop_->Post([this] { delete this; });
  }

 private:
  enum class Stage { kData, kDataDone, kDigestSent };

  // On the Loop: the next data chunk, or the digest once the data is exhausted.
  void WriteNext() {
    response_.Clear();
    if (stage_ == Stage::kData) {
      uint64_t remaining_bytes = 0;
      absl::StatusOr<std::string> chunk = reader_->Next(chunk_bytes_, &remaining_bytes);
      if (!chunk.ok()) {
        reader_.reset();
        Finish(ToGrpcStatus(chunk.status()));
        return;
      }
      KEEL_CHECK(chunk->size() <= chunk_bytes_);
      if (!chunk->empty()) {
        KEEL_CHECK(EVP_DigestUpdate(digest_, chunk->data(), chunk->size()) == 1);
        if (remaining_bytes == 0) stage_ = Stage::kDataDone;
        response_.set_remaining_bytes(remaining_bytes);
        *response_.mutable_blob() = *std::move(chunk);
        StartWrite(&response_);
        return;
      }
      stage_ = Stage::kDataDone;  // exhausted exactly at a chunk boundary
    }
    KEEL_CHECK(stage_ == Stage::kDataDone);
    reader_.reset();
    unsigned char sha[EVP_MAX_MD_SIZE];
    unsigned int sha_bytes = 0;
    KEEL_CHECK(EVP_DigestFinal_ex(digest_, sha, &sha_bytes) == 1);
    KEEL_CHECK(sha_bytes == 32);
    response_.set_remaining_bytes(0);
    response_.set_blob(reinterpret_cast<const char*>(sha), sha_bytes);
    stage_ = Stage::kDigestSent;
    StartWrite(&response_);
  }

  env::Loop* const loop_;
  const size_t chunk_bytes_;
  EVP_MD_CTX* const digest_;
  std::unique_ptr<server::SnapshotReader> reader_;
  etcdserverpb::SnapshotResponse response_;
  Stage stage_ = Stage::kData;
};

}  // namespace

grpc::ServerUnaryReactor* MaintenanceService::Alarm(grpc::CallbackServerContext* context,
                                                    const etcdserverpb::AlarmRequest* request,
                                                    etcdserverpb::AlarmResponse* response) {
  return RunUnaryOnLoop(context, loop_, server_, &server::Server::Alarm, request, response);
}

grpc::ServerUnaryReactor* MaintenanceService::Status(grpc::CallbackServerContext* context,
                                                     const etcdserverpb::StatusRequest* request,
                                                     etcdserverpb::StatusResponse* response) {
  return RunUnaryOnLoop(context, loop_, server_, &server::Server::Status, request, response);
}

grpc::ServerUnaryReactor* MaintenanceService::Defragment(
    grpc::CallbackServerContext* context, const etcdserverpb::DefragmentRequest* request,
    etcdserverpb::DefragmentResponse* response) {
  return RunAdminUnaryOnLoop(context, loop_, server_, &server::Server::Defragment, request, response,
                             CallerOf(*context, common_name_));
}

grpc::ServerUnaryReactor* MaintenanceService::Hash(grpc::CallbackServerContext* context,
                                                   const etcdserverpb::HashRequest* request,
                                                   etcdserverpb::HashResponse* response) {
  return RunAdminUnaryOnLoop(context, loop_, server_, &server::Server::Hash, request, response,
                             CallerOf(*context, common_name_));
}

grpc::ServerUnaryReactor* MaintenanceService::HashKV(grpc::CallbackServerContext* context,
                                                     const etcdserverpb::HashKVRequest* request,
                                                     etcdserverpb::HashKVResponse* response) {
  return RunAdminUnaryOnLoop(context, loop_, server_, &server::Server::HashKV, request, response,
                             CallerOf(*context, common_name_));
}

grpc::ServerWriteReactor<etcdserverpb::SnapshotResponse>* MaintenanceService::Snapshot(
    grpc::CallbackServerContext* context, const etcdserverpb::SnapshotRequest* /*request*/) {
  auto* reactor = new SnapshotReactor(loop_, snapshot_chunk_bytes_);
  server::Server* server = server_;
  loop_->Post([reactor, server, caller = CallerOf(*context, common_name_)] {
    reactor->Start(server, caller);
  });
  return reactor;
}

grpc::ServerUnaryReactor* MaintenanceService::MoveLeader(
    grpc::CallbackServerContext* context, const etcdserverpb::MoveLeaderRequest* request,
    etcdserverpb::MoveLeaderResponse* response) {
  return RunUnaryOnLoop(context, loop_, server_, &server::Server::MoveLeader, request, response);
}

}  // namespace keel::node
