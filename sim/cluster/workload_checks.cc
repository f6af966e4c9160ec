#include "sim/cluster/workload_checks.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/check.h"
#include "sim/checkers/check_tally.h"

namespace keel::sim {
namespace {

constexpr char kCompactedError[] = "etcdserver: mvcc: required revision has been compacted";

checkers::Violation Fail(std::string property, std::string message) {
  return checkers::Violation{std::move(property), std::move(message), {}};
}

// Reading events from the store commits nothing (applies commit before their event ends)
// and only reads: a disk that cannot fail a read is safe to read from.
bool ReadFaultFree(const DiskFaults& f) {
  return f.read_error_probability == 0 && f.read_bit_flip_probability == 0;
}

std::string Describe(const ClientOp& op, size_t index) {
  return absl::StrFormat("op #%d (client %d, %s via n%d, [%.6f, %.6f]s, rev %d)", index, op.client,
                         OpKindName(op.kind), op.member + 1, op.invoke_ns / 1e9, op.complete_ns / 1e9,
                         op.revision);
}

int64_t Balance(const std::string& value) {
  int64_t b = 0;
  return absl::SimpleAtoi(value, &b) ? b : -1;
}

}  // namespace

void EventArchive::Capture(bool any_disk) {
  int best = -1;
  for (int i = 0; i < cluster_->size(); ++i) {
    server::ServerImpl* s = cluster_->server(i);
    if (s == nullptr || cluster_->paused(i) || !s->store().poisoned().ok()) continue;
    if (!any_disk && !ReadFaultFree(cluster_->env(i).disk().faults())) continue;
    if (best < 0 || s->store().current_revision() > cluster_->server(best)->store().current_revision()) best = i;
  }
  if (best < 0) return;
  kv::MvccStore& store = cluster_->server(best)->store();
  const int64_t current = store.current_revision();
  if (current <= through_) return;
  ++captures_;
  int64_t from = through_ + 1;
  // Revision compact_revision itself may have lost records too (a tombstone at it).
  if (store.compact_revision() >= from) {
    complete_ = false;
    from = store.compact_revision() + 1;
  }
  while (from <= current && events_.size() < kMaxEvents) {
    std::vector<mvccpb::Event> read;
    absl::StatusOr<int64_t> last = store.ReadEvents(from, current, 10'000, &read);
    if (!last.ok() || *last < from) {
      complete_ = false;  // what it could not read is a hole
      return;
    }
    for (mvccpb::Event& e : read) events_[e.kv().mod_revision()].push_back(std::move(e));
    from = *last + 1;
  }
  through_ = std::max(through_, from - 1);
}

void EventArchive::Append(int64_t revision, std::vector<mvccpb::Event> events) {
  KEEL_CHECK(revision > through_);
  std::vector<mvccpb::Event>& at = events_[revision];
  for (mvccpb::Event& e : events) at.push_back(std::move(e));
  through_ = revision;
}

ReferenceState::ReferenceState(const EventArchive& archive) : archive_(archive) {
  for (const auto& [revision, events] : archive.events()) {
    for (const mvccpb::Event& e : events) {
      by_key_[e.kv().key()][revision] = {e.type() == mvccpb::Event::PUT, e.kv().value()};
    }
  }
}

ReferenceState::Value ReferenceState::At(const std::string& key, int64_t revision) const {
  auto k = by_key_.find(key);
  if (k == by_key_.end()) return {};
  auto it = k->second.upper_bound(revision);
  if (it == k->second.begin()) return {};
  --it;
  if (!it->second.first) return {};
  return Value{true, it->second.second, it->first};
}

const std::vector<mvccpb::Event>* ReferenceState::EventsAt(int64_t revision) const {
  auto it = archive_.events().find(revision);
  return it == archive_.events().end() ? nullptr : &it->second;
}

std::optional<checkers::Violation> CheckTransfers(const std::vector<ClientOp>& ops, const ReferenceState& ref,
                                                  int accounts) {
  const int64_t total = accounts * Workload::kOpeningBalance;
  // (complete_ns, revision) of every acknowledged write to the accounts, for real time.
  std::vector<std::pair<int64_t, int64_t>> writes;
  for (size_t i = 0; i < ops.size(); ++i) {
    const ClientOp& op = ops[i];
    if (op.outcome != Outcome::kOk) continue;
    if (op.kind == OpKind::kAudit || op.kind == OpKind::kAuditTxn) {
      int64_t sum = 0;
      for (const ClientOp::Account& a : op.accounts) sum += Balance(a.value);
      if (!op.accounts.empty()) checkers::CheckTally::Count("check.txn.audit_total");
      if (!op.accounts.empty() && (static_cast<int>(op.accounts.size()) != accounts || sum != total)) {
        return Fail("txn-conserved-total", absl::StrFormat("%s saw %d of %d accounts summing to %d, not %d",
                                                           Describe(op, i), op.accounts.size(), accounts, sum, total));
      }
      if (!ref.usable(op.revision)) {
        checkers::CheckTally::Count("check.txn.audit_snapshot_unknown");
        continue;
      }
      checkers::CheckTally::Count("check.txn.audit_snapshot");
      for (int a = 0; a < accounts; ++a) {
        const ReferenceState::Value want = ref.At(Workload::AccountKey(a), op.revision);
        auto got = std::find_if(op.accounts.begin(), op.accounts.end(),
                                [&](const ClientOp::Account& x) { return x.key == Workload::AccountKey(a); });
        const bool same = want.found ? got != op.accounts.end() && got->value == want.value &&
                                           got->mod_revision == want.mod_revision
                                     : got == op.accounts.end();
        if (!same) {
          return Fail("txn-audit-snapshot",
                      absl::StrFormat("%s read %s = %s@%d, committed at that revision: %s", Describe(op, i),
                                      Workload::AccountKey(a), got == op.accounts.end() ? "absent" : got->value,
                                      got == op.accounts.end() ? 0 : got->mod_revision,
                                      want.found ? absl::StrCat(want.value, "@", want.mod_revision) : "absent"));
        }
      }
      continue;
    }
    if (op.kind != OpKind::kTransfer && op.kind != OpKind::kAcctInit) continue;
    if (op.cas_succeeded) writes.push_back({op.complete_ns, op.revision});
    if (!ref.usable(op.revision)) {
      checkers::CheckTally::Count("check.txn.outcome_unknown");
      continue;
    }
    checkers::CheckTally::Count(op.cas_succeeded ? "check.txn.outcome_succeeded" : "check.txn.outcome_compare_failed");
    // The compares, against the state just before the txn's revision.
    const int64_t before = op.cas_succeeded ? op.revision - 1 : op.revision;
    bool held;
    std::map<std::string, std::string> puts;
    if (op.kind == OpKind::kAcctInit) {
      held = !ref.At(Workload::AccountKey(0), before).found;
      for (int a = 0; a < accounts; ++a) puts[Workload::AccountKey(a)] = absl::StrCat(Workload::kOpeningBalance);
    } else {
      held = ref.At(Workload::AccountKey(op.acct_from), before).mod_revision == op.expect_mod_from &&
             ref.At(Workload::AccountKey(op.acct_to), before).mod_revision == op.expect_mod_to;
      puts[Workload::AccountKey(op.acct_from)] = absl::StrCat(op.balance_from - op.amount);
      puts[Workload::AccountKey(op.acct_to)] = absl::StrCat(op.balance_to + op.amount);
    }
    if (held != op.cas_succeeded) {
      return Fail("txn-outcome", absl::StrFormat("%s answered succeeded=%d, but its compares %s at revision %d",
                                                 Describe(op, i), op.cas_succeeded, held ? "held" : "failed", before));
    }
    if (!op.cas_succeeded) continue;
    const std::vector<mvccpb::Event>* events = ref.EventsAt(op.revision);
    std::map<std::string, std::string> applied;
    if (events != nullptr) {
      for (const mvccpb::Event& e : *events) {
        applied[e.kv().key()] = e.type() == mvccpb::Event::PUT ? e.kv().value() : "<deleted>";
      }
    }
    if (applied != puts) {
      std::string got;
      for (const auto& [k, v] : applied) absl::StrAppend(&got, " ", k, "=", v);
      return Fail("txn-outcome", absl::StrFormat("%s succeeded, but its revision holds {%s } instead of its %d puts",
                                                 Describe(op, i), got, puts.size()));
    }
  }
  // Real time: an audit sent after a write was acknowledged sees at least its revision.
  std::sort(writes.begin(), writes.end());
  std::vector<int64_t> max_rev(writes.size());
  for (size_t k = 0; k < writes.size(); ++k) max_rev[k] = std::max(k ? max_rev[k - 1] : 0, writes[k].second);
  for (size_t i = 0; i < ops.size(); ++i) {
    const ClientOp& op = ops[i];
    if (op.outcome != Outcome::kOk || (op.kind != OpKind::kAudit && op.kind != OpKind::kAuditTxn)) continue;
    auto it = std::lower_bound(writes.begin(), writes.end(), std::make_pair(op.invoke_ns, int64_t{0}));
    if (it == writes.begin()) continue;
    checkers::CheckTally::Count("check.txn.real_time");
    const int64_t need = max_rev[(it - writes.begin()) - 1];
    if (op.revision < need) {
      return Fail("txn-real-time", absl::StrFormat("%s answered at revision %d, below %d, a transfer acknowledged "
                                                   "before it was sent",
                                                   Describe(op, i), op.revision, need));
    }
  }
  return std::nullopt;
}

std::optional<checkers::Violation> CheckFinalTotals(SimCluster* cluster, int accounts) {
  for (int i = 0; i < cluster->size(); ++i) {
    server::ServerImpl* s = cluster->server(i);
    if (s == nullptr) continue;
    etcdserverpb::RangeRequest req;
    req.set_key(Workload::kAccountPrefix);
    req.set_range_end(Workload::kAccountEnd);
    absl::StatusOr<etcdserverpb::RangeResponse> r = s->store().Range(req);
    if (!r.ok() || r->kvs_size() == 0) continue;  // unreadable stores are judged elsewhere
    checkers::CheckTally::Count("check.txn.final_total_members");
    int64_t sum = 0;
    for (const mvccpb::KeyValue& kv : r->kvs()) sum += Balance(kv.value());
    if (r->kvs_size() != accounts || sum != accounts * Workload::kOpeningBalance) {
      return Fail("txn-final-total", absl::StrFormat("n%d ends with %d of %d accounts summing to %d, not %d", i + 1,
                                                     r->kvs_size(), accounts, sum,
                                                     accounts * Workload::kOpeningBalance));
    }
  }
  return std::nullopt;
}

std::optional<checkers::Violation> CheckCompactionReads(const std::vector<ClientOp>& ops, const ReferenceState& ref) {
  // (complete_ns, revision) of acknowledged compactions; every compaction revision sent.
  std::vector<std::pair<int64_t, int64_t>> acked;
  std::vector<std::pair<int64_t, int64_t>> sent;  // (invoke_ns, revision)
  for (const ClientOp& op : ops) {
    if (op.kind != OpKind::kCompact) continue;
    if (op.outcome == Outcome::kOk) acked.push_back({op.complete_ns, op.at_revision});
    if (op.outcome != Outcome::kFail) sent.push_back({op.invoke_ns, op.at_revision});
  }
  for (size_t i = 0; i < ops.size(); ++i) {
    const ClientOp& op = ops[i];
    if (op.kind != OpKind::kHistGet) continue;
    if (op.outcome == Outcome::kFail && op.error == kCompactedError) {
      bool explained = false;
      for (const auto& [t, r] : sent) explained = explained || (t < op.complete_ns && r > op.at_revision);
      checkers::CheckTally::Count("check.compact.error_explained");
      if (!explained) {
        return Fail("compact-spurious-error", absl::StrFormat("%s at revision %d failed with \"%s\", but no "
                                                              "compaction above it was ever sent",
                                                              Describe(op, i), op.at_revision, op.error));
      }
      continue;
    }
    if (op.outcome != Outcome::kOk) continue;
    checkers::CheckTally::Count("check.compact.read_above_acked");
    for (const auto& [t, r] : acked) {
      if (t < op.invoke_ns && r > op.at_revision) {
        return Fail("compact-read-below",
                    absl::StrFormat("%s read revision %d, though a compaction at %d was acknowledged before it "
                                    "was sent (want \"%s\")",
                                    Describe(op, i), op.at_revision, r, kCompactedError));
      }
    }
    if (!ref.usable(op.at_revision)) {
      checkers::CheckTally::Count("check.compact.historical_read_unknown");
      continue;
    }
    checkers::CheckTally::Count("check.compact.historical_read");
    const ReferenceState::Value want = ref.At(op.key, op.at_revision);
    const bool same = want.found == op.found &&
                      (!want.found || (want.value == op.read_value && want.mod_revision == op.read_mod_revision));
    if (!same) {
      return Fail("compact-historical-read",
                  absl::StrFormat("%s read %s at revision %d as %s, committed: %s", Describe(op, i), op.key,
                                  op.at_revision,
                                  op.found ? absl::StrCat(op.read_value, "@", op.read_mod_revision) : "absent",
                                  want.found ? absl::StrCat(want.value, "@", want.mod_revision) : "absent"));
    }
  }
  return std::nullopt;
}

std::optional<checkers::Violation> CheckLeaseKeepAlive(const std::vector<ClientOp>& ops,
                                                       const std::map<int64_t, int64_t>& revoked_at_ns,
                                                       const std::vector<int64_t>& clock_jumps_ns,
                                                       int64_t promote_extension_s) {
  struct Kept {
    size_t grant = 0;
    int64_t granted_ttl = 0;
    std::string key;
    int64_t key_revision = 0;  // the acknowledged put of its key, 0 if not acknowledged
    int64_t deadline_ns = 0;  // the revoke may not apply before this
    int64_t since_ns = 0;     // invoke time of the op that set the deadline
    size_t by = 0;
  };
  std::map<int64_t, Kept> kept;
  // The lessor starts a lease's TTL when it grants or renews it, after the request was sent;
  // a leader's clock may run fast by up to 20% (the scenario's clock_drift rates are
  // 0.8-1.2), so a TTL of T seconds on its clock can end T / 1.2 = 5/6 T after the request
  // in simulated time. Nothing else lets it end sooner; a forward clock step can, so the
  // checks around one are skipped.
  auto deadline = [](const ClientOp& op, int64_t ttl_s) { return op.invoke_ns + ttl_s * 1'000'000'000 * 5 / 6; };
  for (size_t i = 0; i < ops.size(); ++i) {
    const ClientOp& op = ops[i];
    if (op.kind == OpKind::kLeaseKeep && op.lease_id != 0 && op.ttl > 0) {
      Kept& k = kept[op.lease_id];
      k.grant = i;
      k.granted_ttl = op.ttl;
      k.key = op.key;
      k.key_revision = op.outcome == Outcome::kOk ? op.revision : 0;
      k.deadline_ns = deadline(op, op.ttl);
      k.since_ns = op.invoke_ns;
      k.by = i;
    }
  }
  for (size_t i = 0; i < ops.size(); ++i) {
    const ClientOp& op = ops[i];
    if (op.outcome != Outcome::kOk) continue;
    if (op.kind != OpKind::kKeepAlive && op.kind != OpKind::kTimeToLive) continue;
    auto it = kept.find(op.lease_id);
    if (it == kept.end()) continue;
    Kept& k = it->second;
    // A new leader extends every lease by its election timeout (etcd's Promote), so
    // TimeToLive may exceed the granted TTL by that much, never more; KeepAlive answers the
    // granted TTL itself.
    const int64_t limit = k.granted_ttl + (op.kind == OpKind::kTimeToLive ? promote_extension_s : 0);
    checkers::CheckTally::Count(op.kind == OpKind::kTimeToLive ? "check.lease.time_to_live" : "check.lease.keep_alive");
    if (op.ttl > limit) {
      return Fail("lease-ttl", absl::StrFormat("%s answered TTL %d for lease %x granted %d s (limit %d s)",
                                               Describe(op, i), op.ttl, op.lease_id, k.granted_ttl, limit));
    }
    if (op.kind == OpKind::kKeepAlive && op.ttl > 0 && deadline(op, op.ttl) > k.deadline_ns) {
      k.deadline_ns = deadline(op, op.ttl);
      k.since_ns = op.invoke_ns;
      k.by = i;
    }
    if (op.kind == OpKind::kTimeToLive && op.ttl > 0) {
      if (op.granted_ttl != k.granted_ttl) {
        return Fail("lease-ttl", absl::StrFormat("%s answered grantedTTL %d for lease %x granted %d s", Describe(op, i),
                                                 op.granted_ttl, op.lease_id, k.granted_ttl));
      }
      const bool listed = std::find(op.lease_keys.begin(), op.lease_keys.end(), k.key) != op.lease_keys.end();
      // The leader answers from its lessor without waiting to apply what a follower
      // acknowledged (as etcd's does): the key must be listed once the answer's revision
      // covers the put.
      if (k.key_revision > 0 && op.revision >= k.key_revision && !listed) {
        return Fail("lease-ttl", absl::StrFormat("%s: lease %x alive (TTL %d) at revision %d without its key %s, "
                                                 "put under it at revision %d",
                                                 Describe(op, i), op.lease_id, op.ttl, op.revision, k.key,
                                                 k.key_revision));
      }
    }
  }
  for (const auto& [lease, k] : kept) {
    auto revoked = revoked_at_ns.find(lease);
    if (revoked == revoked_at_ns.end()) {
      checkers::CheckTally::Count("check.lease.never_revoked");
      continue;
    }
    if (revoked->second >= k.deadline_ns) {
      checkers::CheckTally::Count("check.lease.revoked_after_deadline");  // expiry (or revoke) observed, in time
      continue;
    }
    const bool stepped = std::any_of(clock_jumps_ns.begin(), clock_jumps_ns.end(), [&](int64_t t) {
      return t >= k.since_ns && t <= revoked->second;
    });
    if (stepped) {
      checkers::CheckTally::Count("check.lease.early_revoke_excused_by_clock_step");
      continue;
    }
    return Fail("lease-expired-early",
                absl::StrFormat("lease %x (key %s, TTL %d s) was revoked at %.6fs, before %.6fs: %s kept it alive "
                                "and the lease may expire no sooner than 5/6 of its TTL after that was sent",
                                lease, k.key, k.granted_ttl, revoked->second / 1e9, k.deadline_ns / 1e9,
                                Describe(ops[k.by], k.by)));
  }
  return std::nullopt;
}

std::optional<checkers::Violation> CheckSerializableReads(const std::vector<ClientOp>& ops, const ReferenceState& ref) {
  // (member, incarnation) -> ops in invoke order (the history is in invoke order).
  std::map<std::pair<int, uint64_t>, std::vector<size_t>> served;
  for (size_t i = 0; i < ops.size(); ++i) {
    const ClientOp& op = ops[i];
    if (op.kind != OpKind::kSerializableGet || op.outcome != Outcome::kOk) continue;
    served[{op.member, op.incarnation}].push_back(i);
    if (!ref.usable(op.revision)) {
      checkers::CheckTally::Count("check.sget.prefix_unknown");
      continue;
    }
    checkers::CheckTally::Count("check.sget.prefix");
    const ReferenceState::Value want = ref.At(op.key, op.revision);
    const bool same = want.found == op.found &&
                      (!want.found || (want.value == op.read_value && want.mod_revision == op.read_mod_revision));
    if (!same) {
      return Fail("serializable-prefix",
                  absl::StrFormat("%s read %s as %s at revision %d, committed then: %s", Describe(op, i), op.key,
                                  op.found ? absl::StrCat(op.read_value, "@", op.read_mod_revision) : "absent",
                                  op.revision, want.found ? absl::StrCat(want.value, "@", want.mod_revision) : "absent"));
    }
  }
  for (const auto& [who, list] : served) {
    // For each read, the highest revision among reads of the same incarnation that had
    // completed before it was sent (served before it, as the member serves them locally).
    std::vector<size_t> by_complete = list;
    std::sort(by_complete.begin(), by_complete.end(),
              [&](size_t a, size_t b) { return ops[a].complete_ns < ops[b].complete_ns; });
    size_t k = 0;
    int64_t highest = 0;
    size_t highest_op = 0;
    for (size_t i : list) {
      while (k < by_complete.size() && ops[by_complete[k]].complete_ns < ops[i].invoke_ns) {
        if (ops[by_complete[k]].revision > highest) {
          highest = ops[by_complete[k]].revision;
          highest_op = by_complete[k];
        }
        ++k;
      }
      if (highest > 0) checkers::CheckTally::Count("check.sget.monotonic");
      if (ops[i].revision < highest) {
        return Fail("serializable-monotonic",
                    absl::StrFormat("%s answered at revision %d, after %s of the same member incarnation "
                                    "answered at %d",
                                    Describe(ops[i], i), ops[i].revision, Describe(ops[highest_op], highest_op),
                                    highest));
      }
    }
  }
  return std::nullopt;
}

}  // namespace keel::sim
