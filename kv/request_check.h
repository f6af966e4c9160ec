// Stateless validation of client requests, done by etcd's gRPC layer before a request is
// proposed (etcdserver/api/v3rpc/key.go). Pure functions of the request, so the server can
// run them before proposing and the store runs them again on apply (cheap, and a request
// that reaches the store by another path is still checked).
#ifndef KEEL_KV_REQUEST_CHECK_H_
#define KEEL_KV_REQUEST_CHECK_H_

#include "absl/status/status.h"
#include "api/etcdserverpb/rpc.pb.h"

namespace keel::kv {

absl::Status CheckRangeRequest(const etcdserverpb::RangeRequest& r);
absl::Status CheckPutRequest(const etcdserverpb::PutRequest& r);
absl::Status CheckDeleteRequest(const etcdserverpb::DeleteRangeRequest& r);

// checkTxnRequest (op count, empty keys, nested ops) and then checkIntervals on both
// branches: no key may be written twice on one execution path ("duplicate key").
absl::Status CheckTxnRequest(const etcdserverpb::TxnRequest& r, int max_txn_ops);

}  // namespace keel::kv

#endif  // KEEL_KV_REQUEST_CHECK_H_
