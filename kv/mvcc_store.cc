#include "kv/mvcc_store.h"

#include <algorithm>
#include <utility>

#include "absl/container/btree_set.h"
#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "kv/crc32c.h"
#include "kv/errors.h"
#include "kv/request_check.h"

namespace keel::kv {
namespace {

using etcdserverpb::RangeRequest;
using etcdserverpb::RequestOp;

constexpr std::string_view kConsistentIndexKey = "consistent_index";
constexpr std::string_view kTermKey = "term";
constexpr std::string_view kScheduledCompactKey = "scheduledCompactRev";
constexpr std::string_view kFinishedCompactKey = "finishedCompactRev";

// etcd's quota cost estimates (etcdserver/quota.go).
constexpr int64_t kKvOverheadBytes = 256;

std::string EncodeUint64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8) out[i] = static_cast<char>(v & 0xff);
  return out;
}

absl::StatusOr<uint64_t> DecodeUint64(std::string_view b) {
  if (b.size() != 8) return absl::DataLossError("meta: bad 8-byte integer");
  uint64_t v = 0;
  for (char c : b) v = (v << 8) | static_cast<uint8_t>(c);
  return v;
}

bool IsReadOnly(const etcdserverpb::TxnRequest& r) {
  for (const auto* ops : {&r.success(), &r.failure()}) {
    for (const RequestOp& op : *ops) {
      if (op.request_case() != RequestOp::kRequestRange) return false;
    }
  }
  return true;
}

int64_t CostPut(const etcdserverpb::PutRequest& r) {
  return kKvOverheadBytes + static_cast<int64_t>(r.key().size() + r.value().size());
}

int64_t CostOps(const google::protobuf::RepeatedPtrField<RequestOp>& ops) {
  int64_t cost = 0;
  for (const RequestOp& op : ops) {
    if (op.request_case() == RequestOp::kRequestPut) cost += CostPut(op.request_put());
  }
  return cost;
}

int CompareInt(int64_t a, int64_t b) { return a < b ? -1 : (a > b ? 1 : 0); }

// compareKV of etcdserver/apply.go.
bool CompareKv(const etcdserverpb::Compare& c, const mvccpb::KeyValue& kv) {
  int result = 0;
  switch (c.target()) {
    case etcdserverpb::Compare::VALUE:
      result = kv.value().compare(c.value());
      result = result < 0 ? -1 : (result > 0 ? 1 : 0);
      break;
    case etcdserverpb::Compare::CREATE:
      result = CompareInt(kv.create_revision(), c.create_revision());
      break;
    case etcdserverpb::Compare::MOD:
      result = CompareInt(kv.mod_revision(), c.mod_revision());
      break;
    case etcdserverpb::Compare::VERSION:
      result = CompareInt(kv.version(), c.version());
      break;
    case etcdserverpb::Compare::LEASE:
      result = CompareInt(kv.lease(), c.lease());
      break;
    default:
      break;
  }
  switch (c.result()) {
    case etcdserverpb::Compare::EQUAL:
      return result == 0;
    case etcdserverpb::Compare::NOT_EQUAL:
      return result != 0;
    case etcdserverpb::Compare::GREATER:
      return result > 0;
    case etcdserverpb::Compare::LESS:
      return result < 0;
    default:
      return true;
  }
}

// Sorts as etcd's Range does. Ties keep key order (std::stable_sort); Go's sort.Sort is
// unstable, so etcd's order among equal sort keys is unspecified anyway.
void SortKvs(const RangeRequest& r, std::vector<mvccpb::KeyValue>* kvs) {
  auto order = r.sort_order();
  if (r.sort_target() != RangeRequest::KEY && order == RangeRequest::NONE) {
    order = RangeRequest::ASCEND;
  }
  if (order == RangeRequest::NONE) return;
  auto less = [&](const mvccpb::KeyValue& a, const mvccpb::KeyValue& b) {
    switch (r.sort_target()) {
      case RangeRequest::VERSION:
        return a.version() < b.version();
      case RangeRequest::CREATE:
        return a.create_revision() < b.create_revision();
      case RangeRequest::MOD:
        return a.mod_revision() < b.mod_revision();
      case RangeRequest::VALUE:
        return a.value() < b.value();
      default:
        return a.key() < b.key();
    }
  };
  if (order == RangeRequest::DESCEND) {
    std::stable_sort(kvs->begin(), kvs->end(),
                     [&](const auto& a, const auto& b) { return less(b, a); });
  } else {
    std::stable_sort(kvs->begin(), kvs->end(), less);
  }
}

