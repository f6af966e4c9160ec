#include "env/errno_status.h"

#include <errno.h>

#include "gtest/gtest.h"

namespace keel::env {
namespace {

struct Case {
  int err;
  absl::StatusCode code;
};

TEST(ErrnoToStatusTest, MapsEveryDocumentedErrno) {
  const Case cases[] = {
      {ENOENT, absl::StatusCode::kNotFound},
      {EEXIST, absl::StatusCode::kAlreadyExists},
      {ENOSPC, absl::StatusCode::kResourceExhausted},
      {EDQUOT, absl::StatusCode::kResourceExhausted},
      {EACCES, absl::StatusCode::kPermissionDenied},
      {EPERM, absl::StatusCode::kPermissionDenied},
      {EROFS, absl::StatusCode::kPermissionDenied},
      {ENOTDIR, absl::StatusCode::kFailedPrecondition},
      {EISDIR, absl::StatusCode::kFailedPrecondition},
      {ENOTEMPTY, absl::StatusCode::kFailedPrecondition},
      {EAGAIN, absl::StatusCode::kFailedPrecondition},
      {EIO, absl::StatusCode::kDataLoss},
      {EBADF, absl::StatusCode::kInternal},
      {EMFILE, absl::StatusCode::kInternal},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ErrnoToStatus(c.err, "op").code(), c.code) << "errno " << c.err;
  }
}

TEST(ErrnoToStatusTest, MessageNamesContextTextAndErrnoName) {
  const absl::Status s = ErrnoToStatus(EIO, "fdatasync /d/x.wal");
  EXPECT_EQ(s.message(), "fdatasync /d/x.wal: Input/output error (EIO)");
}

TEST(ErrnoToStatusTest, UnknownErrnoStillGetsANumber) {
  const absl::Status s = ErrnoToStatus(100000, "op");
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_NE(s.message().find("100000"), std::string_view::npos) << s.message();
}

}  // namespace
}  // namespace keel::env
