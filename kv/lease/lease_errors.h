// The lessor's one internal error; etcd's client-visible lease errors (not found, exists,
// TTL too large) live with every other etcd error in kv/errors.h.
#ifndef KEEL_KV_LEASE_LEASE_ERRORS_H_
#define KEEL_KV_LEASE_LEASE_ERRORS_H_

#include "absl/status/status.h"
#include "kv/errors.h"

namespace keel::kv {

// Keep-alive reached a member that is not the leader. Internal to the server: it forwards
// the request to the leader rather than returning this to a client.
inline absl::Status LeaseNotPrimaryError() {
  return absl::FailedPreconditionError("lessor: not primary");
}

}  // namespace keel::kv

#endif  // KEEL_KV_LEASE_LEASE_ERRORS_H_