void PruneKvs(const RangeRequest& r, std::vector<mvccpb::KeyValue>* kvs) {
  auto prunable = [&](const mvccpb::KeyValue& kv) {
    return (r.max_mod_revision() != 0 && kv.mod_revision() > r.max_mod_revision()) ||
           (r.min_mod_revision() != 0 && kv.mod_revision() < r.min_mod_revision()) ||
           (r.max_create_revision() != 0 && kv.create_revision() > r.max_create_revision()) ||
           (r.min_create_revision() != 0 && kv.create_revision() < r.min_create_revision());
  };
  kvs->erase(std::remove_if(kvs->begin(), kvs->end(), prunable), kvs->end());
}

}  // namespace

// The changes of one write transaction: all share main revision begin_rev + 1.
class MvccStore::WriteTxn {
 public:
  explicit WriteTxn(int64_t begin_rev) : begin_rev_(begin_rev) {}
  int64_t begin_rev() const { return begin_rev_; }
  int64_t write_rev() const { return begin_rev_ + 1; }
  // Reads inside the txn see its own earlier changes.
  int64_t read_rev() const { return events_.empty() ? begin_rev_ : begin_rev_ + 1; }
  int64_t next_sub() const { return static_cast<int64_t>(events_.size()); }
  std::vector<mvccpb::Event>& events() { return events_; }

 private:
  const int64_t begin_rev_;
  std::vector<mvccpb::Event> events_;
};

absl::StatusOr<std::unique_ptr<MvccStore>> MvccStore::Open(MvccStoreOptions options) {
  if (options.max_txn_ops <= 0 || options.quota_bytes <= 0 ||
      options.compaction_batch_records == 0 || options.max_request_bytes <= 0) {
    return absl::InvalidArgumentError("MvccStoreOptions: limits must be positive");
  }
  auto backend = Backend::Open(options.backend);
  if (!backend.ok()) return backend.status();
  std::unique_ptr<MvccStore> store(new MvccStore(std::move(options), std::move(*backend)));
  if (absl::Status s = store->Restore(); !s.ok()) return s;
  return store;
}

MvccStore::MvccStore(MvccStoreOptions options, std::unique_ptr<Backend> backend)
    : options_(std::move(options)), backend_(std::move(backend)) {}

// Staged writes are deliberately dropped: closing without Commit is a crash, and the
// consistent index on disk says which entries to replay.
MvccStore::~MvccStore() = default;

absl::Status MvccStore::Poison(absl::Status s) {
  KEEL_CHECK(!s.ok());
  if (poisoned_.ok()) poisoned_ = s;
  return s;
}

absl::Status MvccStore::Restore() {
  int64_t scheduled = 0;
  for (auto [name, out] : {std::pair{kFinishedCompactKey, &compact_rev_},
                           std::pair{kScheduledCompactKey, &scheduled}}) {
    auto v = backend_->Get(kMetaBucket, name);
    if (!v.ok()) return v.status();
    if (!v->has_value()) continue;
    auto rev = DecodeRevision(**v);
    if (!rev) return absl::DataLossError(absl::StrCat("meta: bad ", std::string(name)));
    *out = rev->rev.main;
  }
  for (auto [name, out] : {std::pair{kConsistentIndexKey, &consistent_index_},
                           std::pair{kTermKey, &consistent_term_}}) {
    auto v = backend_->Get(kMetaBucket, name);
    if (!v.ok()) return v.status();
    if (!v->has_value()) continue;
    auto n = DecodeUint64(**v);
    if (!n.ok()) return n.status();
    *out = *n;
  }
  absl::Status record_status;
  absl::Status scan = backend_->Scan(kKeyBucket, "", "", 0,
                                     [&](std::string_view k, std::string_view v) {
                                       record_status = RestoreRecord(k, v);
                                       return record_status.ok();
                                     });
  if (!scan.ok()) return scan;
  if (!record_status.ok()) return record_status;
  current_rev_ = std::max(current_rev_, compact_rev_);
  // Records AT the compact revision survive compaction (see CompactBackend), so a key put
  // and deleted within that one revision (sibling nested txns can do it) comes back as a
  // closed generation that the in-memory compaction had dropped. Compacting again is
  // idempotent for everything else and removes it.
  if (compact_rev_ > 0) index_.Compact(compact_rev_);
  if (scheduled != 0 && scheduled > compact_rev_) {
    // A compaction was decided (and acknowledged) but not finished before the restart.
    compact_rev_ = scheduled;
    return CompactBackend(scheduled, index_.Compact(scheduled));
  }
  return absl::OkStatus();
}

