#include "sim/cluster/workload.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/check.h"

namespace keel::sim {
namespace {

// Unknown: the request may have taken effect. kUnavailable means exactly that in
// server.h's contract (so does a deadline), except for the answers the server gives before
// proposing anything, which are definite failures, as in etcd's gRPC layer.
bool OutcomeUnknown(const absl::Status& s) {
  if (s.message() == "etcdserver: no leader" || s.message() == "etcdserver: server not started") {
    return false;
  }
  return s.code() == absl::StatusCode::kUnavailable ||
         s.code() == absl::StatusCode::kDeadlineExceeded ||
         s.code() == absl::StatusCode::kInternal || s.code() == absl::StatusCode::kAborted;
}

// After an error a client backs off before its next request, as real clients do; without
// it a leaderless minute becomes thousands of failed requests.
constexpr int64_t kErrorBackoffNs = 50'000'000;

}  // namespace

const char* OpKindName(OpKind kind) {
  switch (kind) {
    case OpKind::kPut: return "put";
    case OpKind::kGet: return "get";
    case OpKind::kSerializableGet: return "sget";
    case OpKind::kDelete: return "delete";
    case OpKind::kCas: return "cas";
    case OpKind::kLeasePut: return "lease_put";
    case OpKind::kAcctInit: return "acct_init";
    case OpKind::kTransfer: return "transfer";
    case OpKind::kAudit: return "audit";
    case OpKind::kAuditTxn: return "audit_txn";
    case OpKind::kCompact: return "compact";
    case OpKind::kHistGet: return "hist_get";
    case OpKind::kWatchFrom: return "watch_from";
    case OpKind::kLeaseKeep: return "lease_keep";
    case OpKind::kKeepAlive: return "keep_alive";
    case OpKind::kTimeToLive: return "time_to_live";
  }
  return "?";
}

// One watch stream at a time over the key space "k"..."l" (all workload keys). A stream
// canceled because its next revision was compacted is re-opened from the compaction
// revision, as a clientv3 user does on ErrCompacted. A one-shot watcher (kWatchFrom) opens
// one stream on a given member from a given revision and closes it after a while.
class Workload::Watcher final : public server::WatchSink {
 public:
  Watcher(Workload* w, int index) : w_(w), index_(index) {}

  bool Send(const std::vector<etcdserverpb::WatchResponse>& responses) override {
    WatchLog& log = w_->watch_logs_[index_];
    KEEL_CHECK(!log.streams.empty());
    for (const etcdserverpb::WatchResponse& r : responses) {
      log.streams.back().responses.push_back(r);
      for (const mvccpb::Event& e : r.events()) next_revision_ = std::max(next_revision_, e.kv().mod_revision() + 1);
      if (r.canceled()) {
        canceled_ = true;
        // Resume where the server says history starts; never move backwards.
        if (r.compact_revision() > 0) resume_at_ = std::max(next_revision_, r.compact_revision());
      }
    }
    return true;
  }

  void Open() {
    const int m = w_->PickMember();
    if (m < 0 || canceled_) return;
    OpenOn(m, next_revision_);
  }

  void OpenOn(int m, int64_t start, int filter = 0) {
    member_ = m;
    incarnation_ = w_->cluster_->env(m).node_loop().incarnation();
    w_->watch_logs_[index_].streams.push_back(WatchStreamLog{m, start, filter == 1, filter == 2, {}});
    stream_ = w_->cluster_->server(m)->NewWatchStream(this);
    etcdserverpb::WatchRequest request;
    etcdserverpb::WatchCreateRequest* create = request.mutable_create_request();
    create->set_key("k");
    create->set_range_end("l");
    create->set_start_revision(start);
    create->set_prev_kv(true);
    if (filter == 1) create->add_filters(etcdserverpb::WatchCreateRequest::NOPUT);
    if (filter == 2) create->add_filters(etcdserverpb::WatchCreateRequest::NODELETE);
    stream_->Handle(request);
  }

  // A stream-wide progress request (etcd's WatchProgressRequest): answered with a
  // bookmark once every watcher of the stream is synced.
  void RequestProgress() {
    // A paused (SIGSTOPped) member reads no requests.
    if (stream_ == nullptr || canceled_ || member_ < 0 || w_->cluster_->paused(member_)) return;
    etcdserverpb::WatchRequest request;
    request.mutable_progress_request();
    stream_->Handle(request);
  }

  // One-shot: opens on member m from `start`; the stream lives `for_ns`.
  void OpenOnce(int m, int64_t start, int64_t for_ns, int filter) {
    one_shot_ = true;
    next_revision_ = start;
    OpenOn(m, start, filter);
    w_->world_->ScheduleAfter(for_ns / 2, [this]() mutable { RequestProgress(); });
    w_->world_->ScheduleAfter(for_ns, [this]() mutable { Close(); });
  }

