// Keeps one lease alive from a background thread: a refresh every TTL/3 on a LeaseKeepAlive
// stream, reopened on another endpoint when the stream breaks. The thread ends when the lease
// is gone (the server answers TTL <= 0), when no endpoint answers before the lease would have
// expired, or when the object is destroyed. Refreshing a lease twice is harmless, so
// reconnecting and re-sending is always safe.
#ifndef KEEL_CLIENT_LEASE_KEEP_ALIVE_H_
#define KEEL_CLIENT_LEASE_KEEP_ALIVE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <thread>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "api/etcdserverpb/rpc.pb.h"
#include "client/client.h"

namespace keel::client {

class LeaseKeepAlive {
 public:
  // Called on the keep-alive thread after every response; must not block for long.
  using OnResponse = std::function<void(const etcdserverpb::LeaseKeepAliveResponse&)>;

  // Starts the thread. `ttl_seconds` is the lease's granted TTL (it sets the refresh period).
  static std::unique_ptr<LeaseKeepAlive> Start(Client* client, int64_t lease_id, int64_t ttl_seconds,
                                               OnResponse on_response = nullptr);
  ~LeaseKeepAlive();  // stops and joins the thread

  // OK while the lease is being kept alive; NOT_FOUND once the lease is gone; UNAVAILABLE
  // when refreshes failed for longer than the TTL.
  absl::Status status() const;
  // Blocks until the keep-alive stops (status() not OK) or `timeout` passes.
  absl::Status WaitDone(absl::Duration timeout) const;
  int64_t responses() const;

 private:
  LeaseKeepAlive(Client* client, int64_t lease_id, int64_t ttl_seconds, OnResponse on_response);
  void Run();
  bool Stopping() const;

  Client* const client_;  // not owned; outlives this object
  const int64_t lease_id_;
  const absl::Duration period_;
  const absl::Duration ttl_;
  const OnResponse on_response_;
  mutable absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  int64_t responses_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace keel::client

#endif  // KEEL_CLIENT_LEASE_KEEP_ALIVE_H_