absl::Status MvccStore::RestoreRecord(std::string_view rev_bytes, std::string_view value) {
  auto decoded = DecodeRevision(rev_bytes);
  mvccpb::KeyValue kv;
  if (!decoded || !kv.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return absl::DataLossError("key bucket: undecodable record");
  }
  const Revision rev = decoded->rev;
  // Refuse to start on records no write could have produced, rather than build an index
  // that would serve wrong answers (LevelDB's checksums catch torn bytes, not bad logic).
  if (kv.key().empty() || rev.main < 2 ||
      (!decoded->tombstone && (kv.version() < 1 || kv.create_revision() > rev.main ||
                               kv.mod_revision() != rev.main))) {
    return absl::DataLossError(absl::StrCat("key bucket: inconsistent record at revision ",
                                            rev.main, ".", rev.sub));
  }
  KEEL_CHECK(rev.main >= current_rev_);  // LevelDB iterates in revision order
  current_rev_ = rev.main;
  size_bytes_ += static_cast<int64_t>(rev_bytes.size() + value.size());
  if (decoded->tombstone) {
    key_lease_.erase(kv.key());
  } else if (kv.lease() != 0) {
    key_lease_.insert_or_assign(kv.key(), kv.lease());
  } else {
    key_lease_.erase(kv.key());
  }
  KeyIndex* ki = index_.Find(kv.key());
  if (ki != nullptr) {
    if (decoded->tombstone) {
      ki->Tombstone(rev);
    } else {
      ki->Put(rev);
    }
  } else if (!decoded->tombstone) {
    // The key's earlier history was compacted away: this record starts what is left.
    KeyIndex fresh(kv.key());
    fresh.Restore(Revision{kv.create_revision(), 0}, rev, kv.version());
    index_.Insert(std::move(fresh));
  }
  return absl::OkStatus();
}

void MvccStore::SetConsistentIndex(uint64_t index, uint64_t term) {
  KEEL_CHECK(index >= consistent_index_);
  consistent_index_ = index;
  consistent_term_ = term;
  backend_->Put(kMetaBucket, kConsistentIndexKey, EncodeUint64(index));
  backend_->Put(kMetaBucket, kTermKey, EncodeUint64(term));
}

absl::Status MvccStore::Commit() {
  if (!poisoned_.ok()) return poisoned_;
  if (absl::Status s = backend_->Commit(); !s.ok()) return Poison(s);
  return absl::OkStatus();
}

absl::Status MvccStore::Sync() {
  absl::Status committed = Commit();
  if (!committed.ok()) return committed;
  absl::Status synced = backend_->Sync();
  if (!synced.ok()) return Poison(synced);
  return absl::OkStatus();
}

absl::Status MvccStore::RestoreFromRecords(
    const std::vector<std::pair<std::string, std::string>>& records) {
  if (!poisoned_.ok()) return poisoned_;
  absl::Status committed = Commit();
  if (!committed.ok()) return committed;
  absl::Status replaced = backend_->ReplaceAll(records);
  if (!replaced.ok()) return Poison(replaced);
  index_ = TreeIndex();
  key_lease_.clear();
  current_rev_ = 1;
  compact_rev_ = -1;
  consistent_index_ = 0;
  consistent_term_ = 0;
  size_bytes_ = 0;
  lease_hooks_ = nullptr;
  absl::Status restored = Restore();
  if (!restored.ok()) return Poison(restored);
  return Commit();
}

void MvccStore::SetLeaseHooks(LeaseHooks* hooks) {
  lease_hooks_ = hooks;
  if (hooks == nullptr) return;
  for (const auto& [key, lease] : key_lease_) hooks->Attach(lease, key);
}

void MvccStore::SetChangeListener(ChangeListener listener) {
  KEEL_CHECK(listener == nullptr || listener_ == nullptr);
  listener_ = std::move(listener);
}

absl::Status MvccStore::CheckWriteQuota(int64_t cost_bytes) const {
  if (cost_bytes == 0 || size_bytes_ + cost_bytes < options_.quota_bytes) {
    return absl::OkStatus();
  }
  return NoSpaceError();
}

absl::Status MvccStore::CheckQuota(const etcdserverpb::PutRequest& r) const {
  return CheckWriteQuota(CostPut(r));
}

absl::Status MvccStore::CheckQuota(const etcdserverpb::TxnRequest& r) const {
  return CheckWriteQuota(std::max(CostOps(r.success()), CostOps(r.failure())));
}

