// Every error the MVCC layer returns to a client, with the exact gRPC code and message of
// etcd 3.4 (etcdserver/api/v3rpc/rpctypes/error.go). etcdctl and client libraries match on
// these strings, so they are part of the wire contract: change none of them.
//
// absl::StatusCode values equal grpc::StatusCode values, so the gRPC layer converts with
// grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message())).
#ifndef KEEL_KV_ERRORS_H_
#define KEEL_KV_ERRORS_H_

#include <string_view>

#include "absl/status/status.h"

namespace keel::kv {

// Messages, exposed so tests and the gRPC layer can compare without retyping them.
inline constexpr char kMsgCompacted[] =
    "etcdserver: mvcc: required revision has been compacted";
inline constexpr char kMsgFutureRev[] =
    "etcdserver: mvcc: required revision is a future revision";
inline constexpr char kMsgEmptyKey[] = "etcdserver: key is not provided";
inline constexpr char kMsgKeyNotFound[] = "etcdserver: key not found";
inline constexpr char kMsgValueProvided[] = "etcdserver: value is provided";
inline constexpr char kMsgLeaseProvided[] = "etcdserver: lease is provided";
inline constexpr char kMsgTooManyOps[] =
    "etcdserver: too many operations in txn request";
inline constexpr char kMsgDuplicateKey[] =
    "etcdserver: duplicate key given in txn request";
inline constexpr char kMsgLeaseNotFound[] = "etcdserver: requested lease not found";
inline constexpr char kMsgLeaseExists[] = "etcdserver: lease already exists";
inline constexpr char kMsgLeaseTtlTooLarge[] = "etcdserver: too large lease TTL";
inline constexpr char kMsgRequestTooLarge[] = "etcdserver: request is too large";
inline constexpr char kMsgNoSpace[] = "etcdserver: mvcc: database space exceeded";

// Watch creation failures travel in WatchResponse.cancel_reason, not as a status
// (mvcc/watcher.go).
inline constexpr char kWatchReasonEmptyRange[] = "mvcc: watcher range is empty";
inline constexpr char kWatchReasonDuplicateId[] =
    "mvcc: duplicate watch ID provided on the WatchStream";

// OUT_OF_RANGE.
absl::Status CompactedError();
absl::Status FutureRevError();
// INVALID_ARGUMENT.
absl::Status EmptyKeyError();
absl::Status KeyNotFoundError();
absl::Status ValueProvidedError();
absl::Status LeaseProvidedError();
absl::Status TooManyOpsError();
absl::Status DuplicateKeyError();
absl::Status RequestTooLargeError();
// NOT_FOUND.
absl::Status LeaseNotFoundError();
// FAILED_PRECONDITION.
absl::Status LeaseExistsError();
// OUT_OF_RANGE.
absl::Status LeaseTtlTooLargeError();
// RESOURCE_EXHAUSTED.
absl::Status NoSpaceError();

}  // namespace keel::kv

#endif  // KEEL_KV_ERRORS_H_
