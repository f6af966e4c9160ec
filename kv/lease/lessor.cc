#include "kv/lease/lessor.h"

#include <algorithm>
#include <cassert>

#include "kv/lease/lease_errors.h"

namespace keel::kv {
namespace {

constexpr int64_t kNanosPerSecond = 1'000'000'000;

// now + delta without overflowing past "forever".
int64_t SaturatingAdd(int64_t now_ns, int64_t delta_ns) {
  if (delta_ns > 0 && now_ns > std::numeric_limits<int64_t>::max() - delta_ns) {
    return std::numeric_limits<int64_t>::max();
  }
  return now_ns + delta_ns;
}

int64_t SecondsToNanos(int64_t seconds) {
  if (seconds > std::numeric_limits<int64_t>::max() / kNanosPerSecond) {
    return std::numeric_limits<int64_t>::max();
  }
  return seconds * kNanosPerSecond;
}

}  // namespace

Lessor::Lessor(LessorOptions options) : options_(options) {
  assert(options_.min_ttl_seconds >= 1);
  assert(options_.checkpoint_interval_ns > 0);
  assert(options_.expired_retry_ns > 0);
}

void Lessor::SetNextReport(LeaseId id, Lease& lease, int64_t when_ns) {
  if (lease.next_report_ns != kForever) expiry_queue_.erase({lease.next_report_ns, id});
  lease.next_report_ns = when_ns;
  if (when_ns != kForever) expiry_queue_.insert({when_ns, id});
}

void Lessor::SetNextCheckpoint(LeaseId id, Lease& lease, int64_t when_ns) {
  if (lease.next_checkpoint_ns != kForever) checkpoint_queue_.erase({lease.next_checkpoint_ns, id});
  lease.next_checkpoint_ns = when_ns;
  if (when_ns != kForever) checkpoint_queue_.insert({when_ns, id});
}

void Lessor::Refresh(LeaseId id, Lease& lease, int64_t now_ns, int64_t remaining_s,
                     int64_t extend_ns) {
  assert(primary_);
  lease.expiry_ns = SaturatingAdd(SaturatingAdd(now_ns, extend_ns), SecondsToNanos(remaining_s));
  SetNextReport(id, lease, lease.expiry_ns);
  // Only leases that outlive a checkpoint interval need one: shorter ones are either
  // renewed or revoked before a checkpoint would matter.
  const bool wants_checkpoint = SecondsToNanos(lease.ttl_seconds) > options_.checkpoint_interval_ns;
  SetNextCheckpoint(id, lease,
                    wants_checkpoint ? SaturatingAdd(now_ns, options_.checkpoint_interval_ns)
                                     : kForever);
}

int64_t Lessor::RemainingSeconds(const Lease& lease, int64_t now_ns) {
  if (lease.expiry_ns == kForever) {
    return lease.remaining_ttl_seconds > 0 ? lease.remaining_ttl_seconds : lease.ttl_seconds;
  }
  const int64_t left_ns = lease.expiry_ns - now_ns;
  if (left_ns <= 0) return -1;
  return (left_ns + kNanosPerSecond - 1) / kNanosPerSecond;  // round up, as etcd
}

absl::StatusOr<int64_t> Lessor::Grant(LeaseId id, int64_t ttl_seconds, int64_t now_ns) {
  if (id == kNoLease) return LeaseNotFoundError();
  if (ttl_seconds > kMaxLeaseTtlSeconds) return LeaseTtlTooLargeError();
  if (leases_.contains(id)) return LeaseExistsError();
  Lease& lease = leases_[id];
  lease.ttl_seconds = std::max(ttl_seconds, options_.min_ttl_seconds);
  if (primary_) Refresh(id, lease, now_ns, lease.ttl_seconds, 0);
  return lease.ttl_seconds;
}

absl::StatusOr<std::vector<std::string>> Lessor::Revoke(LeaseId id) {
  auto it = leases_.find(id);
  if (it == leases_.end()) return LeaseNotFoundError();
  std::vector<std::string> keys(it->second.keys.begin(), it->second.keys.end());
  SetNextReport(id, it->second, kForever);
  SetNextCheckpoint(id, it->second, kForever);
  leases_.erase(it);
  return keys;
}

absl::Status Lessor::Attach(LeaseId id, std::string_view key) {
  auto it = leases_.find(id);
  if (it == leases_.end()) return LeaseNotFoundError();
  it->second.keys.emplace(key);
  return absl::OkStatus();
}

void Lessor::Detach(LeaseId id, std::string_view key) {
  auto it = leases_.find(id);
  if (it == leases_.end()) return;
  it->second.keys.erase(std::string(key));
}

void Lessor::Checkpoint(LeaseId id, int64_t remaining_ttl_seconds, int64_t now_ns) {
  auto it = leases_.find(id);
  if (it == leases_.end()) return;
  it->second.remaining_ttl_seconds = std::max<int64_t>(remaining_ttl_seconds, 0);
  // On the primary the live expiry stays authoritative: the checkpoint only matters to
  // whoever is promoted next (etcd's Checkpoint does the same).
  (void)now_ns;
}

void Lessor::Restore(const std::vector<LeaseRecord>& records) {
  leases_.clear();
  expiry_queue_.clear();
  checkpoint_queue_.clear();
  for (const LeaseRecord& r : records) {
    assert(r.id != kNoLease);
    Lease& lease = leases_[r.id];
    lease.ttl_seconds = r.ttl_seconds;
    lease.remaining_ttl_seconds = r.remaining_ttl_seconds;
  }
  // A restored lessor is never primary: the server calls Promote when it leads.
  primary_ = false;
}

void Lessor::Promote(int64_t now_ns, int64_t extend_ns) {
  primary_ = true;
  for (auto& [id, lease] : leases_) {
    const int64_t remaining =
        lease.remaining_ttl_seconds > 0 ? lease.remaining_ttl_seconds : lease.ttl_seconds;
    Refresh(id, lease, now_ns, remaining, extend_ns);
  }
}

void Lessor::Demote() {
  primary_ = false;
  for (auto& [id, lease] : leases_) {
    lease.expiry_ns = kForever;
    SetNextReport(id, lease, kForever);
    SetNextCheckpoint(id, lease, kForever);
  }
  assert(expiry_queue_.empty() && checkpoint_queue_.empty());
}

absl::StatusOr<RenewResult> Lessor::Renew(LeaseId id, int64_t now_ns) {
  if (!primary_) return LeaseNotPrimaryError();
  auto it = leases_.find(id);
  if (it == leases_.end()) return LeaseNotFoundError();
  Lease& lease = it->second;
  // An expired lease is being revoked; renewing it now would race the revoke.
  if (lease.expiry_ns <= now_ns) return LeaseNotFoundError();
  RenewResult result;
  result.clear_checkpoint = lease.remaining_ttl_seconds > 0;
  Refresh(id, lease, now_ns, lease.ttl_seconds, 0);
  result.ttl_seconds = lease.ttl_seconds;
  return result;
}

std::vector<LeaseId> Lessor::ExpiredLeases(int64_t now_ns, size_t max) {
  std::vector<LeaseId> expired;
  if (!primary_) return expired;
  while (expired.size() < max && !expiry_queue_.empty()) {
    const auto [when_ns, id] = *expiry_queue_.begin();
    if (when_ns > now_ns) break;
    Lease& lease = leases_.at(id);
    assert(lease.expiry_ns <= now_ns);
    expired.push_back(id);
    SetNextReport(id, lease, SaturatingAdd(now_ns, options_.expired_retry_ns));
  }
  return expired;
}

std::vector<std::pair<LeaseId, int64_t>> Lessor::DueCheckpoints(int64_t now_ns, size_t max) {
  std::vector<std::pair<LeaseId, int64_t>> due;
  if (!primary_) return due;
  while (due.size() < max && !checkpoint_queue_.empty()) {
    const auto [when_ns, id] = *checkpoint_queue_.begin();
    if (when_ns > now_ns) break;
    Lease& lease = leases_.at(id);
    const int64_t remaining = RemainingSeconds(lease, now_ns);
    if (remaining > 0) due.emplace_back(id, remaining);
    SetNextCheckpoint(id, lease,
                      remaining > 0 ? SaturatingAdd(now_ns, options_.checkpoint_interval_ns)
                                    : kForever);
  }
  return due;
}

absl::StatusOr<LeaseTimeToLive> Lessor::TimeToLive(LeaseId id, int64_t now_ns) const {
  auto it = leases_.find(id);
  if (it == leases_.end()) return LeaseNotFoundError();
  LeaseTimeToLive ttl;
  ttl.id = id;
  ttl.granted_ttl_seconds = it->second.ttl_seconds;
  ttl.ttl_seconds = RemainingSeconds(it->second, now_ns);
  ttl.keys.assign(it->second.keys.begin(), it->second.keys.end());
  return ttl;
}

std::vector<LeaseId> Lessor::Leases() const {
  std::vector<LeaseId> ids;
  ids.reserve(leases_.size());
  for (const auto& [id, lease] : leases_) ids.push_back(id);
  return ids;
}

absl::StatusOr<LeaseRecord> Lessor::Record(LeaseId id) const {
  auto it = leases_.find(id);
  if (it == leases_.end()) return LeaseNotFoundError();
  return LeaseRecord{id, it->second.ttl_seconds, it->second.remaining_ttl_seconds};
}

}  // namespace keel::kv
