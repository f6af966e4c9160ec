// etcd's MVCC key-value store (mvcc/kvstore*.go + the KV half of etcdserver/apply.go),
// operating directly on etcdserverpb requests and responses.
//
// Model: the store has a current revision (1 when empty, as in etcd). Every Put,
// DeleteRange that deletes something, or Txn that writes, creates exactly one new revision;
// the changes inside it get sub-revisions 0, 1, 2... Each key records create_revision,
// mod_revision and version (number of puts since creation). Reads can ask for any revision
// >= the compact revision. Compact(rev) forgets history below rev.
//
// Applying Raft entries (the server core's contract):
//   1. SetConsistentIndex(index, term) BEFORE applying entry `index`;
//   2. apply it (Put/DeleteRange/Txn/Compact, or nothing for non-KV entries);
//   3. Commit() after one entry or a group of them.
// Writes are staged and reach LevelDB only in Commit, in one WriteBatch together with the
// consistent index, so on reopen consistent_index() names exactly the last entry whose
// effects are on disk: replay from consistent_index()+1, never re-applying or skipping.
//
// Determinism: results depend only on the sequence of calls (no clocks, no unordered
// iteration); the quota uses a logical size (bytes of live records), identical on every
// replica, so refusing a write for NOSPACE cannot make replicas diverge.
//
// Threading: single-threaded, driven by the node loop.
#ifndef KEEL_KV_MVCC_STORE_H_
#define KEEL_KV_MVCC_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "api/etcdserverpb/rpc.pb.h"
#include "api/mvccpb/kv.pb.h"
#include "kv/backend.h"
#include "kv/key_index.h"

namespace keel::kv {

// Implemented by the lessor (kv/lessor, another component). The store tells it which keys
// carry which lease, and asks whether a lease exists before attaching a key to it.
class LeaseHooks {
 public:
  virtual ~LeaseHooks() = default;
  virtual bool LeaseExists(int64_t lease_id) const = 0;
  virtual void Attach(int64_t lease_id, std::string_view key) = 0;
  virtual void Detach(int64_t lease_id, std::string_view key) = 0;
};

// Receives every applied change, in revision order, right after the write that made it
// (before Commit). The watch hub is the intended listener.
using ChangeListener = std::function<void(int64_t rev, const std::vector<mvccpb::Event>&)>;

struct MvccStoreOptions {
  BackendOptions backend;
  int max_txn_ops = 128;                        // etcd --max-txn-ops
  int64_t max_request_bytes = 1536 * 1024;      // etcd --max-request-bytes (1.5 MiB)
  int64_t quota_bytes = int64_t{2} << 30;       // etcd --quota-backend-bytes (2 GiB)
  size_t compaction_batch_records = 1000;       // deletions per WriteBatch when compacting
};

class MvccStore {
 public:
  static absl::StatusOr<std::unique_ptr<MvccStore>> Open(MvccStoreOptions options);
  ~MvccStore();
  MvccStore(const MvccStore&) = delete;
  MvccStore& operator=(const MvccStore&) = delete;

  // ---- KV service. Responses carry header.revision only; the server fills the rest.
  absl::StatusOr<etcdserverpb::RangeResponse> Range(const etcdserverpb::RangeRequest& r);
  absl::StatusOr<etcdserverpb::PutResponse> Put(const etcdserverpb::PutRequest& r);
  absl::StatusOr<etcdserverpb::DeleteRangeResponse> DeleteRange(
      const etcdserverpb::DeleteRangeRequest& r);
  absl::StatusOr<etcdserverpb::TxnResponse> Txn(const etcdserverpb::TxnRequest& r);
  // Deletes every listed key that exists, all in ONE new revision, without the txn op
  // limit: what a lease revocation does to the keys attached to the lease (etcd's
  // lessor uses one TxnDelete). Returns the revision after the call.
  absl::StatusOr<int64_t> DeleteKeys(const std::vector<std::string>& keys);

  // Removes history below `r.revision()`. Always physical: the backend records are gone
  // when this returns (r.physical() is thus satisfied either way). Commits staged writes.
  absl::StatusOr<etcdserverpb::CompactionResponse> Compact(
      const etcdserverpb::CompactionRequest& r);

  // etcd's HashKV: CRC-32C over the backend records visible at `rev` (0 = current).
  // Commits staged writes first.
  absl::StatusOr<etcdserverpb::HashKVResponse> HashKV(int64_t rev);

  // The key's value at `rev`, or nullopt if absent then; OUT_OF_RANGE if rev is compacted
  // or in the future. Used for a watch event's prev_kv.
  absl::StatusOr<std::optional<mvccpb::KeyValue>> GetAt(std::string_view key, int64_t rev);

  // Every change with from_rev <= revision <= to_rev (to_rev <= current_revision()), in
  // revision order, as watch events (a deletion's kv holds the key and mod_revision). Stops
  // early, at a revision boundary, once at least `max_events` were read; returns the last
  // revision fully read. Commits staged writes first.
  absl::StatusOr<int64_t> ReadEvents(int64_t from_rev, int64_t to_rev, size_t max_events,
                                     std::vector<mvccpb::Event>* out);

