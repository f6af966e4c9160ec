#include "node/gateway/json_codec.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "base/check.h"
#include "node/gateway/gateway_errors.pb.h"

namespace keel::node::gateway {

absl::Status JsonToMessage(std::string_view json, google::protobuf::Message* message) {
  // grpc-gateway decodes into the message through map[string]json.RawMessage first; any
  // other top-level value fails there with Go's wording.
  const char first = json.empty() ? '\0' : json.front();
  const char* kind = nullptr;
  if (first == '[') kind = "array";
  if (first == '"') kind = "string";
  if (first == 't' || first == 'f') kind = "bool";
  if (first == '-' || (first >= '0' && first <= '9')) kind = "number";
  if (kind != nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "json: cannot unmarshal ", kind, " into Go value of type map[string]json.RawMessage"));
  }
  if (first == 'n') return absl::OkStatus();  // null: Go leaves the message empty
  // Go's jsonpb in grpc-gateway skips unknown keys but refuses unknown enum names;
  // protobuf's ignore_unknown_fields would skip both. So strict first, and lenient only
  // when the strict parse failed on an unknown key.
  const google::protobuf::StringPiece text(json.data(), json.size());
  google::protobuf::util::JsonParseOptions options;
  auto status = google::protobuf::util::JsonStringToMessage(text, message, options);
  if (!status.ok() && absl::StrContains(std::string(status.message()), "Cannot find field")) {
    message->Clear();
    options.ignore_unknown_fields = true;
    status = google::protobuf::util::JsonStringToMessage(text, message, options);
  }
  if (!status.ok()) {
    return absl::InvalidArgumentError(std::string(status.message()));
  }
  return absl::OkStatus();
}

std::string MessageToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;  // JSONPb{OrigName: true}
  options.always_print_primitive_fields = false;
  options.always_print_enums_as_ints = false;
  std::string out;
  const auto status = google::protobuf::util::MessageToJsonString(message, &out, options);
  // Printing a well-formed message cannot fail (no Any with unknown types in etcd's API).
  KEEL_CHECK(status.ok());
  return out;
}

int HttpStatusFromCode(int grpc_code) {
  switch (grpc_code) {
    case 0: return 200;   // OK
    case 1: return 408;   // Canceled
    case 2: return 500;   // Unknown
    case 3: return 400;   // InvalidArgument
    case 4: return 504;   // DeadlineExceeded
    case 5: return 404;   // NotFound
    case 6: return 409;   // AlreadyExists
    case 7: return 403;   // PermissionDenied
    case 16: return 401;  // Unauthenticated
    case 8: return 429;   // ResourceExhausted
    case 9: return 412;   // FailedPrecondition (1.6.4; grpc-gateway >= 1.9.5 says 400)
    case 10: return 409;  // Aborted
    case 11: return 400;  // OutOfRange
    case 12: return 501;  // Unimplemented
    case 13: return 500;  // Internal
    case 14: return 503;  // Unavailable
    case 15: return 500;  // DataLoss
    default: return 500;
  }
}

std::string HttpStatusText(int http_status) {
  switch (http_status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 412: return "Precondition Failed";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
  }
}

std::string ErrorBodyJson(int grpc_code, std::string_view message) {
  keel::gateway::ErrorBody body;
  body.set_error(std::string(message));
  body.set_message(std::string(message));
  body.set_code(grpc_code);
  return MessageToJson(body);
}

std::string StreamErrorJson(int grpc_code, std::string_view message) {
  keel::gateway::StreamErrorChunk chunk;
  keel::gateway::StreamError* error = chunk.mutable_error();
  const int http = HttpStatusFromCode(grpc_code);
  error->set_grpc_code(grpc_code);
  error->set_http_code(http);
  error->set_message(std::string(message));
  error->set_http_status(HttpStatusText(http));
  return MessageToJson(chunk);
}

}  // namespace keel::node::gateway