// ---------------------------------------------------------------------------------------
// Reads.
// ---------------------------------------------------------------------------------------

absl::StatusOr<mvccpb::KeyValue> MvccStore::ReadValue(Revision rev) {
  auto v = backend_->Get(kKeyBucket, EncodeRevision(rev));
  if (!v.ok()) return v.status();
  mvccpb::KeyValue kv;
  if (!v->has_value() || !kv.ParseFromString(**v)) {
    return absl::DataLossError(
        absl::StrCat("key bucket: revision ", rev.main, ".", rev.sub, " missing or corrupt"));
  }
  return kv;
}

absl::StatusOr<etcdserverpb::RangeResponse> MvccStore::Range(const RangeRequest& r) {
  if (!poisoned_.ok()) return poisoned_;
  if (absl::Status s = CheckRangeRequest(r); !s.ok()) return s;
  return RangeAt(r, current_rev_);
}

absl::StatusOr<etcdserverpb::RangeResponse> MvccStore::RangeAt(const RangeRequest& r,
                                                               int64_t read_rev) {
  int64_t rev = r.revision();
  if (rev > read_rev) return FutureRevError();
  if (rev <= 0) rev = read_rev;
  if (rev < compact_rev_) return CompactedError();

  // Sorting and filtering need every key; otherwise one extra key tells us about `more`.
  int64_t limit = r.limit();
  if (r.sort_order() != RangeRequest::NONE || r.min_mod_revision() != 0 ||
      r.max_mod_revision() != 0 || r.min_create_revision() != 0 ||
      r.max_create_revision() != 0) {
    limit = 0;
  }
  if (limit > 0) ++limit;

  etcdserverpb::RangeResponse resp;
  resp.mutable_header()->set_revision(read_rev);
  const KeyRange range{r.key(), r.range_end()};
  if (r.count_only()) {
    resp.set_count(index_.Count(range, rev));
    return resp;
  }
  int64_t count = 0;
  const auto pairs =
      index_.Range(range, rev, static_cast<size_t>(std::max<int64_t>(limit, 0)), &count);
  resp.set_count(count);
  std::vector<mvccpb::KeyValue> kvs;
  kvs.reserve(pairs.size());
  for (const auto& [key, kv_rev] : pairs) {
    auto kv = ReadValue(kv_rev);
    if (!kv.ok()) return kv.status();
    kvs.push_back(std::move(*kv));
  }
  PruneKvs(r, &kvs);
  SortKvs(r, &kvs);
  if (r.limit() > 0 && kvs.size() > static_cast<size_t>(r.limit())) {
    kvs.resize(static_cast<size_t>(r.limit()));
    resp.set_more(true);
  }
  for (auto& kv : kvs) {
    if (r.keys_only()) kv.clear_value();
    *resp.add_kvs() = std::move(kv);
  }
  return resp;
}

absl::StatusOr<std::optional<mvccpb::KeyValue>> MvccStore::GetAt(std::string_view key,
                                                                 int64_t rev) {
  if (!poisoned_.ok()) return poisoned_;
  if (rev > current_rev_) return FutureRevError();
  if (rev < compact_rev_) return CompactedError();
  auto l = index_.Get(key, rev);
  if (!l) return std::optional<mvccpb::KeyValue>();
  auto kv = ReadValue(l->modified);
  if (!kv.ok()) return kv.status();
  return std::optional<mvccpb::KeyValue>(std::move(*kv));
}

absl::StatusOr<int64_t> MvccStore::ReadEvents(int64_t from_rev, int64_t to_rev,
                                              size_t max_events,
                                              std::vector<mvccpb::Event>* out) {
  if (!poisoned_.ok()) return poisoned_;
  KEEL_CHECK(to_rev <= current_rev_ && max_events > 0);
  if (from_rev > to_rev) return to_rev;
  if (absl::Status s = Commit(); !s.ok()) return s;
  int64_t last_main = 0;
  int64_t last_complete = to_rev;
  size_t read = 0;
  absl::Status decode_status;
  absl::Status scan = backend_->Scan(
      kKeyBucket, EncodeRevision({std::max<int64_t>(from_rev, 0), 0}),
      EncodeRevision({to_rev + 1, 0}), 0, [&](std::string_view k, std::string_view v) {
        auto decoded = DecodeRevision(k);
        mvccpb::Event ev;
        if (!decoded || !ev.mutable_kv()->ParseFromArray(v.data(), static_cast<int>(v.size()))) {
          decode_status = absl::DataLossError("key bucket: undecodable record");
          return false;
        }
        if (read >= max_events && decoded->rev.main != last_main) {
          last_complete = last_main;  // stop at a revision boundary: events stay atomic
          return false;
        }
        if (decoded->tombstone) {
          ev.set_type(mvccpb::Event::DELETE);
          ev.mutable_kv()->set_mod_revision(decoded->rev.main);
        }
        last_main = decoded->rev.main;
        ++read;
        out->push_back(std::move(ev));
        return true;
      });
  if (!scan.ok()) return scan;
  if (!decode_status.ok()) return decode_status;
  return last_complete;
}

