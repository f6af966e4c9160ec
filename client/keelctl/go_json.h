// JSON exactly as etcdctl 3.4 prints it: Go's encoding/json applied to gogo-generated
// structs. That means proto field names as keys ("cluster_id", "dbSize"), omitempty on every
// scalar/repeated field, message fields present iff set, int64/uint64 as bare numbers, bytes
// as standard base64, enums as numbers, a oneof as {"GoOneofName":{"GoFieldName":value}},
// and Go's string escaping (<, >, & become \u003c, \u003e, \u0026).
#ifndef KEEL_CLIENT_KEELCTL_GO_JSON_H_
#define KEEL_CLIENT_KEELCTL_GO_JSON_H_

#include <string>
#include <string_view>

#include "api/etcdserverpb/rpc.pb.h"
#include "google/protobuf/message.h"

namespace keel::client::keelctl {

// A JSON string literal with Go's escaping.
std::string GoQuote(std::string_view s);
std::string Base64(std::string_view bytes);
// Go field name for a proto name: "request_range" -> "RequestRange".
std::string GoCamel(std::string_view proto_name);

// The message as Go's json.Marshal prints the gogo struct.
std::string GoJson(const google::protobuf::Message& message);
// The members of `message` without braces (for structs that embed a *ResponseHeader and so
// flatten its fields into their own). Empty when every field is omitted.
std::string GoJsonFields(const google::protobuf::Message& message);

}  // namespace keel::client::keelctl

#endif  // KEEL_CLIENT_KEELCTL_GO_JSON_H_
