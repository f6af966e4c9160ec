// The workload's extended operations (workload.h lists them): multi-key transfers with a
// conserved total, audits, compaction with historical reads and watches from the past, and
// leases kept alive. Every choice here draws from the stream "workload.ext" (ext_rng_), so
// the basic operations draw from "workload" exactly as they did before these existed.
#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/check.h"
#include "sim/cluster/workload.h"

namespace keel::sim {
namespace {

constexpr size_t kMaxObserved = 16;
constexpr size_t kMaxLeasesPerClient = 32;

int64_t Balance(const std::string& value) {
  int64_t b = 0;
  return absl::SimpleAtoi(value, &b) ? b : 0;
}

ClientOp::Account ToAccount(const mvccpb::KeyValue& kv) {
  return ClientOp::Account{kv.key(), kv.value(), kv.mod_revision()};
}

}  // namespace

std::string Workload::AccountKey(int i) { return absl::StrFormat("%s%02d", kAccountPrefix, i); }

bool Workload::IsAccountKey(const std::string& key) {
  return key.rfind(kAccountPrefix, 0) == 0;
}

bool Workload::DrawExtended(int c, ClientOp* op) {
  Client& cl = clients_[c];
  const int64_t now = world_->now_ns();
  // A kept lease whose last keep-alive is a third of its TTL old is kept alive first, unless
  // the client decides (1 in 8) to let it expire.
  if (cl.kept_lease != 0 && !cl.abandoned && now - cl.last_keepalive_ns >= cl.kept_ttl * 1'000'000'000 / 3) {
    if (ext_rng_.OneIn(8)) {
      cl.abandoned = true;
    } else {
      op->kind = OpKind::kKeepAlive;
      op->lease_id = cl.kept_lease;
      return true;
    }
  }
  // An abandoned lease is long expired after twice its TTL: the client may grant another.
  if (cl.kept_lease != 0 && cl.abandoned && now - cl.last_keepalive_ns > 2 * cl.kept_ttl * 1'000'000'000) {
    cl.kept_lease = 0;
  }
  const int u = static_cast<int>(ext_rng_.Uniform(100));
  auto past_revision = [&]() -> int64_t {
    const int64_t seen = cl.observed[ext_rng_.Uniform(cl.observed.size())];
    return std::max<int64_t>(1, seen - static_cast<int64_t>(ext_rng_.Uniform(40)));
  };
  if (cl.accounts.size() < static_cast<size_t>(accounts_)) {
    if (u < 50) {
      op->kind = OpKind::kAcctInit;
      return true;
    }
  } else if (u < 30 || u >= 92) {
    op->kind = OpKind::kTransfer;
    op->acct_from = static_cast<int>(ext_rng_.Uniform(accounts_));
    op->acct_to = static_cast<int>(ext_rng_.Uniform(accounts_ - 1));
    if (op->acct_to >= op->acct_from) ++op->acct_to;
    const ClientOp::Account& from = cl.accounts.at(op->acct_from);
    const ClientOp::Account& to = cl.accounts.at(op->acct_to);
    op->balance_from = Balance(from.value);
    op->balance_to = Balance(to.value);
    op->expect_mod_from = from.mod_revision;
    op->expect_mod_to = to.mod_revision;
    op->amount = static_cast<int64_t>(ext_rng_.Uniform(static_cast<uint64_t>(std::min<int64_t>(op->balance_from, 20)) + 1));
    return true;
  }
  if (u < 42) {
    op->kind = OpKind::kAudit;
    return true;
  }
  if (u < 48) {
    op->kind = OpKind::kAuditTxn;
    return true;
  }
  if (u < 53 && !cl.observed.empty()) {
    op->kind = OpKind::kCompact;
    op->at_revision = cl.observed[ext_rng_.Uniform(cl.observed.size())];
    op->physical = ext_rng_.OneIn(2);
    return true;
  }
  if (u < 65 && !cl.observed.empty()) {
    op->kind = OpKind::kHistGet;
    op->at_revision = past_revision();
    const int k = static_cast<int>(ext_rng_.Uniform(static_cast<uint64_t>(std::max(mix_.keys, 1)) + accounts_));
    op->key = k < mix_.keys ? KeyName(k) : AccountKey(k - mix_.keys);
    return true;
  }
  if (u < 70 && !cl.observed.empty() && watchers_.size() < kMaxWatchers) {
    op->kind = OpKind::kWatchFrom;
    op->at_revision = past_revision();
    op->amount = 200'000'000 + static_cast<int64_t>(ext_rng_.Uniform(2'000'000'000));  // open for
    op->watch_filter = static_cast<int>(ext_rng_.Uniform(4)) % 3;  // none half the time
    return true;
  }
  if (u < 82 && cl.kept_lease == 0) {
    op->kind = OpKind::kLeaseKeep;
    op->ttl = 2 + static_cast<int64_t>(ext_rng_.Uniform(4));  // 2-5 s (the lessor's minimum is 2)
    op->key = absl::StrFormat("klk%d.%d", c, cl.leases_granted);
    op->value = absl::StrFormat("lease-of-%d", c);
    return true;
  }
  if (u < 90 && !cl.leases.empty()) {
    op->kind = OpKind::kTimeToLive;
    op->lease_id = cl.leases[ext_rng_.Uniform(cl.leases.size())];
    return true;
  }
  return false;
}

void Workload::LearnAccounts(int c, const std::vector<ClientOp::Account>& accounts) {
  for (const ClientOp::Account& a : accounts) {
    int i = 0;
    if (!IsAccountKey(a.key) || !absl::SimpleAtoi(a.key.substr(3), &i) || i < 0 || i >= accounts_) continue;
    clients_[c].accounts[i] = a;
  }
}

void Workload::OnExtendedDone(int c, size_t index) {
  Client& cl = clients_[c];
  const ClientOp& op = ops_[index];
  if (op.outcome != Outcome::kOk) {
    // A transfer whose outcome is unknown leaves the client's view unknown too: learn again.
    if (op.kind == OpKind::kTransfer && op.outcome == Outcome::kUnknown) cl.accounts.clear();
    return;
  }
  LearnAccounts(c, op.accounts);
  switch (op.kind) {
    case OpKind::kAcctInit:
      if (op.cas_succeeded) {
        for (int i = 0; i < accounts_; ++i) {
          cl.accounts[i] = ClientOp::Account{AccountKey(i), absl::StrCat(kOpeningBalance), op.revision};
        }
      }
      break;
    case OpKind::kTransfer:
      if (op.cas_succeeded) {
        cl.accounts[op.acct_from] = {AccountKey(op.acct_from), absl::StrCat(op.balance_from - op.amount), op.revision};
        cl.accounts[op.acct_to] = {AccountKey(op.acct_to), absl::StrCat(op.balance_to + op.amount), op.revision};
      }
      break;
    case OpKind::kLeaseKeep:
    case OpKind::kKeepAlive:
      if (op.kind == OpKind::kLeaseKeep || op.ttl > 0) {
        if (op.kind == OpKind::kLeaseKeep) {
          cl.kept_lease = op.lease_id;
          cl.kept_ttl = op.ttl;
          cl.abandoned = false;
        }
        cl.last_keepalive_ns = op.invoke_ns;
      } else if (op.lease_id == cl.kept_lease) {
        cl.kept_lease = 0;  // TTL 0: the lease is gone
      }
      break;
    default: break;
  }
}

void Workload::SendExtended(server::ServerImpl* s, size_t index,
                            std::function<void(Outcome, std::string)> complete,
                            std::function<void(const absl::Status&)> fail) {
  const ClientOp op = ops_[index];
  switch (op.kind) {
    case OpKind::kAcctInit: {
      etcdserverpb::TxnRequest req;
      etcdserverpb::Compare* cmp = req.add_compare();
      cmp->set_key(AccountKey(0));
      cmp->set_result(etcdserverpb::Compare::EQUAL);
      cmp->set_target(etcdserverpb::Compare::VERSION);
      cmp->set_version(0);
      for (int i = 0; i < accounts_; ++i) {
        etcdserverpb::PutRequest* put = req.add_success()->mutable_request_put();
        put->set_key(AccountKey(i));
        put->set_value(absl::StrCat(kOpeningBalance));
      }
      etcdserverpb::RangeRequest* all = req.add_failure()->mutable_request_range();
      all->set_key(kAccountPrefix);
      all->set_range_end(kAccountEnd);
      s->Txn(req, [this, index, complete, fail](absl::StatusOr<etcdserverpb::TxnResponse> r) mutable {
        if (!r.ok()) return fail(r.status());
        ClientOp& o = ops_[index];
        o.revision = r->header().revision();
        o.cas_succeeded = r->succeeded();
        if (!r->succeeded() && r->responses_size() == 1) {
          for (const mvccpb::KeyValue& kv : r->responses(0).response_range().kvs()) o.accounts.push_back(ToAccount(kv));
        }
        complete(Outcome::kOk, "");
      });
      break;
    }
    case OpKind::kTransfer: {
      etcdserverpb::TxnRequest req;
      const std::string from = AccountKey(op.acct_from), to = AccountKey(op.acct_to);
      for (const auto& [key, mod] : {std::pair{from, op.expect_mod_from}, std::pair{to, op.expect_mod_to}}) {
        etcdserverpb::Compare* cmp = req.add_compare();
        cmp->set_key(key);
        cmp->set_result(etcdserverpb::Compare::EQUAL);
        cmp->set_target(etcdserverpb::Compare::MOD);
        cmp->set_mod_revision(mod);
      }
      etcdserverpb::PutRequest* debit = req.add_success()->mutable_request_put();
      debit->set_key(from);
      debit->set_value(absl::StrCat(op.balance_from - op.amount));
      etcdserverpb::PutRequest* credit = req.add_success()->mutable_request_put();
      credit->set_key(to);
      credit->set_value(absl::StrCat(op.balance_to + op.amount));
      req.add_failure()->mutable_request_range()->set_key(from);
      req.add_failure()->mutable_request_range()->set_key(to);
      s->Txn(req, [this, index, complete, fail](absl::StatusOr<etcdserverpb::TxnResponse> r) mutable {
        if (!r.ok()) return fail(r.status());
        ClientOp& o = ops_[index];
        o.revision = r->header().revision();
        o.cas_succeeded = r->succeeded();
        if (!r->succeeded()) {
          for (const etcdserverpb::ResponseOp& ro : r->responses()) {
            for (const mvccpb::KeyValue& kv : ro.response_range().kvs()) o.accounts.push_back(ToAccount(kv));
          }
        }
        complete(Outcome::kOk, "");
      });
      break;
    }
    case OpKind::kAudit: {
      etcdserverpb::RangeRequest req;
      req.set_key(kAccountPrefix);
      req.set_range_end(kAccountEnd);
      s->Range(req, [this, index, complete, fail](absl::StatusOr<etcdserverpb::RangeResponse> r) mutable {
        if (!r.ok()) return fail(r.status());
        ClientOp& o = ops_[index];
        o.revision = r->header().revision();
        for (const mvccpb::KeyValue& kv : r->kvs()) o.accounts.push_back(ToAccount(kv));
        complete(Outcome::kOk, "");
      });
      break;
    }
    case OpKind::kAuditTxn: {
      etcdserverpb::TxnRequest req;
      for (int i = 0; i < accounts_; ++i) req.add_success()->mutable_request_range()->set_key(AccountKey(i));
      s->Txn(req, [this, index, complete, fail](absl::StatusOr<etcdserverpb::TxnResponse> r) mutable {
        if (!r.ok()) return fail(r.status());
        ClientOp& o = ops_[index];
        o.revision = r->header().revision();
        o.cas_succeeded = r->succeeded();
        for (const etcdserverpb::ResponseOp& ro : r->responses()) {
          for (const mvccpb::KeyValue& kv : ro.response_range().kvs()) o.accounts.push_back(ToAccount(kv));
        }
        complete(Outcome::kOk, "");
      });
      break;
    }
    case OpKind::kCompact: {
      etcdserverpb::CompactionRequest req;
      req.set_revision(op.at_revision);
      req.set_physical(op.physical);
      s->Compact(req, [this, index, complete, fail](absl::StatusOr<etcdserverpb::CompactionResponse> r) mutable {
        if (!r.ok()) return fail(r.status());
        ops_[index].revision = r->header().revision();
        complete(Outcome::kOk, "");
      });
      break;
    }
    case OpKind::kHistGet: {
      etcdserverpb::RangeRequest req;
      req.set_key(op.key);
      req.set_revision(op.at_revision);
      s->Range(req, [this, index, complete, fail](absl::StatusOr<etcdserverpb::RangeResponse> r) mutable {
        if (!r.ok()) return fail(r.status());
        ClientOp& o = ops_[index];
        o.revision = r->header().revision();
        o.found = r->kvs_size() > 0;
        if (o.found) {
          o.read_value = r->kvs(0).value();
          o.read_mod_revision = r->kvs(0).mod_revision();
        }
        complete(Outcome::kOk, "");
      });
      break;
    }
    case OpKind::kLeaseKeep: {
      etcdserverpb::LeaseGrantRequest grant;
      grant.set_ttl(op.ttl);
      SimCluster* cluster = cluster_;
      const int member = op.member;
      s->LeaseGrant(grant, [this, cluster, member, index, complete, fail](
                               absl::StatusOr<etcdserverpb::LeaseGrantResponse> g) mutable {
        if (!g.ok()) return fail(g.status());
        ClientOp& o = ops_[index];
        o.lease_id = g->id();
        o.ttl = g->ttl();
        Client& cl = clients_[o.client];
        if (cl.leases.size() < kMaxLeasesPerClient) cl.leases.push_back(g->id());
        ++cl.leases_granted;
        server::ServerImpl* s2 = cluster->server(member);
        if (s2 == nullptr) return;
        etcdserverpb::PutRequest put;
        put.set_key(o.key);
        put.set_value(o.value);
        put.set_lease(g->id());
        s2->Put(put, [this, index, complete, fail](absl::StatusOr<etcdserverpb::PutResponse> r) mutable {
          if (!r.ok()) return fail(r.status());
          ops_[index].revision = r->header().revision();
          complete(Outcome::kOk, "");
        });
      });
      break;
    }
    case OpKind::kKeepAlive: {
      etcdserverpb::LeaseKeepAliveRequest req;
      req.set_id(op.lease_id);
      s->LeaseKeepAlive(req, [this, index, complete, fail](absl::StatusOr<etcdserverpb::LeaseKeepAliveResponse> r) mutable {
        if (!r.ok()) return fail(r.status());
        ops_[index].revision = r->header().revision();
        ops_[index].ttl = r->ttl();
        complete(Outcome::kOk, "");
      });
      break;
    }
    case OpKind::kTimeToLive: {
      etcdserverpb::LeaseTimeToLiveRequest req;
      req.set_id(op.lease_id);
      req.set_keys(true);
      s->LeaseTimeToLive(req, [this, index, complete, fail](absl::StatusOr<etcdserverpb::LeaseTimeToLiveResponse> r) mutable {
        if (!r.ok()) return fail(r.status());
        ClientOp& o = ops_[index];
        o.revision = r->header().revision();
        o.ttl = r->ttl();
        o.granted_ttl = r->grantedttl();
        for (const std::string& k : r->keys()) o.lease_keys.push_back(k);
        complete(Outcome::kOk, "");
      });
      break;
    }
    case OpKind::kWatchFrom: {
      // A short-lived watch from a past revision: compacted (the server must cancel it with
      // compact_revision) or not (it must deliver every event from there).
      OpenWatcherOnce(op.member, op.at_revision, op.amount, op.watch_filter);
      complete(Outcome::kOk, "");
      break;
    }
    default: KEEL_CHECK(false);
  }
}

}  // namespace keel::sim
