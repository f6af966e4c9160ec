#include "client/error_kind.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace keel::client {

absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  // grpc::StatusCode and absl::StatusCode share the canonical numbering.
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

bool IsTransient(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return true;
    case grpc::StatusCode::UNKNOWN:
      // A stream torn down mid-flight sometimes surfaces as UNKNOWN with a transport message.
      return absl::StrContains(status.error_message(), "Stream removed") ||
             absl::StrContains(status.error_message(), "Socket closed");
    default:
      return false;
  }
}

absl::Status OutcomeUnknown(const grpc::Status& status) {
  std::string message = status.error_message();
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED && message.empty()) {
    message = "context deadline exceeded";
  }
  return absl::Status(kOutcomeUnknownCode, absl::StrCat(kOutcomeUnknownPrefix, message));
}

bool IsOutcomeUnknown(const absl::Status& status) {
  return status.code() == kOutcomeUnknownCode &&
         absl::StartsWith(status.message(), kOutcomeUnknownPrefix);
}

}  // namespace keel::client