  // ---- Raft apply bookkeeping.
  void SetConsistentIndex(uint64_t index, uint64_t term);
  absl::Status Commit();
  // Commit() and make it durable (see Backend::Sync).
  absl::Status Sync();

  // Replaces the whole state with a backend image from another member (raw records, as
  // Backend::ScanAll yields them; a Raft snapshot's data) and rebuilds the index from it.
  // The image carries its own consistent index. Lease hooks are NOT re-attached: the
  // caller restores its lessor from the same image, then calls SetLeaseHooks again.
  absl::Status RestoreFromRecords(const std::vector<std::pair<std::string, std::string>>& records);
  uint64_t consistent_index() const { return consistent_index_; }
  uint64_t consistent_term() const { return consistent_term_; }
  // OK, or the I/O failure that left the in-memory state apart from the backend (every
  // later call returns it). A server must fail-stop on it, never answer from this store.
  const absl::Status& poisoned() const { return poisoned_; }

  int64_t current_revision() const { return current_rev_; }
  // -1 until the first compaction (etcd's convention).
  int64_t compact_revision() const { return compact_rev_; }

  // ---- Quota (the NOSPACE alarm itself is the server core's).
  int64_t size_bytes() const { return size_bytes_; }
  int64_t quota_bytes() const { return options_.quota_bytes; }
  // etcd's backendQuota.Available: OK if the request costs nothing or fits.
  absl::Status CheckQuota(const etcdserverpb::PutRequest& r) const;
  absl::Status CheckQuota(const etcdserverpb::TxnRequest& r) const;
  uint64_t physical_size_bytes() const { return backend_->ApproximateSizeBytes(); }

  // ---- Hooks. Setting the lease hooks attaches every key that currently has a lease.
  void SetLeaseHooks(LeaseHooks* hooks);
  // One listener at a time: setting a second one without clearing the first (nullptr)
  // aborts, since the first would silently stop receiving changes.
  void SetChangeListener(ChangeListener listener);

  // For components whose state must commit atomically with the KV state and the
  // consistent index, e.g. the lessor's "lease" bucket: stage writes (Put/Delete) and let
  // MvccStore::Commit write them; never call Backend::Commit directly.
  Backend& backend() { return *backend_; }

  const TreeIndex& index() const { return index_; }

 private:
  class WriteTxn;

  MvccStore(MvccStoreOptions options, std::unique_ptr<Backend> backend);
  absl::Status Restore();
  absl::Status RestoreRecord(std::string_view rev_bytes, std::string_view value);
  absl::Status CompactBackend(int64_t rev, const RevisionSet& keep);
  absl::Status CheckWriteQuota(int64_t cost_bytes) const;

  // Range as seen at `read_rev` (the current revision, or current + 1 inside a write txn
  // that already changed something).
  absl::StatusOr<etcdserverpb::RangeResponse> RangeAt(const etcdserverpb::RangeRequest& r,
                                                      int64_t read_rev);
  absl::StatusOr<mvccpb::KeyValue> ReadValue(Revision rev);
  absl::StatusOr<etcdserverpb::PutResponse> PutIn(WriteTxn& txn,
                                                  const etcdserverpb::PutRequest& r);
  absl::StatusOr<etcdserverpb::DeleteRangeResponse> DeleteRangeIn(
      WriteTxn& txn, const etcdserverpb::DeleteRangeRequest& r);
  absl::Status ApplyTxn(WriteTxn& txn, const etcdserverpb::TxnRequest& r,
                        const std::vector<bool>& path, size_t* path_pos,
                        etcdserverpb::TxnResponse* resp);
  absl::Status CheckTxnOps(const etcdserverpb::TxnRequest& r, const std::vector<bool>& path,
                           size_t* path_pos, bool check_puts);
  bool Compares(const etcdserverpb::TxnRequest& r);
  bool CompareOne(const etcdserverpb::Compare& c);
  void CompareToPath(const etcdserverpb::TxnRequest& r, std::vector<bool>* path);
  void Finish(WriteTxn& txn);
  void StagePut(WriteTxn& txn, const std::string& key, const std::string& value,
                int64_t lease);
  void StageDelete(WriteTxn& txn, const std::string& key);
  // Records a failure that left the in-memory state ahead of or apart from the backend:
  // every later call returns it (the node must restart and replay from the WAL).
  absl::Status Poison(absl::Status s);

  const MvccStoreOptions options_;
  std::unique_ptr<Backend> backend_;
  TreeIndex index_;
  // Keys that currently carry a lease (lease 0 = none is not stored).
  absl::btree_map<std::string, int64_t, std::less<>> key_lease_;
  int64_t current_rev_ = 1;
  int64_t compact_rev_ = -1;
  uint64_t consistent_index_ = 0;
  uint64_t consistent_term_ = 0;
  int64_t size_bytes_ = 0;
  LeaseHooks* lease_hooks_ = nullptr;  // not owned
  absl::Status poisoned_;
  ChangeListener listener_;
};

}  // namespace keel::kv

#endif  // KEEL_KV_MVCC_STORE_H_
