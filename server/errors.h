// Errors the server core returns (beyond the MVCC and lease errors of kv/errors.h), with
// the gRPC code and exact message of etcd 3.4 (etcdserver/api/v3rpc/rpctypes/error.go).
// kUnavailable errors mean the outcome is unknown: the request may still take effect.
#ifndef KEEL_SERVER_ERRORS_H_
#define KEEL_SERVER_ERRORS_H_

#include "absl/status/status.h"

namespace keel::server {

inline absl::Status NoLeaderError() { return absl::UnavailableError("etcdserver: no leader"); }
inline absl::Status NotLeaderError() {
  return absl::FailedPreconditionError("etcdserver: not leader");
}
inline absl::Status LeaderChangedError() {
  return absl::UnavailableError("etcdserver: leader changed");
}
inline absl::Status StoppedError() { return absl::UnavailableError("etcdserver: server stopped"); }
inline absl::Status TimeoutError() {
  return absl::UnavailableError("etcdserver: request timed out");
}
// MoveLeader's timeout (etcd's ErrGRPCTimeoutLeaderTransfer), not the generic one.
inline absl::Status LeaderTransferTimeoutError() {
  return absl::UnavailableError("etcdserver: request timed out, leader transfer took too long");
}
inline absl::Status TooManyRequestsError() {
  return absl::ResourceExhaustedError("etcdserver: too many requests");
}
inline absl::Status NotSupportedForLearnerError() {
  return absl::UnavailableError("etcdserver: rpc not supported for learner");
}
inline absl::Status MemberExistError() {
  return absl::FailedPreconditionError("etcdserver: member ID already exist");
}
inline absl::Status PeerUrlExistError() {
  return absl::FailedPreconditionError("etcdserver: Peer URLs already exists");
}
inline absl::Status MemberNotEnoughStartedError() {
  return absl::FailedPreconditionError(
      "etcdserver: re-configuration failed due to not enough started members");
}
inline absl::Status MemberBadUrlsError() {
  return absl::InvalidArgumentError("etcdserver: given member URLs are invalid");
}
inline absl::Status MemberNotFoundError() {
  return absl::NotFoundError("etcdserver: member not found");
}
inline absl::Status MemberNotLearnerError() {
  return absl::FailedPreconditionError("etcdserver: can only promote a learner member");
}
inline absl::Status LearnerNotReadyError() {
  return absl::FailedPreconditionError(
      "etcdserver: can only promote a learner member which is in sync with leader");
}
inline absl::Status BadLeaderTransfereeError() {
  return absl::FailedPreconditionError("etcdserver: bad leader transferee");
}
inline absl::Status TooManyLearnersError() {
  return absl::FailedPreconditionError("etcdserver: too many learner members in cluster");
}
// A CORRUPT alarm is raised: writes, compaction and lease changes are refused (etcd's
// applierV3Corrupt).
inline absl::Status CorruptError() { return absl::DataLossError("etcdserver: corrupt cluster"); }
// --strict-reconfig-check: the change would leave fewer started voters than a quorum.
inline absl::Status UnhealthyError() { return absl::UnavailableError("etcdserver: unhealthy cluster"); }

}  // namespace keel::server

#endif  // KEEL_SERVER_ERRORS_H_
