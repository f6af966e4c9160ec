// An obviously-correct reference model of the MVCC store for randomized testing: it keeps
// a full copy of the key space for every revision and answers each request by looking at
// the right copy. Slow and memory-hungry by design; only for small test histories.
//
// It mirrors etcd's observable semantics (apply.go) and shares only request validation
// (kv/request_check.h, itself covered by etcd-derived tests) with the real store.
#ifndef KEEL_KV_TESTING_MODEL_H_
#define KEEL_KV_TESTING_MODEL_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "api/etcdserverpb/rpc.pb.h"
#include "api/mvccpb/kv.pb.h"

namespace keel::kv::testing {

class Model {
 public:
  using Snapshot = std::map<std::string, mvccpb::KeyValue>;

  Model();

  // Leases the model's lessor knows; others are "not found".
  void AddLease(int64_t id) { leases_.insert(id); }

  absl::StatusOr<etcdserverpb::RangeResponse> Range(const etcdserverpb::RangeRequest& r) const;
  absl::StatusOr<etcdserverpb::PutResponse> Put(const etcdserverpb::PutRequest& r);
  absl::StatusOr<etcdserverpb::DeleteRangeResponse> DeleteRange(
      const etcdserverpb::DeleteRangeRequest& r);
  absl::StatusOr<etcdserverpb::TxnResponse> Txn(const etcdserverpb::TxnRequest& r);
  absl::StatusOr<etcdserverpb::CompactionResponse> Compact(int64_t rev);

  int64_t current_revision() const { return static_cast<int64_t>(snapshots_.size()) - 1; }
  int64_t compact_revision() const { return compact_; }
  const Snapshot& At(int64_t rev) const { return snapshots_.at(rev); }
  // All events of revision `rev` in order (empty for revision 1).
  const std::vector<mvccpb::Event>& EventsAt(int64_t rev) const { return events_.at(rev); }

  int max_txn_ops = 128;

 private:
  // A write transaction's working copy of the key space.
  struct Work {
    Snapshot keys;
    std::vector<mvccpb::Event> events;
    int64_t rev;  // the revision the writes will get
  };
  absl::StatusOr<etcdserverpb::RangeResponse> RangeIn(const etcdserverpb::RangeRequest& r,
                                                      const Snapshot& keys,
                                                      int64_t header_rev) const;
  absl::StatusOr<etcdserverpb::PutResponse> PutIn(Work& w, const etcdserverpb::PutRequest& r);
  etcdserverpb::DeleteRangeResponse DeleteIn(Work& w,
                                             const etcdserverpb::DeleteRangeRequest& r);
  absl::Status CheckOps(const etcdserverpb::TxnRequest& r, bool writes) const;
  bool Succeeds(const etcdserverpb::TxnRequest& r) const;
  void ApplyTxn(Work& w, const etcdserverpb::TxnRequest& r, etcdserverpb::TxnResponse* out);
  int64_t ReadRev(const Work& w) const;
  void Commit(Work w);

  std::vector<Snapshot> snapshots_;                    // [0] unused, [1] = empty store
  std::vector<std::vector<mvccpb::Event>> events_;     // per revision
  int64_t compact_ = -1;
  std::set<int64_t> leases_;
};

// Whether `key` is in the request-style range [key, end) ("" = single, "\0" = to the end).
bool InRange(const std::string& key, const std::string& begin, const std::string& end);

}  // namespace keel::kv::testing

#endif  // KEEL_KV_TESTING_MODEL_H_
