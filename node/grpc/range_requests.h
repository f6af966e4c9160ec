// The key arithmetic and Range requests of etcd's clientv3/concurrency, as plain functions
// (no Server, no Loop) so they are unit-tested on their own.
#ifndef KEEL_NODE_GRPC_RANGE_REQUESTS_H_
#define KEEL_NODE_GRPC_RANGE_REQUESTS_H_

#include <cstdint>
#include <string>

#include "api/etcdserverpb/rpc.pb.h"

namespace keel::node {

// The smallest key greater than every key with `prefix` ("\0" when none: all keys).
std::string PrefixEnd(const std::string& prefix);

// The key under `prefix` with the lowest create revision (etcd's WithFirstCreate).
etcdserverpb::RangeRequest FirstCreatedRequest(const std::string& prefix);
// The key under `prefix` with the highest create revision <= max_create_revision
// (WithLastCreate + WithMaxCreateRev).
etcdserverpb::RangeRequest LastCreatedBeforeRequest(const std::string& prefix,
                                                    int64_t max_create_revision);

// "<prefix><lease ID in lower-case hex>": the key a session with that lease owns.
std::string SessionKey(const std::string& prefix, int64_t lease_id);

}  // namespace keel::node

#endif  // KEEL_NODE_GRPC_RANGE_REQUESTS_H_
