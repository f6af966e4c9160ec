#include "chaos/workloads.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/txn.h"
#include "env/rng.h"
#include "base/check.h"

namespace keel::chaos {

namespace {

using checkers::Operation;
using checkers::OpKind;
using checkers::Outcome;
using checkers::WatchEvent;

constexpr size_t kMaxJsonLines = 1'000'000;  // bounded even for a very long campaign
constexpr int kMaxWatchIncarnations = 1000;
constexpr char kBankPrefix[] = "c/b/";

std::string BankKey(int i) { return absl::StrCat(kBankPrefix, i); }

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kOk: return "ok";
    case Outcome::kFailed: return "failed";
    case Outcome::kUnknown: return "unknown";
  }
  return "?";
}

const char* KindName(OpKind k) {
  switch (k) {
    case OpKind::kPut: return "put";
    case OpKind::kGet: return "get";
    case OpKind::kDelete: return "delete";
    case OpKind::kCas: return "cas";
    case OpKind::kRange: return "range";
  }
  return "?";
}

// Keys and values written by keelchaos are [a-z0-9./] only, so no JSON escaping is needed.
std::string JsonOp(int round, const Operation& op) {
  return absl::StrCat(
      "{\"workload\":\"register\",\"round\":", round, ",\"client\":", op.client_id,
      ",\"op\":\"", KindName(op.kind), "\",\"key\":\"", op.key, "\",\"value\":\"", op.value,
      "\",\"cas_expected_mod_revision\":", op.cas_expected_number, ",\"invoke_ns\":", op.invoke_ns,
      ",\"complete_ns\":", op.outcome == Outcome::kUnknown ? -1 : op.complete_ns,
      ",\"outcome\":\"", OutcomeName(op.outcome), "\",\"revision\":", op.header_revision,
      ",\"found\":", op.found ? "true" : "false", ",\"read_value\":\"", op.read_value,
      "\",\"read_mod_revision\":", op.read_mod_revision,
      ",\"cas_succeeded\":", op.cas_succeeded ? "true" : "false", "}");
}

// What a single-key linearizable Range returned, in the checker's terms.
void RecordGetResult(const etcdserverpb::RangeResponse& r, Operation* op) {
  op->header_revision = r.header().revision();
  op->found = r.kvs_size() > 0;
  if (op->found) {
    op->read_value = r.kvs(0).value();
    op->read_mod_revision = r.kvs(0).mod_revision();
    op->read_version = r.kvs(0).version();
  }
}

}  // namespace

std::string Workloads::RegisterKey(int round, int k) { return absl::StrCat("c/r/", round, "/", k); }

Workloads::Workloads(WorkloadOptions options, absl::Time epoch)
    : options_(std::move(options)), epoch_(epoch) {}

int64_t Workloads::NowNs() const { return absl::ToInt64Nanoseconds(absl::Now() - epoch_); }

