#include "env/errno_status.h"

#include <errno.h>
#include <string.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "base/check.h"

namespace keel::env {
namespace {

absl::StatusCode CodeForErrno(int err) {
  switch (err) {
    case ENOENT:
      return absl::StatusCode::kNotFound;
    case EEXIST:
      return absl::StatusCode::kAlreadyExists;
    case ENOSPC:
    case EDQUOT:
      return absl::StatusCode::kResourceExhausted;
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::StatusCode::kPermissionDenied;
    case ENOTDIR:
    case EISDIR:
    case ENOTEMPTY:
    case EAGAIN:
      return absl::StatusCode::kFailedPrecondition;
    case EIO:
      // The device failed: whatever was not yet durable must be presumed lost.
      return absl::StatusCode::kDataLoss;
    default:
      return absl::StatusCode::kInternal;
  }
}

}  // namespace

absl::Status ErrnoToStatus(int err, std::string_view context) {
  KEEL_CHECK(err != 0);
  // strerrorname_np (glibc >= 2.32) is thread-safe and returns a static string, or
  // nullptr for an unknown value; strerror_r's GNU variant may return a static string
  // instead of filling the buffer, so use its return value.
  const char* name = strerrorname_np(err);
  char buffer[128];
  const char* text = strerror_r(err, buffer, sizeof(buffer));
  return absl::Status(CodeForErrno(err),
                      absl::StrCat(std::string(context), ": ", text, " (",
                                   name != nullptr ? name : absl::StrCat("errno ", err), ")"));
}

}  // namespace keel::env
