#include "sim/checkers/random_history.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/check.h"

namespace keel::sim::checkers {
namespace {

struct StoredKey {
  std::string value;
  int64_t version = 0;
  int64_t mod_revision = 0;
};

class SequentialStore {
 public:
  // Applies `op` at the next instant and fills in its outputs as etcd would.
  void Apply(Operation* op) {
    auto it = keys_.find(op->key);
    const bool exists = it != keys_.end();
    switch (op->kind) {
      case OpKind::kPut:
        Write(op->key, op->value);
        break;
      case OpKind::kGet:
        op->found = exists;
        if (exists) {
          op->read_value = it->second.value;
          op->read_mod_revision = it->second.mod_revision;
          op->read_version = it->second.version;
        }
        break;
      case OpKind::kDelete:
        op->deleted = exists;
        if (exists) {
          keys_.erase(it);
          ++revision_;
        }
        break;
      case OpKind::kCas:
        op->cas_succeeded = CompareHolds(*op, exists ? &it->second : nullptr);
        if (op->cas_succeeded) Write(op->key, op->value);
        break;
      case OpKind::kRange:
        op->range_result.clear();
        for (auto r = keys_.lower_bound(op->key); r != keys_.end() && r->first < op->range_end;
             ++r) {
          op->range_result.push_back(
              KeyValue{r->first, r->second.value, r->second.mod_revision, r->second.version});
        }
        break;
    }
    op->header_revision = revision_;
  }

  // The current mod_revision of `key`, or 0.
  int64_t ModRevision(const std::string& key) const {
    auto it = keys_.find(key);
    return it == keys_.end() ? 0 : it->second.mod_revision;
  }
  int64_t Version(const std::string& key) const {
    auto it = keys_.find(key);
    return it == keys_.end() ? 0 : it->second.version;
  }
  std::string Value(const std::string& key) const {
    auto it = keys_.find(key);
    return it == keys_.end() ? "" : it->second.value;
  }

 private:
  void Write(const std::string& key, const std::string& value) {
    StoredKey& k = keys_[key];
    ++revision_;
    k.value = value;
    k.version += 1;
    k.mod_revision = revision_;
  }

  static bool CompareHolds(const Operation& op, const StoredKey* k) {
    switch (op.cas_target) {
      case CasTarget::kValue:
        return k != nullptr && k->value == op.cas_expected_value;
      case CasTarget::kVersion:
        return (k ? k->version : 0) == op.cas_expected_number;
      case CasTarget::kModRevision:
        return (k ? k->mod_revision : 0) == op.cas_expected_number;
    }
    return false;
  }