absl::StatusOr<std::unique_ptr<Workloads>> Workloads::Start(WorkloadOptions options,
                                                            absl::Time epoch) {
  std::unique_ptr<Workloads> w(new Workloads(std::move(options), epoch));
  const WorkloadOptions& o = w->options_;
  const auto make_client = [&](std::vector<std::string> endpoints,
                               bool discover) -> absl::StatusOr<std::unique_ptr<client::Client>> {
    return client::Client::Create({.endpoints = std::move(endpoints),
                                   .dial_timeout = absl::Seconds(5),
                                   .command_timeout = absl::Seconds(2),
                                   .discover_leader = discover});
  };
  const int workers = (o.run_register ? o.register_clients : 0) + (o.run_bank ? o.bank_clients : 0) +
                      (o.run_watch ? o.watchers : 0);
  for (int i = 0; i < workers; ++i) {
    absl::StatusOr<std::unique_ptr<client::Client>> c = make_client(o.endpoints, true);
    if (!c.ok()) return c.status();
    w->clients_.push_back(std::move(*c));
  }
  if (o.bug_serializable_reads) {
    for (const std::string& e : o.endpoints) {
      absl::StatusOr<std::unique_ptr<client::Client>> c = make_client({e}, false);
      if (!c.ok()) return c.status();
      w->member_clients_.push_back(std::move(*c));
    }
  }
  if (o.run_bank) {
    if (absl::Status s = w->InitBank(); !s.ok()) return s;
  }
  int next = 0;
  if (o.run_register) {
    for (int i = 0; i < o.register_clients; ++i, ++next) {
      w->threads_.emplace_back([p = w.get(), next] { p->RegisterLoop(next); });
    }
  }
  if (o.run_bank) {
    for (int i = 0; i < o.bank_clients; ++i, ++next) {
      w->threads_.emplace_back([p = w.get(), next] { p->BankLoop(next); });
    }
  }
  w->op_workers_ = next;
  if (o.run_watch) {
    absl::MutexLock lock(&w->mu_);
    w->streams_.resize(o.watchers);
    w->reconnects_.assign(o.watchers, 0);
  }
  if (o.run_watch) {
    for (int i = 0; i < o.watchers; ++i, ++next) {
      w->threads_.emplace_back([p = w.get(), next] { p->WatchLoop(next); });
    }
  }
  return w;
}

Workloads::~Workloads() { Stop(); }

void Workloads::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
    for (client::Watcher* watcher : active_watchers_) watcher->Cancel();
  }
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

void Workloads::BeginRound(int round) {
  absl::MutexLock lock(&mu_);
  round_ = round;
  running_ = true;
}

bool Workloads::Quiesce(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  running_ = false;
  return mu_.AwaitWithTimeout(absl::Condition(this, &Workloads::AllIdle), timeout);
}

