// Terse builders for etcdserverpb requests in tests.
#ifndef KEEL_KV_TESTING_REQUESTS_H_
#define KEEL_KV_TESTING_REQUESTS_H_

#include <string>

#include "api/etcdserverpb/rpc.pb.h"

namespace keel::kv::testing {

inline etcdserverpb::PutRequest PutReq(const std::string& key, const std::string& value,
                                       int64_t lease = 0) {
  etcdserverpb::PutRequest r;
  r.set_key(key);
  r.set_value(value);
  r.set_lease(lease);
  return r;
}

inline etcdserverpb::RangeRequest RangeReq(const std::string& key, const std::string& end = "",
                                           int64_t rev = 0) {
  etcdserverpb::RangeRequest r;
  r.set_key(key);
  r.set_range_end(end);
  r.set_revision(rev);
  return r;
}

inline etcdserverpb::DeleteRangeRequest DeleteReq(const std::string& key,
                                                  const std::string& end = "") {
  etcdserverpb::DeleteRangeRequest r;
  r.set_key(key);
  r.set_range_end(end);
  return r;
}

inline etcdserverpb::RequestOp PutOp(const std::string& key, const std::string& value = "v") {
  etcdserverpb::RequestOp op;
  *op.mutable_request_put() = PutReq(key, value);
  return op;
}

inline etcdserverpb::RequestOp DeleteOp(const std::string& key, const std::string& end = "") {
  etcdserverpb::RequestOp op;
  *op.mutable_request_delete_range() = DeleteReq(key, end);
  return op;
}

inline etcdserverpb::RequestOp RangeOp(const std::string& key, int64_t rev = 0) {
  etcdserverpb::RequestOp op;
  *op.mutable_request_range() = RangeReq(key, "", rev);
  return op;
}

inline etcdserverpb::RequestOp TxnOp(const etcdserverpb::TxnRequest& t) {
  etcdserverpb::RequestOp op;
  *op.mutable_request_txn() = t;
  return op;
}

inline etcdserverpb::CompactionRequest CompactReq(int64_t rev) {
  etcdserverpb::CompactionRequest r;
  r.set_revision(rev);
  return r;
}

}  // namespace keel::kv::testing

#endif  // KEEL_KV_TESTING_REQUESTS_H_
