#include "sim/checkers/durability.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/check.h"

namespace keel::sim::checkers {
namespace {

// Per key: the latest acknowledged write with a revision, and the writes whose revision
// we do not know (any of which may have landed after it).
struct KeyWrites {
  std::optional<size_t> latest_acked;
  std::vector<size_t> unrecorded;
};

std::map<std::string, KeyWrites> IndexWrites(const History& h) {
  std::map<std::string, KeyWrites> keys;
  for (size_t i = 0; i < h.size(); ++i) {
    const Operation& op = h[i];
    if (!IsWriteKind(op.kind) || op.outcome == Outcome::kFailed) continue;
    KeyWrites& k = keys[op.key];
    if (op.outcome == Outcome::kOk && op.header_revision > 0) {
      if (!IsEffectiveWrite(op)) continue;
      if (!k.latest_acked || h[*k.latest_acked].header_revision < op.header_revision) {
        k.latest_acked = i;
      }
    } else {
      k.unrecorded.push_back(i);
    }
  }
  return keys;
}

std::string Describe(const std::optional<StoredValue>& v) {
  return v ? absl::StrFormat("%s@%d", v->value, v->mod_revision) : std::string("absent");
}

bool RevokedAfter(const std::vector<LeaseRevoke>& revokes, const std::string& key,
                  int64_t after_revision) {
  for (const LeaseRevoke& r : revokes) {
    if (r.revoke_revision <= after_revision) continue;
    for (const std::string& k : r.keys) {
      if (k == key) return true;
    }
  }
  return false;
}

// Whether the replica's value for `key` is explained by the history.
bool Explained(const History& h, const KeyWrites& writes, const std::optional<StoredValue>& held,
               const std::vector<LeaseRevoke>& revokes, const std::string& key) {
  const int64_t floor = writes.latest_acked ? h[*writes.latest_acked].header_revision : 0;
  if (writes.latest_acked) {
    const Operation& l = h[*writes.latest_acked];
    if (l.kind == OpKind::kDelete ? !held
                                  : held && held->value == l.value && held->mod_revision == floor) {
      return true;
    }
  } else if (!held) {
    return true;  // only unknown writes, none of which need have happened
  }
  for (size_t i : writes.unrecorded) {
    const Operation& u = h[i];
    if (u.kind == OpKind::kDelete ? !held
                                  : held && held->value == u.value && held->mod_revision > floor) {
      return true;
    }
  }
  return !held && RevokedAfter(revokes, key, floor);
}

// A key of `a` that `b`, at the same revision, does not hold identically.
std::optional<std::string> FirstMissingFrom(const ReplicaFinalState& a,
                                            const ReplicaFinalState& b) {
  for (const auto& [key, v] : a.kvs) {
    auto found = b.kvs.find(key);
    if (found != b.kvs.end() && found->second.value == v.value &&
        found->second.mod_revision == v.mod_revision) {
      continue;
    }
    std::optional<StoredValue> other;
    if (found != b.kvs.end()) other = found->second;
    return absl::StrFormat("at revision %d node %d has %s = %s, node %d has %s", a.revision,
                           a.node, key, Describe(v), b.node, Describe(other));
  }
  return std::nullopt;
}

}  // namespace

std::optional<Violation> CheckDurability(const History& history,
                                         const std::vector<ReplicaFinalState>& replicas,
                                         const std::vector<LeaseRevoke>& revokes) {
  const std::map<std::string, KeyWrites> keys = IndexWrites(history);
  for (const ReplicaFinalState& replica : replicas) {
    for (const auto& [key, stored] : replica.kvs) {
      if (keys.count(key) == 0) {
        return Violation{"durability-phantom-key",
                         absl::StrFormat("node %d holds %s=%s@%d, which no operation wrote",
                                         replica.node, key, stored.value, stored.mod_revision),
                         {}};
      }
    }
    for (const auto& [key, writes] : keys) {
      auto it = replica.kvs.find(key);
      const std::optional<StoredValue> held =
          it == replica.kvs.end() ? std::nullopt : std::optional<StoredValue>(it->second);
      if (writes.latest_acked && history[*writes.latest_acked].header_revision > replica.revision) {
        return Violation{"durability-lost-write",
                         absl::StrFormat("node %d is at revision %d, below the acknowledged write:"
                                         "\n  %s",
                                         replica.node, replica.revision,
                                         DescribeOperation(history, *writes.latest_acked)),
                         {*writes.latest_acked}};
      }
      if (Explained(history, writes, held, revokes, key)) continue;
      Violation v{"durability-lost-write",
                  absl::StrFormat("node %d holds %s = %s, which no write can explain", replica.node,
                                  key, Describe(held)),
                  {}};
      if (writes.latest_acked) {
        v.ops.push_back(*writes.latest_acked);
        absl::StrAppend(&v.message, "; latest acknowledged write:\n  ",
                        DescribeOperation(history, *writes.latest_acked));
      }
      return v;
    }
  }
  return std::nullopt;
}

std::optional<Violation> CheckLeaseRevokes(const History& history,
                                           const std::vector<ReplicaFinalState>& replicas,
                                           const std::vector<LeaseRevoke>& revokes) {
  for (const LeaseRevoke& revoke : revokes) {
    KEEL_CHECK(revoke.revoke_revision > 0);
    for (const std::string& key : revoke.keys) {
      for (const ReplicaFinalState& replica : replicas) {
        if (replica.revision < revoke.revoke_revision) continue;  // not applied there yet
        auto it = replica.kvs.find(key);
        if (it != replica.kvs.end() && it->second.mod_revision < revoke.revoke_revision) {
          return Violation{"lease-outlived-revoke",
                           absl::StrFormat("node %d at revision %d still holds %s@%d of lease %d "
                                           "revoked at revision %d",
                                           replica.node, replica.revision, key,
                                           it->second.mod_revision, revoke.lease_id,
                                           revoke.revoke_revision),
                           {}};
        }
      }
      for (size_t i = 0; i < history.size(); ++i) {
        const Operation& op = history[i];
        if (op.outcome != Outcome::kOk || op.header_revision < revoke.revoke_revision) continue;
        bool stale = op.kind == OpKind::kGet && op.key == key && op.found &&
                     op.read_mod_revision > 0 && op.read_mod_revision < revoke.revoke_revision;
        for (const KeyValue& kv : op.range_result) {
          stale = stale || (kv.key == key && kv.mod_revision > 0 &&
                            kv.mod_revision < revoke.revoke_revision);
        }
        if (stale) {
          return Violation{"lease-outlived-revoke",
                           absl::StrFormat("read at revision %d saw %s of lease %d revoked at "
                                           "revision %d:\n  %s",
                                           op.header_revision, key, revoke.lease_id,
                                           revoke.revoke_revision, DescribeOperation(history, i)),
                           {i}};
        }
      }
    }
  }
  return std::nullopt;
}

std::optional<Violation> CheckReplicaAgreement(const std::vector<HashKvSample>& samples,
                                               const std::vector<ReplicaFinalState>& replicas) {
  std::map<std::pair<int64_t, int64_t>, const HashKvSample*> first_at;
  for (const HashKvSample& s : samples) {
    auto [it, inserted] = first_at.emplace(std::make_pair(s.revision, s.compact_revision), &s);
    if (!inserted && it->second->hash != s.hash) {
      return Violation{"replica-divergence",
                       absl::StrFormat("HashKV at revision %d (compacted at %d): node %d has "
                                       "%08x, node %d has %08x",
                                       s.revision, s.compact_revision, it->second->node,
                                       it->second->hash, s.node, s.hash),
                       {}};
    }
  }
  std::map<int64_t, const ReplicaFinalState*> state_at;
  for (const ReplicaFinalState& r : replicas) {
    auto [it, inserted] = state_at.emplace(r.revision, &r);
    if (inserted) continue;
    std::optional<std::string> difference = FirstMissingFrom(r, *it->second);
    if (!difference) difference = FirstMissingFrom(*it->second, r);
    if (difference) return Violation{"replica-divergence", *difference, {}};
  }
  return std::nullopt;
}

}  // namespace keel::sim::checkers