bool Workloads::WaitRunnable(int* round) {
  absl::MutexLock lock(&mu_);
  ++idle_;
  mu_.Await(absl::Condition(
      +[](Workloads* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(w->mu_) { return w->running_ || w->stop_; },
      this));
  --idle_;
  *round = round_;
  return !stop_;
}

void Workloads::RecordRegister(int round, Operation op) {
  absl::MutexLock lock(&mu_);
  ++counters_.register_ops;
  if (op.outcome == Outcome::kUnknown) ++counters_.register_unknown;
  if (op.outcome == Outcome::kFailed) ++counters_.register_failed;
  if (json_.size() < kMaxJsonLines) json_.push_back(JsonOp(round, op));
  register_[round].push_back(std::move(op));
}

void Workloads::RecordAcked(int64_t revision, std::vector<WatchEvent> events) {
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = acked_.emplace(revision, std::move(events));
  if (!inserted) {
    anomalies_.push_back(absl::StrCat("duplicate-revision: two acknowledged writes report revision ",
                                      revision, " (", it->second.front().key, " and another)"));
  }
}

void Workloads::Anomaly(std::string text) {
  absl::MutexLock lock(&mu_);
  anomalies_.push_back(std::move(text));
}

void Workloads::RegisterLoop(int id) {
  env::Rng rng = env::Rng(options_.seed).Stream(absl::StrCat("register.", id));
  client::Client* client = clients_[id].get();
  std::map<std::string, int64_t> last_mod;  // key -> mod_revision this client last read
  int64_t seq = 0;
  int round = 0;
  while (WaitRunnable(&round)) {
    Operation op;
    op.client_id = static_cast<uint64_t>(id);
    op.key = RegisterKey(round, static_cast<int>(rng.Uniform(options_.register_keys)));
    const uint64_t choice = rng.Uniform(10);
    op.invoke_ns = NowNs();
    if (choice < 4) {
      op.kind = OpKind::kGet;
      absl::StatusOr<etcdserverpb::RangeResponse> r;
      if (options_.bug_serializable_reads) {
        r = member_clients_[rng.Uniform(member_clients_.size())]->Get(op.key, {.serializable = true});
      } else {
        r = client->Get(op.key);
      }
      op.complete_ns = NowNs();
      if (r.ok()) {
        RecordGetResult(*r, &op);
        last_mod[op.key] = op.found ? op.read_mod_revision : 0;
      } else {
        op.outcome = Outcome::kFailed;  // a read that failed had no effect
      }
    } else {
      op.value = absl::StrCat("v", id, ".", ++seq);
      bool ok = false;
      if (choice < 7) {
        op.kind = OpKind::kPut;
        absl::StatusOr<etcdserverpb::PutResponse> r = client->Put(op.key, op.value);
        if ((ok = r.ok())) op.header_revision = r->header().revision();
      } else {
        op.kind = OpKind::kCas;
        op.cas_target = checkers::CasTarget::kModRevision;
        op.cas_expected_number = last_mod[op.key];
        absl::StatusOr<etcdserverpb::TxnResponse> r =
            client->Txn()
                .If(client::Compare::ModRevision(op.key) == op.cas_expected_number)
                .Then(client::Op::Put(op.key, op.value))
                .Commit();
        if ((ok = r.ok())) {
          op.header_revision = r->header().revision();
          op.cas_succeeded = r->succeeded();
        }
      }
      op.complete_ns = NowNs();
      op.outcome = ok ? Outcome::kOk : Outcome::kUnknown;
      if (ok && (op.kind == OpKind::kPut || op.cas_succeeded)) {
        RecordAcked(op.header_revision, {WatchEvent{.type = checkers::EventType::kPut,
                                                    .key = op.key,
                                                    .value = op.value,
                                                    .mod_revision = op.header_revision}});
      }
    }
    RecordRegister(round, std::move(op));
  }
}

void Workloads::FinalReads(int round) {
  if (!options_.run_register) return;
  client::Client* client = clients_.front().get();
  const uint64_t reader = static_cast<uint64_t>(clients_.size());  // a client id of its own
  for (int k = 0; k < options_.register_keys; ++k) {
    for (int attempt = 0; attempt < 5; ++attempt) {  // a failed read is dropped; try again
      Operation op;
      op.client_id = reader;
      op.kind = OpKind::kGet;
      op.key = RegisterKey(round, k);
      op.invoke_ns = NowNs();
      absl::StatusOr<etcdserverpb::RangeResponse> r = client->Get(op.key);
      op.complete_ns = NowNs();
      if (!r.ok()) continue;
      RecordGetResult(*r, &op);
      RecordRegister(round, std::move(op));
      break;
    }
  }
}

absl::Status Workloads::InitBank() {
  client::Client* client = clients_.front().get();
  for (int attempt = 0; attempt < 20; ++attempt) {  // bounded; each try has a deadline
    etcdserverpb::TxnRequest txn;
    *txn.add_compare() = client::Compare::Version(BankKey(0)) == 0;
    for (int i = 0; i < options_.bank_accounts; ++i) {
      *txn.add_success() = client::Op::Put(BankKey(i), absl::StrCat(options_.bank_initial));
    }
    absl::StatusOr<etcdserverpb::TxnResponse> r = client->CommitTxn(txn);
    if (r.ok() && r->succeeded()) {
      std::vector<WatchEvent> events;
      for (int i = 0; i < options_.bank_accounts; ++i) {
        events.push_back({.type = checkers::EventType::kPut,
                          .key = BankKey(i),
                          .value = absl::StrCat(options_.bank_initial),
                          .mod_revision = r->header().revision()});
      }
      RecordAcked(r->header().revision(), std::move(events));
      return absl::OkStatus();
    }
    if (r.ok()) return absl::FailedPreconditionError("bank accounts already exist: not a fresh cluster");
    absl::SleepFor(absl::Milliseconds(200));
  }
  return absl::UnavailableError("could not install the bank accounts");
}

void Workloads::BankLoop(int id) {
  env::Rng rng = env::Rng(options_.seed).Stream(absl::StrCat("bank.", id));
  client::Client* client = clients_[id].get();
  const int n = options_.bank_accounts;
  const int64_t total = options_.bank_initial * n;
  int round = 0;
  while (WaitRunnable(&round)) {
    absl::StatusOr<etcdserverpb::RangeResponse> read =
        client->Get(kBankPrefix, {.range_end = client::PrefixRangeEnd(kBankPrefix)});
    if (!read.ok()) continue;
    std::vector<int64_t> balance(n, -1), mod(n, 0);
    int64_t sum = 0;
    std::vector<std::string> seen;
    for (const auto& kv : read->kvs()) {
      int64_t v = 0, index = -1;
      absl::SimpleAtoi(kv.value(), &v);
      absl::SimpleAtoi(kv.key().substr(sizeof(kBankPrefix) - 1), &index);
      if (index >= 0 && index < n) {
        balance[index] = v;
        mod[index] = kv.mod_revision();
      }
      sum += v;
      seen.push_back(absl::StrCat(kv.key(), "=", kv.value(), "@", kv.mod_revision()));
    }
    {
      absl::MutexLock lock(&mu_);
      ++counters_.bank_reads;
      if (json_.size() < kMaxJsonLines) {
        json_.push_back(absl::StrCat("{\"workload\":\"bank\",\"round\":", round, ",\"client\":", id,
                                     ",\"op\":\"read\",\"revision\":", read->header().revision(),
                                     ",\"sum\":", sum, "}"));
      }
    }
    if (read->kvs_size() != n || sum != total) {
      Anomaly(absl::StrCat("bank-total: client ", id, " read ", read->kvs_size(), " accounts summing to ",
                           sum, " (expected ", n, " summing to ", total, ") at revision ",
                           read->header().revision(), ": ", absl::StrJoin(seen, " ")));
      continue;
    }
    const int from = static_cast<int>(rng.Uniform(n));
    const int to = (from + 1 + static_cast<int>(rng.Uniform(n - 1))) % n;
    if (balance[from] <= 0) continue;
    const int64_t amount = 1 + static_cast<int64_t>(rng.Uniform(std::min<int64_t>(10, balance[from])));
    const std::string from_value = absl::StrCat(balance[from] - amount);
    const std::string to_value = absl::StrCat(balance[to] + amount);
    absl::StatusOr<etcdserverpb::TxnResponse> r =
        client->Txn()
            .If({client::Compare::ModRevision(BankKey(from)) == mod[from],
                 client::Compare::ModRevision(BankKey(to)) == mod[to]})
            .Then({client::Op::Put(BankKey(from), from_value), client::Op::Put(BankKey(to), to_value)})
            .Commit();
    {
      absl::MutexLock lock(&mu_);
      if (!r.ok()) ++counters_.bank_unknown;
      if (r.ok() && r->succeeded()) ++counters_.bank_transfers;
      if (json_.size() < kMaxJsonLines) {
        json_.push_back(absl::StrCat(
            "{\"workload\":\"bank\",\"round\":", round, ",\"client\":", id,
            ",\"op\":\"transfer\",\"from\":", from, ",\"to\":", to, ",\"amount\":", amount,
            ",\"outcome\":\"", !r.ok() ? "unknown" : (r->succeeded() ? "ok" : "compare-failed"),
            "\",\"revision\":", r.ok() ? r->header().revision() : 0, "}"));
      }
    }
    if (r.ok() && r->succeeded()) {
      const int64_t rev = r->header().revision();
      RecordAcked(rev, {{.type = checkers::EventType::kPut, .key = BankKey(from), .value = from_value, .mod_revision = rev},
                        {.type = checkers::EventType::kPut, .key = BankKey(to), .value = to_value, .mod_revision = rev}});
    }
  }
}

void Workloads::WatchLoop(int id) {
  const int index = id - op_workers_;
  client::Client* client = clients_[id].get();
  int64_t start = 1;
  int64_t earlier_reconnects = 0;  // of finished incarnations
  for (int incarnation = 0; incarnation < kMaxWatchIncarnations; ++incarnation) {
    {
      absl::MutexLock lock(&mu_);
      if (stop_) return;
    }
    absl::StatusOr<std::unique_ptr<client::Watcher>> watcher = client::Watcher::Create(
        client, {.key = kWatchPrefix,
                 .range_end = client::PrefixRangeEnd(kWatchPrefix),
                 .start_revision = start,
                 .resume_timeout = absl::Seconds(20)});
    if (!watcher.ok()) {
      absl::SleepFor(absl::Milliseconds(200));
      --incarnation;  // not an incarnation: nothing was watched; bounded by stop_ via Stop()
      continue;
    }
    {
      absl::MutexLock lock(&mu_);
      if (stop_) return;
      active_watchers_.push_back(watcher->get());
      checkers::WatcherHistory h;
      h.name = absl::StrCat("watcher ", index, " incarnation ", streams_[index].size());
      h.key = kWatchPrefix;
      h.range_end = client::PrefixRangeEnd(kWatchPrefix);
      h.start_revision = start;
      streams_[index].push_back(std::move(h));
      if (incarnation > 0) ++counters_.watch_resumes;
    }
    for (;;) {  // ends when the watcher fails or is cancelled by Stop()
      absl::StatusOr<etcdserverpb::WatchResponse> r = (*watcher)->Next();
      if (!r.ok()) break;
      checkers::WatchResponse response;
      response.header_revision = r->header().revision();
      response.fragment = r->fragment();
      for (const auto& e : r->events()) {
        response.events.push_back(
            {.type = e.type() == mvccpb::Event::DELETE ? checkers::EventType::kDelete
                                                        : checkers::EventType::kPut,
             .key = e.kv().key(),
             .value = e.kv().value(),
             .mod_revision = e.kv().mod_revision()});
      }
      absl::MutexLock lock(&mu_);
      reconnects_[index] = earlier_reconnects + (*watcher)->resume_count();
      counters_.watch_events += static_cast<int64_t>(response.events.size());
      streams_[index].back().responses.push_back(std::move(response));
    }
    start = (*watcher)->next_revision();
    earlier_reconnects += (*watcher)->resume_count();
    absl::MutexLock lock(&mu_);
    active_watchers_.erase(std::find(active_watchers_.begin(), active_watchers_.end(), watcher->get()));
    if (stop_) return;
  }
}

checkers::History Workloads::RegisterHistory(int round) const {
  absl::MutexLock lock(&mu_);
  auto it = register_.find(round);
  return it == register_.end() ? checkers::History{} : it->second;
}

std::map<int64_t, std::vector<WatchEvent>> Workloads::AckedWrites() const {
  absl::MutexLock lock(&mu_);
  return acked_;
}

std::vector<std::vector<checkers::WatcherHistory>> Workloads::WatchStreams() const {
  absl::MutexLock lock(&mu_);
  return streams_;
}

std::vector<int64_t> Workloads::WatcherRevisions() const {
  absl::MutexLock lock(&mu_);
  std::vector<int64_t> out;
  for (const auto& stream : streams_) {
    int64_t seen = 0;
    for (const auto& incarnation : stream) {
      for (const auto& r : incarnation.responses) {
        for (const auto& e : r.events) seen = std::max(seen, e.mod_revision);
        if (r.IsProgressNotify()) seen = std::max(seen, r.header_revision);
      }
    }
    out.push_back(seen);
  }
  return out;
}

std::vector<std::string> Workloads::TakeAnomalies() {
  absl::MutexLock lock(&mu_);
  return std::exchange(anomalies_, {});
}

std::vector<std::string> Workloads::TakeJsonLines() {
  absl::MutexLock lock(&mu_);
  return std::exchange(json_, {});
}

WorkloadCounters Workloads::counters() const {
  absl::MutexLock lock(&mu_);
  WorkloadCounters c = counters_;
  for (int64_t r : reconnects_) c.watch_reconnects += r;
  return c;
}

}  // namespace keel::chaos
