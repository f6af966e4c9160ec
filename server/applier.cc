#include "server/applier.h"

#include <string>
#include <vector>

#include "api/leasepb/lease.pb.h"
#include "kv/errors.h"
#include "server/errors.h"

namespace keel::server {
namespace {

constexpr std::string_view kLeaseBucket = "lease";

template <typename Response>
ApplyResult Ok(Response response) {
  ApplyResult result;
  result.response = std::make_unique<Response>(std::move(response));
  return result;
}

template <typename Response>
ApplyResult FromStatusOr(absl::StatusOr<Response> response) {
  if (!response.ok()) return ApplyResult{response.status(), nullptr};
  return Ok(*std::move(response));
}

ApplyResult Error(absl::Status status) { return ApplyResult{std::move(status), nullptr}; }

std::string LeaseKey(int64_t id) {
  std::string key(8, '\0');
  for (int i = 0; i < 8; ++i) key[i] = static_cast<char>(static_cast<uint64_t>(id) >> (56 - 8 * i));
  return key;
}

// True if the txn can write on the branch its compares would take... conservatively: any
// put anywhere in it (etcd's capped applier refuses a txn with any put while NOSPACE).
bool TxnHasPut(const etcdserverpb::TxnRequest& r) {
  for (const auto* ops : {&r.success(), &r.failure()}) {
    for (const etcdserverpb::RequestOp& op : *ops) {
      if (op.has_request_put()) return true;
      if (op.has_request_txn() && TxnHasPut(op.request_txn())) return true;
    }
  }
  return false;
}

// A txn that only reads: etcd serves it outside the applier, so a CORRUPT alarm does not
// refuse it.
bool TxnWrites(const etcdserverpb::TxnRequest& r) {
  for (const auto* ops : {&r.success(), &r.failure()}) {
    for (const etcdserverpb::RequestOp& op : *ops) {
      if (op.has_request_put() || op.has_request_delete_range()) return true;
      if (op.has_request_txn() && TxnWrites(op.request_txn())) return true;
    }
  }
  return false;
}

// etcd's applierV3Corrupt: while CORRUPT is raised, every request that changes the store
// or its leases fails on every member alike.
bool RefusedWhileCorrupt(const serverpb::InternalRaftRequest& r) {
  return r.has_put() || r.has_delete_range() || (r.has_txn() && TxnWrites(r.txn())) ||
         r.has_compaction() || r.has_lease_grant() || r.has_lease_revoke();
}

}  // namespace

ApplyResult Applier::Apply(const serverpb::InternalRaftRequest& r, int64_t now_ns,
                           const HeaderInfo& header, uint64_t index) {
  const AuthInfo who{r.header().username(), r.header().auth_revision()};
  if (auth_ != nullptr && !r.header().system()) {
    if (std::optional<ApplyResult> auth = ApplyAuth(r, who, now_ns, index, header)) {
      return *std::move(auth);
    }
    absl::Status permitted = CheckPermission(r, who, now_ns);
    if (!permitted.ok()) return Error(std::move(permitted));
  }
  if (alarms_->Has(etcdserverpb::CORRUPT) && RefusedWhileCorrupt(r)) return Error(CorruptError());
  const bool capped = alarms_->Has(etcdserverpb::NOSPACE);
  ApplyResult result;
  if (r.has_put()) {
    if (capped) return Error(kv::NoSpaceError());
    result = FromStatusOr(store_->Put(r.put()));
    if (result.status.ok()) {
      FillHeader(header, store_->current_revision(),
                 static_cast<etcdserverpb::PutResponse*>(result.response.get()));
    }
  } else if (r.has_delete_range()) {
    result = FromStatusOr(store_->DeleteRange(r.delete_range()));
    if (result.status.ok()) {
      FillHeader(header, store_->current_revision(),
                 static_cast<etcdserverpb::DeleteRangeResponse*>(result.response.get()));
    }
  } else if (r.has_txn()) {
    if (capped && TxnHasPut(r.txn())) return Error(kv::NoSpaceError());
    // Bug-zoo site kv-txn-partial-apply: the success branch keeps only its first op (every
    // replica alike, so they agree; what the client asked for is half done).
    if (bugs_.on(env::Bug::kKvTxnPartialApply) && r.txn().success_size() > 1) {
      etcdserverpb::TxnRequest partial = r.txn();
      partial.mutable_success()->DeleteSubrange(1, partial.success_size() - 1);
      result = FromStatusOr(store_->Txn(partial));
    } else {
      result = FromStatusOr(store_->Txn(r.txn()));
    }
    if (result.status.ok()) {
      auto* txn = static_cast<etcdserverpb::TxnResponse*>(result.response.get());
      FillHeader(header, store_->current_revision(), txn);
      // Nested responses carry only the revision, as etcd's do (the store set it).
    }
  } else if (r.has_compaction()) {
    result = FromStatusOr(store_->Compact(r.compaction()));
    if (result.status.ok()) {
      FillHeader(header, store_->current_revision(),
                 static_cast<etcdserverpb::CompactionResponse*>(result.response.get()));
    }
  } else if (r.has_lease_grant()) {
    if (capped) return Error(kv::NoSpaceError());
    result = ApplyLeaseGrant(r.lease_grant(), now_ns);
    if (result.status.ok()) {
      FillHeader(header, store_->current_revision(),
                 static_cast<etcdserverpb::LeaseGrantResponse*>(result.response.get()));
    }
  } else if (r.has_lease_revoke()) {
    result = ApplyLeaseRevoke(r.lease_revoke());
    if (result.status.ok()) {
      FillHeader(header, store_->current_revision(),
                 static_cast<etcdserverpb::LeaseRevokeResponse*>(result.response.get()));
    }
  } else if (r.has_lease_checkpoint()) {
    result = ApplyLeaseCheckpoint(r.lease_checkpoint(), now_ns);
  } else if (r.has_alarm()) {
    // No header: etcd 3.4's applier answers Alarm with the alarms alone.
    result = ApplyAlarm(r.alarm());
  } else if (r.has_publish()) {
    membership_->ApplyPublish(r.publish(), store_->backend());
    result.status = absl::OkStatus();
  } else {
    // A request type this version does not know. Every member skips it the same way.
    result.status = absl::InvalidArgumentError("etcdserver: unknown request in raft log");
  }
  return result;
}

ApplyResult Applier::ApplyLeaseGrant(const etcdserverpb::LeaseGrantRequest& r, int64_t now_ns) {
  absl::StatusOr<int64_t> ttl = lessor_->Grant(r.id(), r.ttl(), now_ns);
  if (!ttl.ok()) return Error(ttl.status());
  PersistLease(r.id());
  etcdserverpb::LeaseGrantResponse response;
  response.set_id(r.id());
  response.set_ttl(*ttl);
  return Ok(std::move(response));
}

absl::Status Applier::RevokeLease(int64_t lease_id) {
  absl::StatusOr<std::vector<std::string>> keys = lessor_->Revoke(lease_id);
  if (!keys.ok()) return keys.status();
  store_->backend().Delete(kLeaseBucket, LeaseKey(lease_id));
  if (bugs_.on(env::Bug::kServerLeaseRevokeKeepsKey)) return absl::OkStatus();  // bug-zoo site
  // All of the lease's keys go in one revision, as etcd's lessor does with one txn.
  return store_->DeleteKeys(*keys).status();
}

ApplyResult Applier::ApplyLeaseRevoke(const etcdserverpb::LeaseRevokeRequest& r) {
  absl::Status revoked = RevokeLease(r.id());
  if (!revoked.ok()) return Error(revoked);
  return Ok(etcdserverpb::LeaseRevokeResponse());
}

ApplyResult Applier::ApplyLeaseCheckpoint(const etcdserverpb::LeaseCheckpointRequest& r,
                                          int64_t now_ns) {
  for (const etcdserverpb::LeaseCheckpoint& cp : r.checkpoints()) {
    if (!lessor_->Exists(cp.id())) continue;
    lessor_->Checkpoint(cp.id(), cp.remaining_ttl(), now_ns);
    PersistLease(cp.id());
  }
  return Ok(etcdserverpb::LeaseCheckpointResponse());
}

ApplyResult Applier::ApplyAlarm(const etcdserverpb::AlarmRequest& r) {
  etcdserverpb::AlarmResponse response;
  for (etcdserverpb::AlarmMember& m : alarms_->Apply(r, store_->backend())) {
    *response.add_alarms() = std::move(m);
  }
  return Ok(std::move(response));
}

absl::Status Applier::CheckLeasePuts(int64_t lease_id, const AuthInfo& who,
                                     int64_t now_ns) const {
  if (lease_id == kv::kNoLease || !lessor_->Exists(lease_id)) return absl::OkStatus();
  absl::StatusOr<kv::LeaseTimeToLive> lease = lessor_->TimeToLive(lease_id, now_ns);
  if (!lease.ok()) return absl::OkStatus();
  // A user who may not write every key of the lease may neither revoke it nor attach it.
  for (const std::string& key : lease->keys) {
    absl::Status ok = auth_->IsPutPermitted(who, key);
    if (!ok.ok()) return ok;
  }
  return absl::OkStatus();
}

absl::Status Applier::CheckTxnPermission(const etcdserverpb::TxnRequest& r,
                                         const AuthInfo& who) const {
  for (const etcdserverpb::Compare& c : r.compare()) {
    absl::Status ok = auth_->IsRangePermitted(who, c.key(), c.range_end());
    if (!ok.ok()) return ok;
  }
  // Every op of both branches, whichever the compares will take (etcd's checkTxnAuth).
  for (const auto* ops : {&r.success(), &r.failure()}) {
    for (const etcdserverpb::RequestOp& op : *ops) {
      absl::Status ok;
      if (op.has_request_range()) {
        ok = auth_->IsRangePermitted(who, op.request_range().key(), op.request_range().range_end());
      } else if (op.has_request_put()) {
        ok = auth_->IsPutPermitted(who, op.request_put().key());
        if (ok.ok() && op.request_put().prev_kv()) {
          ok = auth_->IsRangePermitted(who, op.request_put().key(), "");
        }
      } else if (op.has_request_delete_range()) {
        const etcdserverpb::DeleteRangeRequest& d = op.request_delete_range();
        if (d.prev_kv()) ok = auth_->IsRangePermitted(who, d.key(), d.range_end());
        if (ok.ok()) ok = auth_->IsDeleteRangePermitted(who, d.key(), d.range_end());
      } else if (op.has_request_txn()) {
        ok = CheckTxnPermission(op.request_txn(), who);
      }
      if (!ok.ok()) return ok;
    }
  }
  return absl::OkStatus();
}

absl::Status Applier::CheckPermission(const serverpb::InternalRaftRequest& r, const AuthInfo& who,
                                      int64_t now_ns) const {
  if (!auth_->enabled()) return absl::OkStatus();
  if (r.has_put()) {
    absl::Status ok = auth_->IsPutPermitted(who, r.put().key());
    if (ok.ok()) ok = CheckLeasePuts(r.put().lease(), who, now_ns);
    if (ok.ok() && r.put().prev_kv()) ok = auth_->IsRangePermitted(who, r.put().key(), "");
    return ok;
  }
  if (r.has_delete_range()) {
    const etcdserverpb::DeleteRangeRequest& d = r.delete_range();
    absl::Status ok = auth_->IsDeleteRangePermitted(who, d.key(), d.range_end());
    if (ok.ok() && d.prev_kv()) ok = auth_->IsRangePermitted(who, d.key(), d.range_end());
    return ok;
  }
  if (r.has_txn()) return CheckTxnPermission(r.txn(), who);
  if (r.has_lease_revoke() && !r.header().system()) {
    return CheckLeasePuts(r.lease_revoke().id(), who, now_ns);
  }
  return absl::OkStatus();
}

void Applier::PersistLease(int64_t lease_id) {
  absl::StatusOr<kv::LeaseRecord> record = lessor_->Record(lease_id);
  if (!record.ok()) return;
  leasepb::Lease stored;  // etcd's own record for its "lease" bucket
  stored.set_id(record->id);
  stored.set_ttl(record->ttl_seconds);
  stored.set_remainingttl(record->remaining_ttl_seconds);
  store_->backend().Put(kLeaseBucket, LeaseKey(lease_id), stored.SerializeAsString());
}

absl::StatusOr<std::vector<kv::LeaseRecord>> LoadLeases(const kv::Backend& backend) {
  std::vector<kv::LeaseRecord> records;
  absl::Status bad;
  absl::Status scan =
      backend.Scan(kLeaseBucket, "", "", 0, [&](std::string_view key, std::string_view value) {
        leasepb::Lease stored;
        if (!stored.ParseFromArray(value.data(), static_cast<int>(value.size())) ||
            stored.id() == kv::kNoLease) {
          bad = absl::DataLossError("backend: unreadable lease record");
          return false;
        }
        records.push_back({stored.id(), stored.ttl(), stored.remainingttl()});
        return true;
      });
  if (!scan.ok()) return scan;
  if (!bad.ok()) return bad;
  return records;
}

}  // namespace keel::server
