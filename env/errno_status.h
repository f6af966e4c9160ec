// The one place where an errno becomes an absl::Status, so that every real-Env operation
// reports failures with the codes env.h promises (and the simulator imitates).
#ifndef KEEL_ENV_ERRNO_STATUS_H_
#define KEEL_ENV_ERRNO_STATUS_H_

#include <string_view>

#include "absl/status/status.h"

namespace keel::env {

// The mapping documented in env.h:
//   ENOENT                    -> kNotFound
//   EEXIST                    -> kAlreadyExists
//   ENOSPC, EDQUOT            -> kResourceExhausted
//   EACCES, EPERM, EROFS      -> kPermissionDenied
//   ENOTDIR, EISDIR, ENOTEMPTY,
//   EAGAIN (lock contention)  -> kFailedPrecondition
//   EIO                       -> kDataLoss
//   anything else             -> kInternal
// The message is "<context>: <strerror> (<ENAME>)", e.g.
// "open /data/wal/0001.wal: No such file or directory (ENOENT)". Requires err != 0.
absl::Status ErrnoToStatus(int err, std::string_view context);

}  // namespace keel::env

#endif  // KEEL_ENV_ERRNO_STATUS_H_
