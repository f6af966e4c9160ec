#include "kv/errors.h"

namespace keel::kv {

absl::Status CompactedError() { return absl::OutOfRangeError(kMsgCompacted); }
absl::Status FutureRevError() { return absl::OutOfRangeError(kMsgFutureRev); }
absl::Status EmptyKeyError() { return absl::InvalidArgumentError(kMsgEmptyKey); }
absl::Status KeyNotFoundError() { return absl::InvalidArgumentError(kMsgKeyNotFound); }
absl::Status ValueProvidedError() { return absl::InvalidArgumentError(kMsgValueProvided); }
absl::Status LeaseProvidedError() { return absl::InvalidArgumentError(kMsgLeaseProvided); }
absl::Status TooManyOpsError() { return absl::InvalidArgumentError(kMsgTooManyOps); }
absl::Status DuplicateKeyError() { return absl::InvalidArgumentError(kMsgDuplicateKey); }
absl::Status RequestTooLargeError() {
  return absl::InvalidArgumentError(kMsgRequestTooLarge);
}
absl::Status LeaseNotFoundError() { return absl::NotFoundError(kMsgLeaseNotFound); }
absl::Status LeaseExistsError() { return absl::FailedPreconditionError(kMsgLeaseExists); }
absl::Status LeaseTtlTooLargeError() { return absl::OutOfRangeError(kMsgLeaseTtlTooLarge); }
absl::Status NoSpaceError() { return absl::ResourceExhaustedError(kMsgNoSpace); }

}  // namespace keel::kv
