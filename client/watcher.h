// A watch that survives the loss of its server. After a disconnect it re-creates the watch
// on another endpoint starting at (last revision seen) + 1, so the caller sees every event
// exactly once and in order, as etcd's own client does. If the server has compacted past
// that revision the resume cannot be exact: Next() then fails with OUT_OF_RANGE naming the
// compact revision, never silently skipping events.
//
// Caller-driven: Next() blocks on the calling thread. Cancel() may be called from any thread.
#ifndef KEEL_CLIENT_WATCHER_H_
#define KEEL_CLIENT_WATCHER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "api/etcdserverpb/rpc.grpc.pb.h"
#include "client/client.h"
#include "grpcpp/client_context.h"

namespace keel::client {

struct WatchOptions {
  std::string key;
  std::string range_end;       // empty: only `key`
  int64_t start_revision = 0;  // 0: from now
  bool prev_kv = false;
  bool progress_notify = false;
  // How long to keep trying to resume after a disconnect before giving up.
  absl::Duration resume_timeout = absl::Seconds(30);
};

class Watcher {
 public:
  // Creates the watch and waits for the server's "created" confirmation.
  static absl::StatusOr<std::unique_ptr<Watcher>> Create(Client* client, WatchOptions options);
  ~Watcher();

  // The next response that carries events or is a progress notification. Errors:
  // OUT_OF_RANGE when the start or resume revision is compacted, CANCELLED after Cancel(),
  // UNAVAILABLE when no endpoint could resume within resume_timeout.
  absl::StatusOr<etcdserverpb::WatchResponse> Next();
  void Cancel();
  // The revision the watch resumes from after a disconnect.
  int64_t next_revision() const { return next_revision_; }
  int resume_count() const { return resume_count_; }

 private:
  Watcher(Client* client, WatchOptions options);
  absl::Status Open();
  absl::Status Resume(const grpc::Status& cause);

  Client* const client_;  // not owned
  const WatchOptions options_;
  int64_t next_revision_;
  int resume_count_ = 0;
  std::shared_ptr<Endpoint> endpoint_;
  absl::Mutex mu_;  // guards context_ pointer swaps against Cancel()
  std::unique_ptr<grpc::ClientContext> context_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  std::unique_ptr<grpc::ClientReaderWriter<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse>> stream_;
};

}  // namespace keel::client

#endif  // KEEL_CLIENT_WATCHER_H_
