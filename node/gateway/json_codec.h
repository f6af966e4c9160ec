// JSON <-> protobuf exactly as etcd 3.4's gateway reads and writes it (grpc-gateway's
// runtime.JSONPb with OrigName; Debian's etcd 3.4.23 is built with grpc-gateway 1.6.4),
// made with protobuf's own JSON utilities:
//   * field names as declared in the .proto (`create_revision`, `dbSize`, `ID`);
//   * int64/uint64 as strings, bytes as base64, enums by name;
//   * fields at their default value omitted; unknown input fields ignored.
// And grpc-gateway's error bodies and HTTP status mapping.
#ifndef KEEL_NODE_GATEWAY_JSON_CODEC_H_
#define KEEL_NODE_GATEWAY_JSON_CODEC_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "google/protobuf/message.h"

namespace keel::node::gateway {

// Parses one JSON value (already split by ScanJsonValues, so syntactically valid) into
// `message`. Errors are InvalidArgument; a non-object top-level value gets Go's message
// ("json: cannot unmarshal array into Go value of type map[string]json.RawMessage").
absl::Status JsonToMessage(std::string_view json, google::protobuf::Message* message);

// The message as grpc-gateway prints it.
std::string MessageToJson(const google::protobuf::Message& message);

// grpc-gateway's runtime.HTTPStatusFromCode and Go's http.StatusText for those statuses.
int HttpStatusFromCode(int grpc_code);
std::string HttpStatusText(int http_status);

// {"error":m,"message":m,"code":c}: the body of a failed unary call.
std::string ErrorBodyJson(int grpc_code, std::string_view message);
// {"error":{"grpc_code":..,"http_code":..,"message":..,"http_status":..}}: the last chunk
// of a failed stream.
std::string StreamErrorJson(int grpc_code, std::string_view message);

}  // namespace keel::node::gateway

#endif  // KEEL_NODE_GATEWAY_JSON_CODEC_H_