  // The stream's member crashed (or never had one): its stream object died with the
  // server; open a new one elsewhere, resuming after the last revision seen. A stream
  // canceled by a compaction resumes at the compaction revision.
  void ReviveIfNeeded() {
    if (one_shot_) return;
    if (canceled_ && resume_at_ > 0) {
      canceled_ = false;
      next_revision_ = resume_at_;
      resume_at_ = 0;
      stream_.reset();
      member_ = -1;
      Open();
      return;
    }
    if (canceled_) return;
    const bool alive = member_ >= 0 && w_->cluster_->up(member_) &&
                       w_->cluster_->env(member_).node_loop().incarnation() == incarnation_;
    if (alive) return RequestProgress();  // once a second: bookmarks for the checker
    stream_.reset();  // safe: a stream outliving its server does nothing
    member_ = -1;
    Open();
  }

  void Close() { stream_.reset(); }

 private:
  Workload* const w_;
  const int index_;
  int member_ = -1;
  uint64_t incarnation_ = 0;
  int64_t next_revision_ = 1;
  int64_t resume_at_ = 0;  // > 0: canceled by a compaction, resume here
  bool canceled_ = false;
  bool one_shot_ = false;
  std::unique_ptr<server::WatchStream> stream_;
};

Workload::Workload(World* world, SimCluster* cluster, const WorkloadMix& mix, env::Rng rng)
    : world_(world), cluster_(cluster), mix_(mix), rng_(rng), ext_rng_(world->NewRng("workload.ext")) {
  clients_.resize(mix_.clients);
  // Swarm: how much of the load is extended operations, and how many accounts.
  static constexpr int kExtPercent[] = {10, 25, 40};
  ext_percent_ = kExtPercent[ext_rng_.Uniform(3)];
  accounts_ = 2 + static_cast<int>(ext_rng_.Uniform(7));
  for (int i = 0; i < mix_.watchers; ++i) {
    watchers_.push_back(std::make_unique<Watcher>(this, i));
    watch_logs_.push_back(WatchLog{i, {}});
  }
}

Workload::~Workload() {
  for (auto& w : watchers_) w->Close();
}

std::string Workload::KeyName(int k) const { return absl::StrFormat("k%03d", k); }

bool Workload::IsLeaseKey(const std::string& key) { return key.rfind("kl", 0) == 0; }

int64_t Workload::ClientTimeoutNs() const { return mix_.client_timeout_ns; }

void Workload::OpenWatcherOnce(int member, int64_t start, int64_t for_ns, int filter) {
  const int w = static_cast<int>(watchers_.size());
  watchers_.push_back(std::make_unique<Watcher>(this, w));
  watch_logs_.push_back(WatchLog{w, {}});
  watchers_[w]->OpenOnce(member, start, for_ns, filter);
}

std::map<std::string, uint64_t> Workload::OpCounts() const {
  std::map<std::string, uint64_t> out;
  for (const ClientOp& op : ops_) {
    if (op.kind <= OpKind::kLeasePut) continue;  // the basic ones: not new coverage
    ++out[absl::StrCat("op.", OpKindName(op.kind))];
    if (op.outcome == Outcome::kOk) ++out[absl::StrCat("op.", OpKindName(op.kind), ".ok")];
  }
  for (const WatchLog& log : watch_logs_) {
    for (const WatchStreamLog& s : log.streams) {
      if (s.filter_put || s.filter_delete) ++out["watch.filtered_streams"];
      for (const etcdserverpb::WatchResponse& r : s.responses) {
        if (r.events_size() == 0 && !r.created() && !r.canceled()) ++out["watch.progress"];
        if (r.canceled() && r.compact_revision() > 0) ++out["watch.compacted_cancels"];
      }
    }
  }
  return out;
}

int Workload::PickMember() { return PickMember(rng_); }

int Workload::PickMember(env::Rng& rng) {
  std::vector<int> up;
  for (int i = 0; i < cluster_->size(); ++i) {
    if (cluster_->up(i)) up.push_back(i);
  }
  if (up.empty()) return -1;
  return up[rng.Uniform(up.size())];
}

void Workload::Start(int64_t stop_ns) {
  stop_ns_ = stop_ns;
  for (auto& w : watchers_) w->Open();
  for (int c = 0; c < static_cast<int>(clients_.size()); ++c) {
    world_->ScheduleAfter(static_cast<int64_t>(rng_.Uniform(1'000'000)), [this, c]() mutable { Issue(c); });
  }
}

bool Workload::Done() const {
  for (const Client& c : clients_) {
    if (c.busy || !c.stopped) return false;
  }
  return true;
}

void Workload::ReviveWatchers() {
  for (auto& w : watchers_) w->ReviveIfNeeded();
}

void Workload::Issue(int c) {
  Client& client = clients_[c];
  if (world_->now_ns() >= stop_ns_) {
    client.stopped = true;
    return;
  }
  // Extended operations draw from their own stream first (a kept lease due for a
  // keep-alive always gets one): the basic ones keep drawing from rng_ as they always did.
  ClientOp op;
  const Client& cl = clients_[c];
  const bool keepalive_due = cl.kept_lease != 0 && !cl.abandoned &&
                             world_->now_ns() - cl.last_keepalive_ns >= cl.kept_ttl * 1'000'000'000 / 3;
  const bool extended = (keepalive_due || static_cast<int>(ext_rng_.Uniform(100)) < ext_percent_) &&
                        DrawExtended(c, &op);
  const int member = extended ? PickMember(ext_rng_) : PickMember();
  if (member < 0) {
    world_->ScheduleAfter(10'000'000, [this, c]() mutable { Issue(c); });
    return;
  }
  op.client = c;
  op.member = member;
  op.invoke_ns = world_->now_ns();
  if (!extended) {
    const int total = mix_.put + mix_.get + mix_.serializable_get + mix_.del + mix_.cas + mix_.lease;
    int r = static_cast<int>(rng_.Uniform(std::max(total, 1)));
    op.key = KeyName(static_cast<int>(rng_.Uniform(std::max(mix_.keys, 1))));
    op.value = absl::StrFormat("v%d.%d", c, ++value_counter_);
    op.value.resize(std::max<size_t>(op.value.size(), static_cast<size_t>(mix_.value_bytes)), '.');
    if ((r -= mix_.put) < 0) {
      op.kind = OpKind::kPut;
    } else if ((r -= mix_.get) < 0) {
      op.kind = OpKind::kGet;
    } else if ((r -= mix_.serializable_get) < 0) {
      op.kind = OpKind::kSerializableGet;
    } else if ((r -= mix_.del) < 0) {
      op.kind = OpKind::kDelete;
    } else if ((r -= mix_.cas) < 0) {
      op.kind = OpKind::kCas;
      // Compare against the value this client last read or wrote for the key, or absence.
      op.expect_absent = rng_.OneIn(4);
      if (!op.expect_absent) {
        for (auto it = ops_.rbegin(); it != ops_.rend(); ++it) {
          if (it->key == op.key && it->outcome == Outcome::kOk &&
              (it->kind == OpKind::kPut || (it->kind == OpKind::kGet && it->found))) {
            op.expected = it->kind == OpKind::kPut ? it->value : it->read_value;
            break;
          }
        }
        if (op.expected.empty()) op.expect_absent = true;
      }
    } else {
      op.kind = OpKind::kLeasePut;
      op.key = absl::StrFormat("kl%03d", static_cast<int>(rng_.Uniform(4)));
    }
  }
  const size_t index = ops_.size();
  ops_.push_back(op);
  client.busy = true;
  client.op_index = index;
  const uint64_t token = ++client.token;
  world_->trace().Record(world_->now_ns(), cluster_->member_id(member), "client.invoke",
                         {{"client", c},
                          {"op", OpKindName(op.kind)},
                          {"key", std::string_view(ops_[index].key)},
                          {"value", std::string_view(ops_[index].value)},
                          {"index", static_cast<uint64_t>(index)}});

  // Completion, on the member's loop (or never, if it crashes first).
  auto complete = [this, c, token, index](Outcome outcome, std::string error) {
    if (clients_[c].token != token || !clients_[c].busy) return;  // timed out already
    Finish(index, outcome, std::move(error));
    clients_[c].busy = false;
    const ClientOp& done = ops_[index];
    if (outcome == Outcome::kOk && done.revision > 0) {
      std::vector<int64_t>& seen = clients_[c].observed;
      seen.push_back(done.revision);
      if (seen.size() > 16) seen.erase(seen.begin());
    }
    if (done.kind > OpKind::kLeasePut) OnExtendedDone(c, index);
    const int64_t pause = mix_.think_ns + (outcome == Outcome::kOk ? 0 : kErrorBackoffNs);
    world_->ScheduleAfter(pause, [this, c]() mutable { Issue(c); });
  };
  auto fail = [complete, kind = op.kind](const absl::Status& s) {
    // Reads never change anything: a failure is a failure, whatever the code.
    const bool read = kind == OpKind::kGet || kind == OpKind::kSerializableGet || kind == OpKind::kAudit ||
                      kind == OpKind::kAuditTxn || kind == OpKind::kHistGet || kind == OpKind::kTimeToLive;
    complete(OutcomeUnknown(s) && !read ? Outcome::kUnknown : Outcome::kFail, std::string(s.message()));
  };
  world_->ScheduleAfter(ClientTimeoutNs(), [complete]() mutable { complete(Outcome::kUnknown, "client timeout"); });

  if (op.kind == OpKind::kCompact && before_compact) before_compact();
  SimCluster* cluster = cluster_;
  cluster_->env(member).loop()->Post([this, cluster, member, index, complete, fail]() mutable {
    server::ServerImpl* s = cluster->server(member);
    if (s == nullptr) return;
    const ClientOp op = ops_[index];
    switch (op.kind) {
      case OpKind::kPut: {
        etcdserverpb::PutRequest req;
        req.set_key(op.key);
        req.set_value(op.value);
        s->Put(req, [this, index, complete, fail](absl::StatusOr<etcdserverpb::PutResponse> r) mutable {
          if (!r.ok()) return fail(r.status());
          ops_[index].revision = r->header().revision();
          complete(Outcome::kOk, "");
        });
        break;
      }
      case OpKind::kGet:
      case OpKind::kSerializableGet: {
        etcdserverpb::RangeRequest req;
        req.set_key(op.key);
        req.set_serializable(op.kind == OpKind::kSerializableGet);
        ops_[index].incarnation = cluster->env(member).node_loop().incarnation();
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
      case OpKind::kDelete: {
        etcdserverpb::DeleteRangeRequest req;
        req.set_key(op.key);
        s->DeleteRange(req, [this, index, complete, fail](absl::StatusOr<etcdserverpb::DeleteRangeResponse> r) mutable {
          if (!r.ok()) return fail(r.status());
          ops_[index].revision = r->header().revision();
          ops_[index].deleted = r->deleted();
          complete(Outcome::kOk, "");
        });
        break;
      }
      case OpKind::kCas: {
        etcdserverpb::TxnRequest req;
        etcdserverpb::Compare* cmp = req.add_compare();
        cmp->set_key(op.key);
        cmp->set_result(etcdserverpb::Compare::EQUAL);
        if (op.expect_absent) {
          cmp->set_target(etcdserverpb::Compare::VERSION);
          cmp->set_version(0);
        } else {
          cmp->set_target(etcdserverpb::Compare::VALUE);
          cmp->set_value(op.expected);
        }
        etcdserverpb::PutRequest* put = req.add_success()->mutable_request_put();
        put->set_key(op.key);
        put->set_value(op.value);
        s->Txn(req, [this, index, complete, fail](absl::StatusOr<etcdserverpb::TxnResponse> r) mutable {
          if (!r.ok()) return fail(r.status());
          ops_[index].revision = r->header().revision();
          ops_[index].cas_succeeded = r->succeeded();
          complete(Outcome::kOk, "");
        });
        break;
      }
      case OpKind::kLeasePut: {
        etcdserverpb::LeaseGrantRequest grant;
        grant.set_ttl(1 + static_cast<int64_t>(index % 5));
        s->LeaseGrant(grant, [this, cluster, member, index, complete, fail](
                                 absl::StatusOr<etcdserverpb::LeaseGrantResponse> g) mutable {
          if (!g.ok()) return fail(g.status());
          server::ServerImpl* s2 = cluster->server(member);
          if (s2 == nullptr) return;
          ops_[index].lease_id = g->id();
          etcdserverpb::PutRequest put;
          put.set_key(ops_[index].key);
          put.set_value(ops_[index].value);
          put.set_lease(g->id());
          s2->Put(put, [this, index, complete, fail](absl::StatusOr<etcdserverpb::PutResponse> r) mutable {
            if (!r.ok()) return fail(r.status());
            ops_[index].revision = r->header().revision();
            complete(Outcome::kOk, "");
          });
        });
        break;
      }
      default: SendExtended(s, index, complete, fail);
    }
  });
}

void Workload::Finish(size_t index, Outcome outcome, std::string error) {
  ClientOp& op = ops_[index];
  op.outcome = outcome;
  op.complete_ns = world_->now_ns();
  op.error = std::move(error);
  world_->trace().Record(world_->now_ns(), cluster_->member_id(op.member), "client.complete",
                         {{"client", op.client},
                          {"index", static_cast<uint64_t>(index)},
                          {"op", OpKindName(op.kind)},
                          {"error", std::string_view(op.error)},
                          {"outcome", outcome == Outcome::kOk ? "ok" : outcome == Outcome::kFail ? "fail" : "unknown"},
                          {"revision", op.revision}});
}

}  // namespace keel::sim