absl::StatusOr<etcdserverpb::HashKVResponse> MvccStore::HashKV(int64_t rev) {
  if (!poisoned_.ok()) return poisoned_;
  if (rev > 0 && rev <= compact_rev_) return CompactedError();
  if (rev > current_rev_) return FutureRevError();
  if (rev == 0) rev = current_rev_;
  if (absl::Status s = Commit(); !s.ok()) return s;
  const RevisionSet keep = index_.Keep(rev);
  const Revision upper{rev + 1, 0};
  const Revision lower{compact_rev_ + 1, 0};
  Crc32c crc;
  crc.Update(kKeyBucket);
  absl::Status decode_status;
  absl::Status scan = backend_->Scan(
      kKeyBucket, "", EncodeRevision(upper), 0, [&](std::string_view k, std::string_view v) {
        auto decoded = DecodeRevision(k);
        if (!decoded) {
          decode_status = absl::DataLossError("key bucket: undecodable revision");
          return false;
        }
        const Revision kr = decoded->rev;
        if (kr < lower) {
          if (!keep.empty() && keep.count(kr) == 0) return true;
          // Tombstones at the compact revision are kept only to complete watch catch-up
          // (see Compact); etcd has none, so they never enter the hash.
          if (decoded->tombstone) return true;
        }
        crc.Update(k);
        crc.Update(v);
        return true;
      });
  if (!scan.ok()) return scan;
  if (!decode_status.ok()) return decode_status;
  etcdserverpb::HashKVResponse resp;
  resp.mutable_header()->set_revision(current_rev_);
  resp.set_hash(crc.value());
  resp.set_compact_revision(compact_rev_);
  return resp;
}

// ---------------------------------------------------------------------------------------
// Writes.
// ---------------------------------------------------------------------------------------

void MvccStore::StagePut(WriteTxn& txn, const std::string& key, const std::string& value,
                         int64_t lease) {
  const int64_t rev = txn.write_rev();
  int64_t created = rev;
  int64_t version = 1;
  if (auto prev = index_.Get(key, rev)) {
    created = prev->created.main;
    version = prev->version + 1;
  }
  const Revision idx{rev, txn.next_sub()};
  mvccpb::Event ev;
  ev.set_type(mvccpb::Event::PUT);
  mvccpb::KeyValue* kv = ev.mutable_kv();
  kv->set_key(key);
  kv->set_create_revision(created);
  kv->set_mod_revision(rev);
  kv->set_version(version);
  kv->set_value(value);
  kv->set_lease(lease);
  const std::string rkey = EncodeRevision(idx);
  const std::string bytes = kv->SerializeAsString();
  backend_->Put(kKeyBucket, rkey, bytes);
  size_bytes_ += static_cast<int64_t>(rkey.size() + bytes.size());
  index_.Put(key, idx);
  if (auto it = key_lease_.find(key); it != key_lease_.end()) {
    if (lease_hooks_ != nullptr) lease_hooks_->Detach(it->second, key);
    key_lease_.erase(it);
  }
  if (lease != 0) {
    key_lease_.emplace(key, lease);
    if (lease_hooks_ != nullptr) lease_hooks_->Attach(lease, key);
  }
  txn.events().push_back(std::move(ev));
}

void MvccStore::StageDelete(WriteTxn& txn, const std::string& key) {
  const Revision idx{txn.write_rev(), txn.next_sub()};
  mvccpb::Event ev;
  ev.set_type(mvccpb::Event::DELETE);
  ev.mutable_kv()->set_key(key);
  const std::string rkey = EncodeRevision(idx, /*tombstone=*/true);
  const std::string bytes = ev.kv().SerializeAsString();
  backend_->Put(kKeyBucket, rkey, bytes);
  size_bytes_ += static_cast<int64_t>(rkey.size() + bytes.size());
  KEEL_CHECK(index_.Tombstone(key, idx));
  if (auto it = key_lease_.find(key); it != key_lease_.end()) {
    if (lease_hooks_ != nullptr) lease_hooks_->Detach(it->second, key);
    key_lease_.erase(it);
  }
  ev.mutable_kv()->set_mod_revision(idx.main);
  txn.events().push_back(std::move(ev));
}

