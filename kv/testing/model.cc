#include "kv/testing/model.h"

#include <algorithm>
#include <utility>

#include "kv/errors.h"
#include "kv/request_check.h"

namespace keel::kv::testing {

using etcdserverpb::Compare;
using etcdserverpb::RangeRequest;
using etcdserverpb::RequestOp;

bool InRange(const std::string& key, const std::string& begin, const std::string& end) {
  if (end.empty()) return key == begin;
  if (end == std::string(1, '\0')) return key >= begin;
  return key >= begin && key < end;
}

Model::Model() : snapshots_(2), events_(2) {}

int64_t Model::ReadRev(const Work& w) const {
  return w.events.empty() ? current_revision() : w.rev;
}

void Model::Commit(Work w) {
  if (w.events.empty()) return;
  snapshots_.push_back(std::move(w.keys));
  events_.push_back(std::move(w.events));
}

absl::StatusOr<etcdserverpb::RangeResponse> Model::Range(const RangeRequest& r) const {
  if (r.key().empty()) return EmptyKeyError();
  int64_t rev = r.revision();
  if (rev > current_revision()) return FutureRevError();
  if (rev <= 0) rev = current_revision();
  if (rev < compact_) return CompactedError();
  return RangeIn(r, snapshots_[rev], current_revision());
}

absl::StatusOr<etcdserverpb::RangeResponse> Model::RangeIn(const RangeRequest& r,
                                                          const Snapshot& keys,
                                                          int64_t header_rev) const {
  std::vector<mvccpb::KeyValue> kvs;
  for (const auto& [k, kv] : keys) {
    if (InRange(k, r.key(), r.range_end())) kvs.push_back(kv);
  }
  etcdserverpb::RangeResponse resp;
  resp.mutable_header()->set_revision(header_rev);
  resp.set_count(static_cast<int64_t>(kvs.size()));
  if (r.count_only()) return resp;
  const bool fetch_all = r.sort_order() != RangeRequest::NONE || r.min_mod_revision() != 0 ||
                         r.max_mod_revision() != 0 || r.min_create_revision() != 0 ||
                         r.max_create_revision() != 0;
  if (!fetch_all && r.limit() > 0 && kvs.size() > static_cast<size_t>(r.limit()) + 1) {
    kvs.resize(static_cast<size_t>(r.limit()) + 1);
  }
  std::vector<mvccpb::KeyValue> kept;
  for (auto& kv : kvs) {
    if (r.max_mod_revision() != 0 && kv.mod_revision() > r.max_mod_revision()) continue;
    if (r.min_mod_revision() != 0 && kv.mod_revision() < r.min_mod_revision()) continue;
    if (r.max_create_revision() != 0 && kv.create_revision() > r.max_create_revision()) continue;
    if (r.min_create_revision() != 0 && kv.create_revision() < r.min_create_revision()) continue;
    kept.push_back(kv);
  }
  auto order = r.sort_order();
  if (r.sort_target() != RangeRequest::KEY && order == RangeRequest::NONE) {
    order = RangeRequest::ASCEND;
  }
  auto field = [&](const mvccpb::KeyValue& kv) -> std::pair<int64_t, std::string> {
    switch (r.sort_target()) {
      case RangeRequest::VERSION: return {kv.version(), ""};
      case RangeRequest::CREATE: return {kv.create_revision(), ""};
      case RangeRequest::MOD: return {kv.mod_revision(), ""};
      case RangeRequest::VALUE: return {0, kv.value()};
      default: return {0, kv.key()};
    }
  };
  if (order == RangeRequest::ASCEND) {
    std::stable_sort(kept.begin(), kept.end(),
                     [&](const auto& a, const auto& b) { return field(a) < field(b); });
  } else if (order == RangeRequest::DESCEND) {
    std::stable_sort(kept.begin(), kept.end(),
                     [&](const auto& a, const auto& b) { return field(b) < field(a); });
  }
  if (r.limit() > 0 && kept.size() > static_cast<size_t>(r.limit())) {
    kept.resize(static_cast<size_t>(r.limit()));
    resp.set_more(true);
  }
  for (auto& kv : kept) {
    if (r.keys_only()) kv.clear_value();
    *resp.add_kvs() = kv;
  }
  return resp;
}

absl::StatusOr<etcdserverpb::PutResponse> Model::PutIn(Work& w,
                                                       const etcdserverpb::PutRequest& r) {
  auto it = w.keys.find(r.key());
  const mvccpb::KeyValue* prev = it == w.keys.end() ? nullptr : &it->second;
  if ((r.ignore_value() || r.ignore_lease()) && prev == nullptr) return KeyNotFoundError();
  etcdserverpb::PutResponse resp;
  mvccpb::KeyValue kv;
  kv.set_key(r.key());
  kv.set_value(r.ignore_value() ? prev->value() : r.value());
  kv.set_lease(r.ignore_lease() ? prev->lease() : r.lease());
  kv.set_mod_revision(w.rev);
  kv.set_create_revision(prev != nullptr ? prev->create_revision() : w.rev);
  kv.set_version(prev != nullptr ? prev->version() + 1 : 1);
  if (r.prev_kv() && prev != nullptr) *resp.mutable_prev_kv() = *prev;
  mvccpb::Event ev;
  ev.set_type(mvccpb::Event::PUT);
  *ev.mutable_kv() = kv;
  w.events.push_back(ev);
  w.keys[r.key()] = kv;
  resp.mutable_header()->set_revision(w.rev);
  return resp;
}

etcdserverpb::DeleteRangeResponse Model::DeleteIn(Work& w,
                                                  const etcdserverpb::DeleteRangeRequest& r) {
  etcdserverpb::DeleteRangeResponse resp;
  std::vector<std::string> doomed;
  for (const auto& [k, kv] : w.keys) {
    if (!InRange(k, r.key(), r.range_end())) continue;
    doomed.push_back(k);
    if (r.prev_kv()) *resp.add_prev_kvs() = kv;
  }
  for (const auto& k : doomed) {
    w.keys.erase(k);
    mvccpb::Event ev;
    ev.set_type(mvccpb::Event::DELETE);
    ev.mutable_kv()->set_key(k);
    ev.mutable_kv()->set_mod_revision(w.rev);
    w.events.push_back(ev);
  }
  resp.set_deleted(static_cast<int64_t>(doomed.size()));
  resp.mutable_header()->set_revision(ReadRev(w));
  return resp;
}

absl::StatusOr<etcdserverpb::PutResponse> Model::Put(const etcdserverpb::PutRequest& r) {
  if (absl::Status s = CheckPutRequest(r); !s.ok()) return s;
  if (r.lease() != 0 && leases_.count(r.lease()) == 0) return LeaseNotFoundError();
  Work w{snapshots_.back(), {}, current_revision() + 1};
  auto resp = PutIn(w, r);
  if (resp.ok()) Commit(std::move(w));
  return resp;
}

absl::StatusOr<etcdserverpb::DeleteRangeResponse> Model::DeleteRange(
    const etcdserverpb::DeleteRangeRequest& r) {
  if (absl::Status s = CheckDeleteRequest(r); !s.ok()) return s;
  Work w{snapshots_.back(), {}, current_revision() + 1};
  auto resp = DeleteIn(w, r);
  Commit(std::move(w));
  return resp;
}

namespace {

int Sign(int64_t v) { return v < 0 ? -1 : (v > 0 ? 1 : 0); }

bool CompareHolds(const Compare& c, const mvccpb::KeyValue& kv) {
  int cmp = 0;
  switch (c.target()) {
    case Compare::VALUE: cmp = Sign(kv.value().compare(c.value())); break;
    case Compare::CREATE: cmp = Sign(kv.create_revision() - c.create_revision()); break;
    case Compare::MOD: cmp = Sign(kv.mod_revision() - c.mod_revision()); break;
    case Compare::VERSION: cmp = Sign(kv.version() - c.version()); break;
    case Compare::LEASE: cmp = Sign(kv.lease() - c.lease()); break;
    default: break;
  }
  switch (c.result()) {
    case Compare::EQUAL: return cmp == 0;
    case Compare::NOT_EQUAL: return cmp != 0;
    case Compare::GREATER: return cmp > 0;
    case Compare::LESS: return cmp < 0;
    default: return true;
  }
}

}  // namespace

bool Model::Succeeds(const etcdserverpb::TxnRequest& r) const {
  const Snapshot& now = snapshots_.back();
  for (const Compare& c : r.compare()) {
    bool any = false;
    for (const auto& [k, kv] : now) {
      if (!InRange(k, c.key(), c.range_end())) continue;
      any = true;
      if (!CompareHolds(c, kv)) return false;
    }
    if (!any && (c.target() == Compare::VALUE || !CompareHolds(c, mvccpb::KeyValue()))) {
      return false;
    }
  }
  return true;
}

absl::Status Model::CheckOps(const etcdserverpb::TxnRequest& r, bool writes) const {
  const Snapshot& now = snapshots_.back();
  for (const RequestOp& op : Succeeds(r) ? r.success() : r.failure()) {
    if (op.has_request_txn()) {
      if (absl::Status s = CheckOps(op.request_txn(), writes); !s.ok()) return s;
    } else if (writes && op.has_request_put()) {
      const auto& p = op.request_put();
      if ((p.ignore_value() || p.ignore_lease()) && now.count(p.key()) == 0) {
        return KeyNotFoundError();
      }
      if (p.lease() != 0 && leases_.count(p.lease()) == 0) return LeaseNotFoundError();
    } else if (!writes && op.has_request_range()) {
      const int64_t rev = op.request_range().revision();
      if (rev > current_revision()) return FutureRevError();
      if (rev != 0 && rev < compact_) return CompactedError();
    }
  }
  return absl::OkStatus();
}

void Model::ApplyTxn(Work& w, const etcdserverpb::TxnRequest& r,
                     etcdserverpb::TxnResponse* out) {
  const bool ok = Succeeds(r);
  out->set_succeeded(ok);
  for (const RequestOp& op : ok ? r.success() : r.failure()) {
    auto* resp = out->add_responses();
    if (op.has_request_range()) {
      const auto& rr = op.request_range();
      const Snapshot& keys = rr.revision() != 0 ? snapshots_[rr.revision()] : w.keys;
      *resp->mutable_response_range() = *RangeIn(rr, keys, ReadRev(w));
    } else if (op.has_request_put()) {
      *resp->mutable_response_put() = *PutIn(w, op.request_put());
    } else if (op.has_request_delete_range()) {
      *resp->mutable_response_delete_range() = DeleteIn(w, op.request_delete_range());
    } else if (op.has_request_txn()) {
      ApplyTxn(w, op.request_txn(), resp->mutable_response_txn());
    }
  }
}

absl::StatusOr<etcdserverpb::TxnResponse> Model::Txn(const etcdserverpb::TxnRequest& r) {
  if (absl::Status s = CheckTxnRequest(r, max_txn_ops); !s.ok()) return s;
  bool read_only = true;
  for (const auto* ops : {&r.success(), &r.failure()}) {
    for (const RequestOp& op : *ops) read_only = read_only && op.has_request_range();
  }
  if (!read_only) {
    if (absl::Status s = CheckOps(r, true); !s.ok()) return s;
  }
  if (absl::Status s = CheckOps(r, false); !s.ok()) return s;
  Work w{snapshots_.back(), {}, current_revision() + 1};
  etcdserverpb::TxnResponse resp;
  ApplyTxn(w, r, &resp);
  resp.mutable_header()->set_revision(ReadRev(w));
  Commit(std::move(w));
  return resp;
}

absl::StatusOr<etcdserverpb::CompactionResponse> Model::Compact(int64_t rev) {
  if (rev <= compact_) return CompactedError();
  if (rev > current_revision()) return FutureRevError();
  compact_ = rev;
  etcdserverpb::CompactionResponse resp;
  resp.mutable_header()->set_revision(current_revision());
  return resp;
}

}  // namespace keel::kv::testing
