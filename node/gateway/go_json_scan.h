// Splits an HTTP body into the JSON values Go's json.Decoder would read from it, one
// after another, and reports a syntax error with Go's exact message.
//
// Why: etcd 3.4's gateway (grpc-gateway 1.6.4 in Debian's build) decodes request bodies with Go's
// encoding/json Decoder, and its syntax errors reach the client verbatim ("invalid
// character 'b' looking for beginning of object key string", "unexpected EOF"). The
// conversion itself is protobuf's (json_codec.h); this only finds value boundaries and
// words syntax errors as Go does. Streaming calls (watch, lease keep-alive) send every
// value of the body as one request, as grpc-gateway does.
#ifndef KEEL_NODE_GATEWAY_GO_JSON_SCAN_H_
#define KEEL_NODE_GATEWAY_GO_JSON_SCAN_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace keel::node::gateway {

struct JsonScan {
  // Complete values, in order, without surrounding whitespace.
  std::vector<std::string_view> values;
  // Go's error for the value after the last complete one ("" when the body ended cleanly
  // after a value or held only whitespace).
  std::string error;
};

// Reads at most `max_values` values (the rest of the body is not looked at, as a Decoder
// that is not asked for more). Bounded by the body's length; nesting deeper than
// kMaxJsonDepth is an error (Go's limit is 10000; ours is lower, to bound the scan's stack).
inline constexpr int kMaxJsonDepth = 512;
JsonScan ScanJsonValues(std::string_view body, size_t max_values);

}  // namespace keel::node::gateway

#endif  // KEEL_NODE_GATEWAY_GO_JSON_SCAN_H_
