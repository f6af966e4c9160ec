// A fluent builder for etcd transactions:
//   client->Txn().If(Compare::Value("k") == "x").Then(Op::Put("k", "y")).Else(Op::Get("k")).Commit();
// Compares and ops are plain wrappers over etcdserverpb protos, so anything the wire format
// can say (nested txns, ranges, prev_kv) can be said here.
#ifndef KEEL_CLIENT_TXN_H_
#define KEEL_CLIENT_TXN_H_

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "api/etcdserverpb/rpc.pb.h"

namespace keel::client {

class Client;

// One side of a comparison: which key, and which of its attributes. Completed into a proto
// Compare by a comparison operator against a value.
class CompareTarget {
 public:
  CompareTarget(etcdserverpb::Compare::CompareTarget target, std::string key)
      : target_(target), key_(std::move(key)) {}
  etcdserverpb::Compare Make(etcdserverpb::Compare::CompareResult result, std::string_view value) const;
  etcdserverpb::Compare Make(etcdserverpb::Compare::CompareResult result, int64_t value) const;
  // Widens the compare to [key, range_end) (etcd 3.3+).
  CompareTarget& WithRange(std::string range_end);

 private:
  etcdserverpb::Compare::CompareTarget target_;
  std::string key_;
  std::string range_end_;
};

struct Compare {
  static CompareTarget Value(std::string key) { return {etcdserverpb::Compare::VALUE, std::move(key)}; }
  static CompareTarget Version(std::string key) { return {etcdserverpb::Compare::VERSION, std::move(key)}; }
  static CompareTarget CreateRevision(std::string key) { return {etcdserverpb::Compare::CREATE, std::move(key)}; }
  static CompareTarget ModRevision(std::string key) { return {etcdserverpb::Compare::MOD, std::move(key)}; }
  static CompareTarget Lease(std::string key) { return {etcdserverpb::Compare::LEASE, std::move(key)}; }
};

etcdserverpb::Compare operator==(const CompareTarget& t, std::string_view v);
etcdserverpb::Compare operator!=(const CompareTarget& t, std::string_view v);
etcdserverpb::Compare operator<(const CompareTarget& t, std::string_view v);
etcdserverpb::Compare operator>(const CompareTarget& t, std::string_view v);
etcdserverpb::Compare operator==(const CompareTarget& t, int64_t v);
etcdserverpb::Compare operator!=(const CompareTarget& t, int64_t v);
etcdserverpb::Compare operator<(const CompareTarget& t, int64_t v);
etcdserverpb::Compare operator>(const CompareTarget& t, int64_t v);
// Disambiguate int literals (`== 0`) from string_view.
inline etcdserverpb::Compare operator==(const CompareTarget& t, int v) { return t == int64_t{v}; }
inline etcdserverpb::Compare operator!=(const CompareTarget& t, int v) { return t != int64_t{v}; }
inline etcdserverpb::Compare operator<(const CompareTarget& t, int v) { return t < int64_t{v}; }
inline etcdserverpb::Compare operator>(const CompareTarget& t, int v) { return t > int64_t{v}; }

struct PutOptions {
  int64_t lease = 0;
  bool prev_kv = false;
  bool ignore_value = false;
  bool ignore_lease = false;
};

struct Op {
  static etcdserverpb::RequestOp Put(std::string key, std::string value, PutOptions options = {});
  // Exactly `key` when range_end is empty; etcd's range semantics otherwise.
  static etcdserverpb::RequestOp Get(std::string key, std::string range_end = "");
  static etcdserverpb::RequestOp Get(etcdserverpb::RangeRequest request);
  static etcdserverpb::RequestOp Delete(std::string key, std::string range_end = "", bool prev_kv = false);
  static etcdserverpb::RequestOp Txn(etcdserverpb::TxnRequest request);
};

// The range_end that makes [key, range_end) cover every key with prefix `key`
// (etcd's GetPrefixRangeEnd: "\0" when no such bound exists).
std::string PrefixRangeEnd(std::string_view key);

// True when the transaction contains no Put and no DeleteRange at any depth: it cannot
// change state, so retrying it is safe.
bool IsReadOnly(const etcdserverpb::TxnRequest& request);

class TxnBuilder {
 public:
  explicit TxnBuilder(Client* client) : client_(client) {}
  TxnBuilder& If(std::initializer_list<etcdserverpb::Compare> compares);
  TxnBuilder& If(etcdserverpb::Compare compare) { return If({std::move(compare)}); }
  TxnBuilder& Then(std::initializer_list<etcdserverpb::RequestOp> ops);
  TxnBuilder& Then(etcdserverpb::RequestOp op) { return Then({std::move(op)}); }
  TxnBuilder& Else(std::initializer_list<etcdserverpb::RequestOp> ops);
  TxnBuilder& Else(etcdserverpb::RequestOp op) { return Else({std::move(op)}); }
  const etcdserverpb::TxnRequest& request() const { return request_; }
  absl::StatusOr<etcdserverpb::TxnResponse> Commit();

 private:
  Client* client_;  // not owned; outlives the builder
  etcdserverpb::TxnRequest request_;
};

}  // namespace keel::client

#endif  // KEEL_CLIENT_TXN_H_