void MvccStore::Finish(WriteTxn& txn) {
  if (txn.events().empty()) return;
  KEEL_CHECK(current_rev_ == txn.begin_rev());
  current_rev_ = txn.write_rev();
  if (listener_) listener_(current_rev_, txn.events());
}

absl::StatusOr<etcdserverpb::PutResponse> MvccStore::PutIn(WriteTxn& txn,
                                                           const etcdserverpb::PutRequest& r) {
  etcdserverpb::PutResponse resp;
  std::optional<mvccpb::KeyValue> prev;
  if (r.ignore_value() || r.ignore_lease() || r.prev_kv()) {
    if (auto l = index_.Get(r.key(), txn.read_rev())) {
      auto kv = ReadValue(l->modified);
      if (!kv.ok()) return kv.status();
      prev = std::move(*kv);
    }
  }
  if ((r.ignore_value() || r.ignore_lease()) && !prev) return KeyNotFoundError();
  const std::string& value = r.ignore_value() ? prev->value() : r.value();
  const int64_t lease = r.ignore_lease() ? prev->lease() : r.lease();
  if (r.prev_kv() && prev) *resp.mutable_prev_kv() = *prev;
  StagePut(txn, r.key(), value, lease);
  resp.mutable_header()->set_revision(txn.write_rev());
  return resp;
}

absl::StatusOr<etcdserverpb::DeleteRangeResponse> MvccStore::DeleteRangeIn(
    WriteTxn& txn, const etcdserverpb::DeleteRangeRequest& r) {
  etcdserverpb::DeleteRangeResponse resp;
  const auto pairs = index_.Range(KeyRange{r.key(), r.range_end()}, txn.read_rev());
  if (r.prev_kv()) {
    for (const auto& [key, rev] : pairs) {
      auto kv = ReadValue(rev);
      if (!kv.ok()) return kv.status();
      *resp.add_prev_kvs() = std::move(*kv);
    }
  }
  for (const auto& [key, rev] : pairs) StageDelete(txn, key);
  resp.set_deleted(static_cast<int64_t>(pairs.size()));
  resp.mutable_header()->set_revision(txn.events().empty() ? txn.begin_rev()
                                                           : txn.write_rev());
  return resp;
}

absl::StatusOr<etcdserverpb::PutResponse> MvccStore::Put(const etcdserverpb::PutRequest& r) {
  if (!poisoned_.ok()) return poisoned_;
  if (absl::Status s = CheckQuota(r); !s.ok()) return s;
  if (absl::Status s = CheckPutRequest(r); !s.ok()) return s;
  if (static_cast<int64_t>(r.ByteSizeLong()) > options_.max_request_bytes) {
    return RequestTooLargeError();
  }
  if (r.lease() != 0 && (lease_hooks_ == nullptr || !lease_hooks_->LeaseExists(r.lease()))) {
    return LeaseNotFoundError();
  }
  WriteTxn txn(current_rev_);
  auto resp = PutIn(txn, r);
  if (!resp.ok()) {
    // Nothing was staged (PutIn fails before staging); only an I/O error is fatal.
    KEEL_CHECK(txn.events().empty());
    if (!absl::IsInvalidArgument(resp.status())) return Poison(resp.status());
    return resp.status();
  }
  Finish(txn);
  return resp;
}

absl::StatusOr<etcdserverpb::DeleteRangeResponse> MvccStore::DeleteRange(
    const etcdserverpb::DeleteRangeRequest& r) {
  if (!poisoned_.ok()) return poisoned_;
  if (absl::Status s = CheckDeleteRequest(r); !s.ok()) return s;
  if (static_cast<int64_t>(r.ByteSizeLong()) > options_.max_request_bytes) {
    return RequestTooLargeError();
  }
  WriteTxn txn(current_rev_);
  auto resp = DeleteRangeIn(txn, r);
  if (!resp.ok()) return Poison(resp.status());
  Finish(txn);
  return resp;
}

absl::StatusOr<int64_t> MvccStore::DeleteKeys(const std::vector<std::string>& keys) {
  if (!poisoned_.ok()) return poisoned_;
  WriteTxn txn(current_rev_);
  absl::btree_set<std::string> done;  // a key listed twice is deleted once
  for (const std::string& key : keys) {
    if (!done.insert(key).second) continue;
    if (index_.Get(key, txn.write_rev())) StageDelete(txn, key);
  }
  Finish(txn);
  return current_rev_;
}

