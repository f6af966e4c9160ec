// How the client classifies a failed RPC. The one rule that matters: a write that may have
// reached the server and whose reply was lost has an UNKNOWN outcome. Retrying it could apply
// it twice (a second Put bumps the version, a second Txn re-runs its branch), so it is handed
// to the caller as a distinct error instead of being retried.
#ifndef KEEL_CLIENT_ERROR_KIND_H_
#define KEEL_CLIENT_ERROR_KIND_H_

#include <string_view>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace keel::client {

// Every outcome-unknown error carries this code and message prefix.
inline constexpr absl::StatusCode kOutcomeUnknownCode = absl::StatusCode::kUnavailable;
inline constexpr char kOutcomeUnknownPrefix[] = "outcome unknown: ";

// gRPC status -> absl::Status with the same code and the server's message verbatim (etcd's
// messages such as "etcdserver: requested lease not found" are part of the contract).
absl::Status FromGrpc(const grpc::Status& status);

// True when the attempt failed in a way another endpoint (or a later try) might not:
// transport failures and etcd's "request timed out" / "leader changed" / "no leader",
// which all travel as UNAVAILABLE.
bool IsTransient(const grpc::Status& status);

// Wraps a transient failure of a request that was sent and is not idempotent.
absl::Status OutcomeUnknown(const grpc::Status& status);

// True for errors produced by OutcomeUnknown.
bool IsOutcomeUnknown(const absl::Status& status);

}  // namespace keel::client

#endif  // KEEL_CLIENT_ERROR_KIND_H_