  std::map<std::string, StoredKey> keys_;
  int64_t revision_ = 0;
};

enum class Phase { kIdle, kInvoked, kApplied };

struct Client {
  Phase phase = Phase::kIdle;
  Operation op;
  bool lose_response = false;  // outcome will be kUnknown
  bool fail = false;           // outcome will be kFailed (never applied)
};

std::string KeyName(int k) { return absl::StrCat("k", k < 10 ? "0" : "", k); }

Operation NewOperation(const RandomHistoryOptions& o, const SequentialStore& store,
                       uint64_t client, int64_t now_ns, int64_t* next_value, env::Rng* rng) {
  Operation op;
  op.client_id = client;
  op.invoke_ns = now_ns;
  op.key = KeyName(static_cast<int>(rng->Uniform(o.keys)));
  const uint64_t dice = rng->Uniform(100);
  if (dice < 40) {
    if (rng->Chance(o.range_probability)) {
      op.kind = OpKind::kRange;
      const int first = static_cast<int>(rng->Uniform(o.keys));
      op.key = KeyName(first);
      op.range_end = KeyName(first + 1 + static_cast<int>(rng->Uniform(3)));
    } else {
      op.kind = OpKind::kGet;
    }
  } else if (dice < 75) {
    op.kind = OpKind::kPut;
  } else if (dice < 85) {
    op.kind = OpKind::kDelete;
  } else {
    op.kind = OpKind::kCas;
    // Compare against what the store holds now, so CAS succeeds about half the time.
    op.cas_target = static_cast<CasTarget>(rng->Uniform(3));
    op.cas_expected_value = store.Value(op.key);
    op.cas_expected_number = op.cas_target == CasTarget::kVersion ? store.Version(op.key)
                                                                  : store.ModRevision(op.key);
  }
  if (op.kind == OpKind::kPut || op.kind == OpKind::kCas) {
    op.value = absl::StrCat("v", (*next_value)++);
  }
  return op;
}

}  // namespace

History GenerateLinearizableHistory(const RandomHistoryOptions& o, env::Rng* rng) {
  KEEL_CHECK(o.clients > 0 && o.keys > 0 && o.keys < 100 && o.operations >= 0);
  SequentialStore store;
  std::vector<Client> clients(o.clients);
  History history;
  history.reserve(o.operations);
  int issued = 0;
  int64_t now_ns = 0;
  int64_t next_value = 1;
  // Each op needs three events (invoke, apply, complete); the bound keeps the loop finite.
  const int64_t max_events = 100 + int64_t{20} * o.operations * o.clients;
  for (int64_t event = 0; event < max_events; ++event) {
    now_ns += 1 + static_cast<int64_t>(rng->Uniform(10));
    Client& c = clients[rng->Uniform(clients.size())];
    const uint64_t id = static_cast<uint64_t>(&c - clients.data()) + 1;
    if (c.phase == Phase::kIdle) {
      if (issued == o.operations) {
        bool all_idle = true;
        for (const Client& other : clients) all_idle = all_idle && other.phase == Phase::kIdle;
        if (all_idle) break;
        continue;
      }
      ++issued;
      c.op = NewOperation(o, store, id, now_ns, &next_value, rng);
      c.fail = rng->Chance(o.failed_probability);
      c.lose_response = !c.fail && rng->Chance(o.unknown_probability);
      c.phase = Phase::kInvoked;
    } else if (c.phase == Phase::kInvoked) {
      // A lost response may also mean the request never took effect.
      if (!c.fail && !(c.lose_response && rng->OneIn(2))) store.Apply(&c.op);
      c.phase = Phase::kApplied;
    } else {
      c.op.complete_ns = now_ns;
      c.op.outcome = c.fail ? Outcome::kFailed
                            : (c.lose_response ? Outcome::kUnknown : Outcome::kOk);
      if (c.op.outcome != Outcome::kOk) c.op.header_revision = 0;
      history.push_back(std::move(c.op));
      c = Client{};
    }
  }
  return history;
}

bool MutateOneRead(History* history, env::Rng* rng) {
  std::vector<size_t> gets;
  for (size_t i = 0; i < history->size(); ++i) {
    const Operation& op = (*history)[i];
    if (op.kind == OpKind::kGet && op.outcome == Outcome::kOk) gets.push_back(i);
  }
  if (gets.empty()) return false;
  Operation& op = (*history)[gets[rng->Uniform(gets.size())]];
  if (op.found && rng->OneIn(3)) {
    op.found = false;
    op.read_value.clear();
    op.read_mod_revision = 0;
    op.read_version = 0;
  } else {
    // A value some write produced (so only ordering can refute it), or a fresh one.
    std::vector<const Operation*> writes;
    for (const Operation& w : *history) {
      if (w.key == op.key && !w.value.empty() && w.value != op.read_value) writes.push_back(&w);
    }
    const Operation* w = writes.empty() ? nullptr : writes[rng->Uniform(writes.size())];
    op.found = true;
    op.read_value = w ? w->value : "never-written";
    op.read_mod_revision = w && w->outcome == Outcome::kOk ? w->header_revision : 0;
    op.read_version = 0;
  }
  return true;
}

}  // namespace keel::sim::checkers
