#include "raft/errors.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace keel::raft {

absl::Status ErrCompacted() {
  return absl::OutOfRangeError("raft: requested index is unavailable due to compaction");
}
absl::Status ErrUnavailable() {
  return absl::NotFoundError("raft: requested entry at index is unavailable");
}
absl::Status ErrSnapOutOfDate() {
  return absl::FailedPreconditionError(
      "raft: requested index is older than the existing snapshot");
}
absl::Status ErrSnapshotTemporarilyUnavailable() {
  return absl::UnavailableError("raft: snapshot is temporarily unavailable");
}
absl::Status ErrProposalDropped(std::string_view reason) {
  return absl::AbortedError(absl::StrCat("raft proposal dropped: ", std::string(reason)));
}
absl::Status ErrStepLocalMsg() {
  return absl::InvalidArgumentError("raft: cannot step raft local message");
}
absl::Status ErrStepPeerNotFound() {
  return absl::PermissionDeniedError("raft: cannot step as peer not found");
}
absl::Status ErrInvalidConfChange(std::string_view reason) {
  return absl::InvalidArgumentError(absl::StrCat("raft: invalid conf change: ", std::string(reason)));
}

bool IsErrCompacted(const absl::Status& s) { return s.code() == absl::StatusCode::kOutOfRange; }
bool IsErrUnavailable(const absl::Status& s) { return s.code() == absl::StatusCode::kNotFound; }
bool IsErrSnapOutOfDate(const absl::Status& s) {
  return s.code() == absl::StatusCode::kFailedPrecondition;
}
bool IsErrSnapshotTemporarilyUnavailable(const absl::Status& s) {
  return s.code() == absl::StatusCode::kUnavailable;
}
bool IsErrProposalDropped(const absl::Status& s) {
  return s.code() == absl::StatusCode::kAborted;
}

}  // namespace keel::raft