// ---------------------------------------------------------------------------------------
// Txn.
// ---------------------------------------------------------------------------------------

bool MvccStore::CompareOne(const etcdserverpb::Compare& c) {
  const auto pairs = index_.Range(KeyRange{c.key(), c.range_end()}, current_rev_);
  if (pairs.empty()) {
    if (c.target() == etcdserverpb::Compare::VALUE) return false;
    return CompareKv(c, mvccpb::KeyValue());
  }
  for (const auto& [key, rev] : pairs) {
    auto kv = ReadValue(rev);
    if (!kv.ok()) {
      // Never "false": a transient read error (EIO, a bit flip caught by a checksum) would
      // send this replica down the other branch while every other one takes this branch.
      // The store is poisoned and Txn returns the error (the member must fail-stop).
      (void)Poison(kv.status());
      return false;
    }
    if (!CompareKv(c, *kv)) return false;
  }
  return true;
}

bool MvccStore::Compares(const etcdserverpb::TxnRequest& r) {
  for (const auto& c : r.compare()) {
    if (!CompareOne(c)) return false;
  }
  return true;
}

// Pre-order list of the branch taken at every txn level that executes (compareToPath).
void MvccStore::CompareToPath(const etcdserverpb::TxnRequest& r, std::vector<bool>* path) {
  const bool ok = Compares(r);
  path->push_back(ok);
  for (const RequestOp& op : ok ? r.success() : r.failure()) {
    if (op.request_case() == RequestOp::kRequestTxn) CompareToPath(op.request_txn(), path);
  }
}

// checkRequests with checkRequestPut (check_puts) or checkRequestRange.
absl::Status MvccStore::CheckTxnOps(const etcdserverpb::TxnRequest& r,
                                    const std::vector<bool>& path, size_t* path_pos,
                                    bool check_puts) {
  KEEL_CHECK(*path_pos < path.size());
  const bool ok = path[(*path_pos)++];
  for (const RequestOp& op : ok ? r.success() : r.failure()) {
    if (op.request_case() == RequestOp::kRequestTxn) {
      if (absl::Status s = CheckTxnOps(op.request_txn(), path, path_pos, check_puts);
          !s.ok()) {
        return s;
      }
    } else if (check_puts && op.request_case() == RequestOp::kRequestPut) {
      const auto& put = op.request_put();
      if ((put.ignore_value() || put.ignore_lease()) && !index_.Get(put.key(), current_rev_)) {
        return KeyNotFoundError();
      }
      if (put.lease() != 0 &&
          (lease_hooks_ == nullptr || !lease_hooks_->LeaseExists(put.lease()))) {
        return LeaseNotFoundError();
      }
    } else if (!check_puts && op.request_case() == RequestOp::kRequestRange) {
      const int64_t rev = op.request_range().revision();
      if (rev > current_rev_) return FutureRevError();
      if (rev != 0 && rev < compact_rev_) return CompactedError();
    }
  }
  return absl::OkStatus();
}

