// etcdctl's `txn` stdin language: compares, a blank line, success ops, a blank line, failure
// ops, a blank line. Compares look like  value("k") = "v"  /  mod("k") > "3"; ops are
// `put k v [--lease=..] [--prev-kv]`, `get k [end] [--prefix] ...`, `del k [end] [--prefix]`.
#ifndef KEEL_CLIENT_KEELCTL_TXN_PARSE_H_
#define KEEL_CLIENT_KEELCTL_TXN_PARSE_H_

#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"
#include "api/etcdserverpb/rpc.pb.h"

namespace keel::client::keelctl {

// Splits a line like a shell would for etcdctl: whitespace separates, double and single
// quotes group (Go-style escapes inside double quotes).
std::vector<std::string> Argify(absl::string_view line);

absl::StatusOr<etcdserverpb::Compare> ParseCompare(absl::string_view line);
absl::StatusOr<etcdserverpb::RequestOp> ParseRequestOp(absl::string_view line);

// Reads the three sections from `lines` (without trailing newlines). INVALID_ARGUMENT with
// etcdctl's message on malformed input; "EOF" when input ends before the final blank line.
absl::StatusOr<etcdserverpb::TxnRequest> ParseTxn(const std::vector<std::string>& lines);

}  // namespace keel::client::keelctl

#endif  // KEEL_CLIENT_KEELCTL_TXN_PARSE_H_
