// The errors Raft reports, as absl::Status values with one distinct code each, so callers
// can branch on the code and humans can read the message.
//
//   ErrCompacted        kOutOfRange          the index was compacted into a snapshot
//   ErrUnavailable      kNotFound            the index is beyond the end of storage
//   ErrSnapOutOfDate    kFailedPrecondition  a snapshot older than the current one
//   ErrSnapshotTemporarilyUnavailable
//                       kUnavailable         storage is still producing a snapshot
//   ErrProposalDropped  kAborted             the proposal was not appended (no leader,
//                                            forwarding disabled, transfer in progress,
//                                            uncommitted-size cap, removed leader)
//   ErrStepLocalMsg     kInvalidArgument     a local-only message arrived from the network
//   ErrStepPeerNotFound kPermissionDenied    a response from a peer not in the config
//   ErrInvalidConfChange kInvalidArgument    a configuration change that is unsafe
#ifndef KEEL_RAFT_ERRORS_H_
#define KEEL_RAFT_ERRORS_H_

#include <string_view>

#include "absl/status/status.h"

namespace keel::raft {

absl::Status ErrCompacted();
absl::Status ErrUnavailable();
absl::Status ErrSnapOutOfDate();
absl::Status ErrSnapshotTemporarilyUnavailable();
absl::Status ErrProposalDropped(std::string_view reason);
absl::Status ErrStepLocalMsg();
absl::Status ErrStepPeerNotFound();
absl::Status ErrInvalidConfChange(std::string_view reason);

bool IsErrCompacted(const absl::Status& s);
bool IsErrUnavailable(const absl::Status& s);
bool IsErrSnapOutOfDate(const absl::Status& s);
bool IsErrSnapshotTemporarilyUnavailable(const absl::Status& s);
bool IsErrProposalDropped(const absl::Status& s);

}  // namespace keel::raft

#endif  // KEEL_RAFT_ERRORS_H_
