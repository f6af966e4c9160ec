#include "client/txn.h"

#include "client/client.h"

namespace keel::client {

using PbCompare = etcdserverpb::Compare;

PbCompare CompareTarget::Make(PbCompare::CompareResult result, std::string_view value) const {
  PbCompare c;
  c.set_result(result);
  c.set_target(target_);
  c.set_key(key_);
  c.set_range_end(range_end_);
  c.set_value(std::string(value));
  return c;
}

PbCompare CompareTarget::Make(PbCompare::CompareResult result, int64_t value) const {
  PbCompare c;
  c.set_result(result);
  c.set_target(target_);
  c.set_key(key_);
  c.set_range_end(range_end_);
  switch (target_) {
    case PbCompare::VERSION: c.set_version(value); break;
    case PbCompare::CREATE: c.set_create_revision(value); break;
    case PbCompare::MOD: c.set_mod_revision(value); break;
    case PbCompare::LEASE: c.set_lease(value); break;
    default: c.set_value(std::to_string(value)); break;
  }
  return c;
}

CompareTarget& CompareTarget::WithRange(std::string range_end) {
  range_end_ = std::move(range_end);
  return *this;
}

PbCompare operator==(const CompareTarget& t, std::string_view v) { return t.Make(PbCompare::EQUAL, v); }
PbCompare operator!=(const CompareTarget& t, std::string_view v) { return t.Make(PbCompare::NOT_EQUAL, v); }
PbCompare operator<(const CompareTarget& t, std::string_view v) { return t.Make(PbCompare::LESS, v); }
PbCompare operator>(const CompareTarget& t, std::string_view v) { return t.Make(PbCompare::GREATER, v); }
PbCompare operator==(const CompareTarget& t, int64_t v) { return t.Make(PbCompare::EQUAL, v); }
PbCompare operator!=(const CompareTarget& t, int64_t v) { return t.Make(PbCompare::NOT_EQUAL, v); }
PbCompare operator<(const CompareTarget& t, int64_t v) { return t.Make(PbCompare::LESS, v); }
PbCompare operator>(const CompareTarget& t, int64_t v) { return t.Make(PbCompare::GREATER, v); }

etcdserverpb::RequestOp Op::Put(std::string key, std::string value, PutOptions options) {
  etcdserverpb::RequestOp op;
  auto* put = op.mutable_request_put();
  put->set_key(std::move(key));
  put->set_value(std::move(value));
  put->set_lease(options.lease);
  put->set_prev_kv(options.prev_kv);
  put->set_ignore_value(options.ignore_value);
  put->set_ignore_lease(options.ignore_lease);
  return op;
}

etcdserverpb::RequestOp Op::Get(std::string key, std::string range_end) {
  etcdserverpb::RangeRequest range;
  range.set_key(std::move(key));
  range.set_range_end(std::move(range_end));
  return Get(std::move(range));
}

etcdserverpb::RequestOp Op::Get(etcdserverpb::RangeRequest request) {
  etcdserverpb::RequestOp op;
  *op.mutable_request_range() = std::move(request);
  return op;
}

etcdserverpb::RequestOp Op::Delete(std::string key, std::string range_end, bool prev_kv) {
  etcdserverpb::RequestOp op;
  auto* del = op.mutable_request_delete_range();
  del->set_key(std::move(key));
  del->set_range_end(std::move(range_end));
  del->set_prev_kv(prev_kv);
  return op;
}

etcdserverpb::RequestOp Op::Txn(etcdserverpb::TxnRequest request) {
  etcdserverpb::RequestOp op;
  *op.mutable_request_txn() = std::move(request);
  return op;
}

std::string PrefixRangeEnd(std::string_view key) {
  std::string end(key);
  // Drop trailing 0xff bytes and increment the last remaining one.
  while (!end.empty()) {
    unsigned char last = static_cast<unsigned char>(end.back());
    if (last < 0xff) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

namespace {
// Nesting depth is bounded by the server's limits; recursion mirrors the proto.
bool OpsReadOnly(const google::protobuf::RepeatedPtrField<etcdserverpb::RequestOp>& ops) {
  for (const auto& op : ops) {
    if (op.has_request_put() || op.has_request_delete_range()) return false;
    if (op.has_request_txn() && !IsReadOnly(op.request_txn())) return false;
  }
  return true;
}
}  // namespace

bool IsReadOnly(const etcdserverpb::TxnRequest& request) {
  return OpsReadOnly(request.success()) && OpsReadOnly(request.failure());
}

TxnBuilder& TxnBuilder::If(std::initializer_list<PbCompare> compares) {
  for (const auto& c : compares) *request_.add_compare() = c;
  return *this;
}

TxnBuilder& TxnBuilder::Then(std::initializer_list<etcdserverpb::RequestOp> ops) {
  for (const auto& op : ops) *request_.add_success() = op;
  return *this;
}

TxnBuilder& TxnBuilder::Else(std::initializer_list<etcdserverpb::RequestOp> ops) {
  for (const auto& op : ops) *request_.add_failure() = op;
  return *this;
}

absl::StatusOr<etcdserverpb::TxnResponse> TxnBuilder::Commit() {
  return client_->CommitTxn(request_);
}

}  // namespace keel::client