absl::Status MvccStore::ApplyTxn(WriteTxn& txn, const etcdserverpb::TxnRequest& r,
                                 const std::vector<bool>& path, size_t* path_pos,
                                 etcdserverpb::TxnResponse* resp) {
  KEEL_CHECK(*path_pos < path.size());
  const bool ok = path[(*path_pos)++];
  resp->set_succeeded(ok);
  for (const RequestOp& op : ok ? r.success() : r.failure()) {
    etcdserverpb::ResponseOp* out = resp->add_responses();
    switch (op.request_case()) {
      case RequestOp::kRequestRange: {
        auto rr = RangeAt(op.request_range(), txn.read_rev());
        if (!rr.ok()) return rr.status();
        *out->mutable_response_range() = std::move(*rr);
        break;
      }
      case RequestOp::kRequestPut: {
        auto pr = PutIn(txn, op.request_put());
        if (!pr.ok()) return pr.status();
        *out->mutable_response_put() = std::move(*pr);
        break;
      }
      case RequestOp::kRequestDeleteRange: {
        auto dr = DeleteRangeIn(txn, op.request_delete_range());
        if (!dr.ok()) return dr.status();
        *out->mutable_response_delete_range() = std::move(*dr);
        break;
      }
      case RequestOp::kRequestTxn: {
        absl::Status s = ApplyTxn(txn, op.request_txn(), path, path_pos,
                                  out->mutable_response_txn());
        if (!s.ok()) return s;
        break;
      }
      case RequestOp::REQUEST_NOT_SET:
        break;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<etcdserverpb::TxnResponse> MvccStore::Txn(const etcdserverpb::TxnRequest& r) {
  if (!poisoned_.ok()) return poisoned_;
  if (absl::Status s = CheckQuota(r); !s.ok()) return s;
  if (absl::Status s = CheckTxnRequest(r, options_.max_txn_ops); !s.ok()) return s;
  if (static_cast<int64_t>(r.ByteSizeLong()) > options_.max_request_bytes) {
    return RequestTooLargeError();
  }
  std::vector<bool> path;
  CompareToPath(r, &path);
  if (!poisoned_.ok()) return poisoned_;  // a compare could not read its key
  if (!IsReadOnly(r)) {
    size_t pos = 0;
    if (absl::Status s = CheckTxnOps(r, path, &pos, /*check_puts=*/true); !s.ok()) return s;
  }
  size_t pos = 0;
  if (absl::Status s = CheckTxnOps(r, path, &pos, /*check_puts=*/false); !s.ok()) return s;

  WriteTxn txn(current_rev_);
  etcdserverpb::TxnResponse resp;
  pos = 0;
  // Every request-dependent failure was ruled out above; what remains is I/O, after which
  // the in-memory state may be half-applied.
  if (absl::Status s = ApplyTxn(txn, r, path, &pos, &resp); !s.ok()) return Poison(s);
  KEEL_CHECK(pos == path.size());
  resp.mutable_header()->set_revision(txn.read_rev());
  Finish(txn);
  return resp;
}

// ---------------------------------------------------------------------------------------
// Compaction.
// ---------------------------------------------------------------------------------------

absl::StatusOr<etcdserverpb::CompactionResponse> MvccStore::Compact(
    const etcdserverpb::CompactionRequest& r) {
  if (!poisoned_.ok()) return poisoned_;
  const int64_t rev = r.revision();
  if (rev <= compact_rev_) return CompactedError();
  if (rev > current_rev_) return FutureRevError();
  compact_rev_ = rev;
  // Persist the decision first (etcd's scheduledCompactRev): a restart finishes the job.
  backend_->Put(kMetaBucket, kScheduledCompactKey, EncodeRevision({rev, 0}));
  if (absl::Status s = Commit(); !s.ok()) return s;
  if (absl::Status s = CompactBackend(rev, index_.Compact(rev)); !s.ok()) return Poison(s);
  etcdserverpb::CompactionResponse resp;
  resp.mutable_header()->set_revision(current_rev_);
  return resp;
}

// Deletes the records below `rev` that `keep` does not name, in bounded batches, then
// records the compaction as finished. Unlike etcd, every record AT `rev` survives: the
// tombstones there (and a put deleted again within revision `rev`) are invisible to reads
// and to HashKV but let a watcher that resumes at `rev` (which etcd allows) still receive
// all of that revision's events.
absl::Status MvccStore::CompactBackend(int64_t rev, const RevisionSet& keep) {
  if (absl::Status s = Commit(); !s.ok()) return s;
  const std::string end = EncodeRevision({rev, 0});
  std::string start;
  for (;;) {
    std::vector<std::string> doomed;
    int64_t freed_bytes = 0;
    size_t seen = 0;
    absl::Status decode_status;
    absl::Status scan = backend_->Scan(
        kKeyBucket, start, end, options_.compaction_batch_records,
        [&](std::string_view k, std::string_view v) {
          ++seen;
          start = std::string(k) + std::string(1, '\0');  // resume after this record
          auto decoded = DecodeRevision(k);
          if (!decoded) {
            decode_status = absl::DataLossError("key bucket: undecodable revision");
            return false;
          }
          if (keep.count(decoded->rev) == 0) {
            doomed.emplace_back(k);
            freed_bytes += static_cast<int64_t>(k.size() + v.size());
          }
          return true;
        });
    if (!scan.ok()) return scan;
    if (!decode_status.ok()) return decode_status;
    for (const std::string& k : doomed) backend_->Delete(kKeyBucket, k);
    size_bytes_ -= freed_bytes;
    KEEL_CHECK(size_bytes_ >= 0);
    if (seen < options_.compaction_batch_records) break;
    if (absl::Status s = Commit(); !s.ok()) return s;
  }
  backend_->Put(kMetaBucket, kFinishedCompactKey, EncodeRevision({rev, 0}));
  return Commit();
}

}  // namespace keel::kv
