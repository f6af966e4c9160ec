#include "kv/request_check.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/btree_set.h"
#include "kv/errors.h"

namespace keel::kv {
namespace {

using etcdserverpb::RequestOp;
using Ops = google::protobuf::RepeatedPtrField<RequestOp>;

absl::Status CheckTxnOps(const etcdserverpb::TxnRequest& r, int max_txn_ops);

absl::Status CheckRequestOp(const RequestOp& op, int max_txn_ops) {
  switch (op.request_case()) {
    case RequestOp::kRequestRange:
      return CheckRangeRequest(op.request_range());
    case RequestOp::kRequestPut:
      return CheckPutRequest(op.request_put());
    case RequestOp::kRequestDeleteRange:
      return CheckDeleteRequest(op.request_delete_range());
    case RequestOp::kRequestTxn:
      return CheckTxnOps(op.request_txn(), max_txn_ops);
    case RequestOp::REQUEST_NOT_SET:
      break;
  }
  // An empty op: etcd answers "key not found" here, oddly but observably.
  return KeyNotFoundError();
}

absl::Status CheckTxnOps(const etcdserverpb::TxnRequest& r, int max_txn_ops) {
  const int opc = std::max({r.compare_size(), r.success_size(), r.failure_size()});
  if (opc > max_txn_ops) return TooManyOpsError();
  for (const auto& c : r.compare()) {
    if (c.key().empty()) return EmptyKeyError();
  }
  for (const Ops* ops : {&r.success(), &r.failure()}) {
    for (const RequestOp& op : *ops) {
      if (absl::Status s = CheckRequestOp(op, max_txn_ops - opc); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

// etcd's adt interval tree restricted to what checkIntervals asks of it: half-open string
// intervals, compared bytewise; a single key k is [k, k+"\0").
//
// Deliberate deviation: a range_end of "\0" means "every key >= key" here. etcd 3.4 takes
// it literally, as the empty interval [key, "\0"), so it accepts a txn that deletes
// [a, "\0") and then puts b with ignore_value, and panics applying it (the put no longer
// finds b). Rejecting the overlap keeps every replica alive.
struct Intervals {
  std::vector<std::pair<std::string, std::string>> spans;

  bool Contains(const std::string& k) const {
    for (const auto& [begin, end] : spans) {
      const bool unbounded = end.size() == 1 && end[0] == '\0';
      if (begin <= k && (unbounded || k < end)) return true;
    }
    return false;
  }
};

using KeySet = absl::btree_set<std::string>;

// checkIntervals of v3rpc/key.go: collects the puts and deletes of `ops` (recursing into
// nested txns) and fails if a put overlaps another put or a delete on any path.
absl::Status CheckIntervals(const Ops& ops, KeySet* puts, Intervals* dels) {
  for (const RequestOp& op : ops) {
    if (op.request_case() != RequestOp::kRequestDeleteRange) continue;
    const auto& d = op.request_delete_range();
    dels->spans.emplace_back(d.key(), d.range_end().empty() ? d.key() + std::string(1, '\0')
                                                            : d.range_end());
  }
  for (const RequestOp& op : ops) {
    if (op.request_case() != RequestOp::kRequestTxn) continue;
    KeySet puts_then, puts_else;
    Intervals dels_then, dels_else;
    if (absl::Status s = CheckIntervals(op.request_txn().success(), &puts_then, &dels_then);
        !s.ok()) {
      return s;
    }
    if (absl::Status s = CheckIntervals(op.request_txn().failure(), &puts_else, &dels_else);
        !s.ok()) {
      return s;
    }
    for (const std::string& k : puts_then) {
      if (puts->count(k) > 0 || dels->Contains(k)) return DuplicateKeyError();
      puts->insert(k);
    }
    for (const std::string& k : puts_else) {
      // Then and else are mutually exclusive, so the same key in both is fine.
      if (puts->count(k) > 0 && puts_then.count(k) == 0) return DuplicateKeyError();
      if (dels->Contains(k)) return DuplicateKeyError();
      puts->insert(k);
    }
    for (auto* child : {&dels_then, &dels_else}) {
      dels->spans.insert(dels->spans.end(), child->spans.begin(), child->spans.end());
    }
  }
  for (const RequestOp& op : ops) {
    if (op.request_case() != RequestOp::kRequestPut) continue;
    const std::string& k = op.request_put().key();
    if (puts->count(k) > 0 || dels->Contains(k)) return DuplicateKeyError();
    puts->insert(k);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckRangeRequest(const etcdserverpb::RangeRequest& r) {
  if (r.key().empty()) return EmptyKeyError();
  return absl::OkStatus();
}

absl::Status CheckPutRequest(const etcdserverpb::PutRequest& r) {
  if (r.key().empty()) return EmptyKeyError();
  if (r.ignore_value() && !r.value().empty()) return ValueProvidedError();
  if (r.ignore_lease() && r.lease() != 0) return LeaseProvidedError();
  return absl::OkStatus();
}

absl::Status CheckDeleteRequest(const etcdserverpb::DeleteRangeRequest& r) {
  if (r.key().empty()) return EmptyKeyError();
  return absl::OkStatus();
}

absl::Status CheckTxnRequest(const etcdserverpb::TxnRequest& r, int max_txn_ops) {
  if (absl::Status s = CheckTxnOps(r, max_txn_ops); !s.ok()) return s;
  // After the cheap checks, to avoid quadratic work on requests that fail anyway.
  for (const Ops* ops : {&r.success(), &r.failure()}) {
    KeySet puts;
    Intervals dels;
    if (absl::Status s = CheckIntervals(*ops, &puts, &dels); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace keel::kv
