// The pieces of etcd's clientv3/concurrency that its Lock and Election services are built
// from, re-expressed as asynchronous operations on the server core's Loop:
//   * the Range requests in range_requests.h (WithFirstCreate, WithLastCreate);
//   * DeletionWaiter: waitDeletes(prefix, max_create_revision): until no key under the
//     prefix was created at or before max_create_revision, watch the newest such key for
//     its deletion (so each waiter wakes only when its direct predecessor goes: no herd).
//
// Everything here runs on the Loop. Callbacks never run after their owner is destroyed.
#ifndef KEEL_NODE_GRPC_CONCURRENCY_H_
#define KEEL_NODE_GRPC_CONCURRENCY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "api/etcdserverpb/rpc.pb.h"
#include "env/env.h"
#include "node/grpc/range_requests.h"
#include "server/server.h"

namespace keel::node {

// Watches one key from a revision until it is deleted. Owned by the caller; destroying it
// cancels the watch. `on_deleted` receives OK on deletion, or the watch's error (e.g. the
// start revision was compacted).
class KeyDeletionWatch final : public server::WatchSink {
 public:
  using Done = absl::AnyInvocable<void(absl::Status) &&>;
  // `caller` needs read permission on `key` once auth is on (else the watch is refused and
  // `on_deleted` receives the refusal).
  KeyDeletionWatch(env::Loop* loop, server::Server* server, const server::Caller& caller,
                   std::string key, int64_t start_revision, Done on_deleted);
  ~KeyDeletionWatch() override;
  bool Send(const std::vector<etcdserverpb::WatchResponse>& responses) override;

 private:
  void OnResponse(const etcdserverpb::WatchResponse& response);
  void Complete(absl::Status status);

  env::Loop* const loop_;
  Done on_deleted_;
  std::unique_ptr<server::WatchStream> stream_;
  // Shared with posted tasks so they can tell that this object is gone.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// etcd's waitDeletes. Destroying it abandons the wait (no callback).
class DeletionWaiter {
 public:
  using Done = absl::AnyInvocable<void(absl::StatusOr<etcdserverpb::ResponseHeader>) &&>;
  // Its reads and watches are made as `caller`.
  DeletionWaiter(env::Loop* loop, server::Server* server, server::Caller caller,
                 std::string prefix, int64_t max_create_revision, Done done);
  ~DeletionWaiter();

 private:
  void CheckPredecessor();
  void OnRange(absl::StatusOr<etcdserverpb::RangeResponse> result);

  env::Loop* const loop_;
  server::Server* const server_;
  const server::Caller caller_;
  const std::string prefix_;
  const int64_t max_create_revision_;
  Done done_;
  std::unique_ptr<KeyDeletionWatch> watch_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace keel::node

#endif  // KEEL_NODE_GRPC_CONCURRENCY_H_
