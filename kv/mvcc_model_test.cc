// Model-based randomized test: seeded sequences of puts, deletes, txns, compactions,
// historical ranges, HashKV and watches run against the real store (LevelDB in a temp dir)
// and against kv/testing/model.h. Every response, every error and every watch event must
// agree. Sequences also reopen the store, cleanly (index rebuild must give the same index)
// or after a "crash" that drops uncommitted writes (replaying the Raft entries after
// consistent_index() must give the same answers again).
//
// KV_MODEL_SEEDS=<n> runs more or fewer sequences (default 2000); KV_MODEL_FIRST_SEED picks
// the first, so a failing seed replays alone.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "env/rng.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "kv/mvcc_store.h"
#include "kv/testing/model.h"
#include "kv/testing/queued_env.h"
#include "kv/testing/temp_dir.h"
#include "kv/watch_hub.h"

namespace keel::kv {
namespace {

using etcdserverpb::WatchResponse;
using google::protobuf::Message;
using google::protobuf::util::MessageDifferencer;
using testing::InRange;
using testing::Model;

const std::vector<std::string> kKeys = {"a", "b", "c", "d", "e", "f"};
const std::string kAll(1, '\0');

int64_t EnvInt(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  return v == nullptr ? fallback : std::atoll(v);
}

bool Same(const Message& a, const Message& b) { return MessageDifferencer::Equals(a, b); }

// What the sequences exercised, summed over all seeds: a test that never reaches a path
// proves nothing about it, so the test asserts each count is non-zero.
struct Coverage {
  int64_t events_delivered = 0;
  int64_t fragmented_responses = 0;
  int64_t compacted_cancels = 0;
  int64_t bookmarks = 0;
  int64_t replayed_entries = 0;
  int64_t prev_kvs = 0;
  int64_t txn_errors = 0;
  int64_t compactions = 0;
};
Coverage coverage;

// Leases 1 and 2 exist; records which key is attached to which lease.
class FakeLessor : public LeaseHooks {
 public:
  bool LeaseExists(int64_t id) const override { return id == 1 || id == 2; }
  void Attach(int64_t id, std::string_view key) override {
    EXPECT_EQ(attached.count(std::string(key)), 0u) << key;
    attached[std::string(key)] = id;
  }
  void Detach(int64_t id, std::string_view key) override {
    auto it = attached.find(std::string(key));
    ASSERT_NE(it, attached.end()) << key;
    EXPECT_EQ(it->second, id);
    attached.erase(it);
  }
  std::map<std::string, int64_t> attached;
};

// Everything one stream's sink received, plus what the client asked for, in order.
struct StreamLog {
  StreamId id = 0;
  double refuse_probability = 0;
  std::vector<WatchResponse> received;
  std::vector<etcdserverpb::WatchCreateRequest> creates;  // in request order
};

class Sequence {
 public:
  explicit Sequence(uint64_t seed, size_t value_bytes = 0)
      : rng_(seed), seed_(seed), value_bytes_(value_bytes) {
    model_.AddLease(1);
    model_.AddLease(2);
    Open();
  }

  int64_t background_jobs() const { return leveldb_env_.ran(); }

  // Every LevelDB file except the info log (wall-clock timestamps) and the lock.
  std::map<std::string, std::string> Files() {
    std::map<std::string, std::string> out;
    for (const auto& entry : std::filesystem::directory_iterator(dir_.Sub("db"))) {
      const std::string name = entry.path().filename().string();
      if (name == "LOG" || name == "LOG.old" || name == "LOCK") continue;
      std::ifstream in(entry.path(), std::ios::binary);
      std::stringstream bytes;
      bytes << in.rdbuf();
      out[name] = bytes.str();
    }
    return out;
  }

  void Run(int ops) {
    for (int i = 0; i < ops && !::testing::Test::HasFailure(); ++i) Step();
    if (::testing::Test::HasFailure()) return;
    DrainWatches();
    CheckStreams(/*complete=*/true);
    CheckLeases();
  }

 private:
  std::string Key() { return kKeys[rng_.Uniform(kKeys.size())]; }
  std::string Value() {
    return std::string(value_bytes_ + 1 + rng_.Uniform(3), 'v' + rng_.Uniform(4));
  }

  // (key, range_end) in every shape etcd accepts: single, [a, b), >= a, empty range.
  std::pair<std::string, std::string> Range() {
    std::string key = Key();
    switch (rng_.Uniform(4)) {
      case 0: return {key, ""};
      case 1: return {key, kAll};
      case 2: return {key, Key()};
      default: return {key, key + "\xff"};
    }
  }

  int64_t Rev() {
    const int64_t cur = model_.current_revision();
    switch (rng_.Uniform(5)) {
      case 0: return 0;
      case 1: return cur + 1 + static_cast<int64_t>(rng_.Uniform(2));  // future
      default: return rng_.UniformRange(1, cur);
    }
  }

  void Open() {
    MvccStoreOptions options;
    options.backend.path = dir_.Sub("db");
    options.backend.env = &leveldb_env_;
    options.backend.after_db_call = [this] { leveldb_env_.Drain(); };
    // Tiny memtables, so that LevelDB flushes and compacts within a short history.
    options.backend.write_buffer_size_bytes = 4096;
    options.compaction_batch_records = 1 + rng_.Uniform(8);
    options.max_txn_ops = 8;
    model_.max_txn_ops = 8;
    auto store = MvccStore::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    lessor_ = std::make_unique<FakeLessor>();
    store_->SetLeaseHooks(lessor_.get());
    WatchHubOptions hub_options;
    // Small enough that multi-event responses of watchers asking for it get fragmented.
    hub_options.max_response_bytes = 40 + static_cast<int64_t>(rng_.Uniform(200));
    hub_ = std::make_unique<WatchHub>(store_.get(), hub_options);
    streams_.clear();
    for (int i = 0; i < 2; ++i) {
      auto log = std::make_unique<StreamLog>();
      log->refuse_probability = rng_.OneIn(2) ? 0.0 : 0.3;
      StreamLog* raw = log.get();
      env::Rng* rng = &rng_;
      log->id = hub_->OpenStream([raw, rng](const std::vector<WatchResponse>& rs) {
        if (raw->refuse_probability > 0 && rng->Chance(raw->refuse_probability)) return false;
        raw->received.insert(raw->received.end(), rs.begin(), rs.end());
        return true;
      });
      streams_.push_back(std::move(log));
    }
  }

  etcdserverpb::PutRequest RandomPut() {
    etcdserverpb::PutRequest r;
    r.set_key(rng_.OneIn(40) ? "" : Key());
    r.set_prev_kv(rng_.OneIn(2));
    if (rng_.OneIn(6)) {
      r.set_ignore_value(true);
      if (rng_.OneIn(5)) r.set_value(Value());
    } else {
      r.set_value(Value());
    }
    if (rng_.OneIn(6)) {
      r.set_ignore_lease(true);
      if (rng_.OneIn(5)) r.set_lease(1);
    } else if (rng_.OneIn(4)) {
      r.set_lease(static_cast<int64_t>(rng_.Uniform(4)));  // 3 does not exist
    }
    return r;
  }

  etcdserverpb::DeleteRangeRequest RandomDelete() {
    etcdserverpb::DeleteRangeRequest r;
    auto [k, e] = Range();
    r.set_key(k);
    r.set_range_end(e);
    r.set_prev_kv(rng_.OneIn(2));
    return r;
  }

  etcdserverpb::RangeRequest RandomRange() {
    etcdserverpb::RangeRequest r;
    auto [k, e] = Range();
    r.set_key(rng_.OneIn(50) ? "" : k);
    r.set_range_end(e);
    if (rng_.OneIn(2)) r.set_revision(Rev());
    if (rng_.OneIn(3)) r.set_limit(static_cast<int64_t>(rng_.Uniform(4)));
    if (rng_.OneIn(3)) {
      r.set_sort_order(static_cast<etcdserverpb::RangeRequest::SortOrder>(rng_.Uniform(3)));
      r.set_sort_target(static_cast<etcdserverpb::RangeRequest::SortTarget>(rng_.Uniform(5)));
    }
    r.set_keys_only(rng_.OneIn(5));
    r.set_count_only(rng_.OneIn(8));
    const int64_t cur = model_.current_revision();
    if (rng_.OneIn(6)) r.set_min_mod_revision(rng_.UniformRange(1, cur));
    if (rng_.OneIn(6)) r.set_max_mod_revision(rng_.UniformRange(1, cur));
    if (rng_.OneIn(6)) r.set_min_create_revision(rng_.UniformRange(1, cur));
    if (rng_.OneIn(6)) r.set_max_create_revision(rng_.UniformRange(1, cur));
    return r;
  }

  etcdserverpb::Compare RandomCompare() {
    etcdserverpb::Compare c;
    auto [k, e] = Range();
    c.set_key(k);
    if (rng_.OneIn(3)) c.set_range_end(e);
    c.set_result(static_cast<etcdserverpb::Compare::CompareResult>(rng_.Uniform(4)));
    c.set_target(static_cast<etcdserverpb::Compare::CompareTarget>(rng_.Uniform(5)));
    const int64_t cur = model_.current_revision();
    switch (c.target()) {
      case etcdserverpb::Compare::VERSION: c.set_version(rng_.UniformRange(0, 3)); break;
      case etcdserverpb::Compare::CREATE: c.set_create_revision(rng_.UniformRange(0, cur)); break;
      case etcdserverpb::Compare::MOD: c.set_mod_revision(rng_.UniformRange(0, cur)); break;
      case etcdserverpb::Compare::VALUE: c.set_value(Value()); break;
      case etcdserverpb::Compare::LEASE: c.set_lease(static_cast<int64_t>(rng_.Uniform(3))); break;
      default: break;
    }
    return c;
  }

  void RandomOps(google::protobuf::RepeatedPtrField<etcdserverpb::RequestOp>* ops, int depth) {
    const int n = static_cast<int>(rng_.Uniform(4));
    for (int i = 0; i < n; ++i) {
      auto* op = ops->Add();
      switch (rng_.Uniform(depth > 0 ? 4 : 5)) {
        case 0: *op->mutable_request_range() = RandomRange(); break;
        case 1: *op->mutable_request_put() = RandomPut(); break;
        case 2: *op->mutable_request_delete_range() = RandomDelete(); break;
        case 3: *op->mutable_request_put() = RandomPut(); break;
        default: *op->mutable_request_txn() = RandomTxn(depth + 1); break;
      }
    }
  }

  etcdserverpb::TxnRequest RandomTxn(int depth = 0) {
    etcdserverpb::TxnRequest t;
    const int compares = static_cast<int>(rng_.Uniform(3));
    for (int i = 0; i < compares; ++i) *t.add_compare() = RandomCompare();
    RandomOps(t.mutable_success(), depth);
    RandomOps(t.mutable_failure(), depth);
    return t;
  }

  template <typename Resp>
  void Expect(const char* what, const absl::StatusOr<Resp>& got,
              const absl::StatusOr<Resp>& want) {
    ASSERT_EQ(got.status(), want.status()) << what << " seed " << seed_ << " step " << step_;
    if (got.ok()) {
      ASSERT_TRUE(Same(*got, *want)) << what << " seed " << seed_ << " step " << step_
                                     << "\ngot:  " << got->ShortDebugString()
                                     << "\nwant: " << want->ShortDebugString();
    }
  }

  // One Raft entry: consistent index first, then the request; commit now or later.
  template <typename Fn>
  void Apply(Fn&& fn) {
    ++raft_index_;
    store_->SetConsistentIndex(raft_index_, 1);
    fn();
    if (rng_.Chance(0.7)) {
      ASSERT_TRUE(store_->Commit().ok());
    }
  }

  struct Logged {
    uint64_t index;
    std::function<void()> replay;  // re-applies and checks against the recorded answer
  };

  template <typename Req, typename Resp>
  void ApplyLogged(const char* what, const Req& req,
                   absl::StatusOr<Resp> (MvccStore::*op)(const Req&),
                   const absl::StatusOr<Resp>& want) {
    Apply([&] { Expect(what, (store_.get()->*op)(req), want); });
    log_.push_back(Logged{raft_index_, [this, what, req, op, want] {
                            Expect(what, (store_.get()->*op)(req), want);
                          }});
  }

  void Step() {
    ++step_;
    const uint64_t dice = rng_.Uniform(100);
    if (dice < 25) {
      auto r = RandomPut();
      ApplyLogged("put", r, &MvccStore::Put, model_.Put(r));
    } else if (dice < 35) {
      auto r = RandomDelete();
      ApplyLogged("delete", r, &MvccStore::DeleteRange, model_.DeleteRange(r));
    } else if (dice < 55) {
      auto r = RandomTxn();
      auto want = model_.Txn(r);
      coverage.txn_errors += want.ok() ? 0 : 1;
      ApplyLogged("txn", r, &MvccStore::Txn, want);
    } else if (dice < 70) {
      auto r = RandomRange();
      Expect("range", store_->Range(r), model_.Range(r));
    } else if (dice < 72) {
      etcdserverpb::CompactionRequest r;
      const int64_t span = model_.current_revision() - model_.compact_revision();
      r.set_revision(model_.compact_revision() + rng_.UniformRange(0, span + 1));
      auto want = model_.Compact(r.revision());
      coverage.compactions += want.ok() ? 1 : 0;
      ApplyLogged("compact", r, &MvccStore::Compact, want);
    } else if (dice < 76) {
      CheckHash();
    } else if (dice < 85) {
      CreateWatch();
    } else if (dice < 88) {
      CancelWatch();
    } else if (dice < 90) {
      etcdserverpb::WatchRequest req;
      req.mutable_progress_request();
      ASSERT_TRUE(hub_->Handle(streams_[rng_.Uniform(2)]->id, req).ok());
    } else if (dice < 91) {
      hub_->ProgressTick();
    } else if (dice < 98) {
      ASSERT_TRUE(hub_->Pump(1 + rng_.Uniform(6)).ok());
    } else if (dice < 99) {
      CleanReopen();
    } else {
      CrashReopen();
    }
  }

  void CheckHash() {
    const int64_t cur = model_.current_revision();
    const int64_t rev = rng_.UniformRange(0, cur + 1);
    auto got = store_->HashKV(rev);
    if (rev > 0 && rev <= model_.compact_revision()) {
      ASSERT_EQ(got.status().message(), "etcdserver: mvcc: required revision has been compacted");
      return;
    }
    if (rev > cur) {
      ASSERT_EQ(got.status().message(), "etcdserver: mvcc: required revision is a future revision");
      return;
    }
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->compact_revision(), model_.compact_revision());
    // Within one compaction epoch the hash at a revision never changes: what replicas
    // compare to detect corruption.
    const auto key = std::make_pair(model_.compact_revision(), rev == 0 ? cur : rev);
    auto [it, fresh] = hashes_.emplace(key, got->hash());
    ASSERT_EQ(it->second, got->hash()) << "HashKV changed at rev " << key.second;
  }

  void CreateWatch() {
    StreamLog& s = *streams_[rng_.Uniform(2)];
    etcdserverpb::WatchRequest req;
    auto* c = req.mutable_create_request();
    auto [k, e] = Range();
    c->set_key(rng_.OneIn(20) ? "" : k);
    c->set_range_end(e);
    const int64_t cur = model_.current_revision();
    switch (rng_.Uniform(4)) {
      case 0: break;  // from now
      case 1: c->set_start_revision(cur + 1 + static_cast<int64_t>(rng_.Uniform(3))); break;
      default: c->set_start_revision(rng_.UniformRange(1, cur)); break;
    }
    if (rng_.OneIn(4)) c->add_filters(etcdserverpb::WatchCreateRequest::NOPUT);
    if (rng_.OneIn(4)) c->add_filters(etcdserverpb::WatchCreateRequest::NODELETE);
    c->set_prev_kv(rng_.OneIn(2));
    c->set_progress_notify(rng_.OneIn(3));
    if (rng_.OneIn(3)) {
      c->set_fragment(true);
    }
    if (rng_.OneIn(8)) c->set_watch_id(static_cast<int64_t>(rng_.Uniform(4)));
    const absl::Status st = hub_->Handle(s.id, req);
    if (st.ok()) s.creates.push_back(*c);
  }

  void CancelWatch() {
    StreamLog& s = *streams_[rng_.Uniform(2)];
    etcdserverpb::WatchRequest req;
    req.mutable_cancel_request()->set_watch_id(static_cast<int64_t>(rng_.Uniform(6)));
    ASSERT_TRUE(hub_->Handle(s.id, req).ok());
  }

  void DrainWatches() {
    for (auto& s : streams_) s->refuse_probability = 0;
    for (int i = 0; i < 10000 && hub_->HasBacklog(); ++i) {
      ASSERT_TRUE(hub_->Pump(1 + rng_.Uniform(8)).ok());
    }
    ASSERT_FALSE(hub_->HasBacklog());
  }

  void CheckLeases() {
    std::map<std::string, int64_t> want;
    for (const auto& [k, kv] : model_.At(model_.current_revision())) {
      if (kv.lease() != 0) want[k] = kv.lease();
    }
    ASSERT_EQ(lessor_->attached, want) << "seed " << seed_;
  }

  void CleanReopen() {
    ASSERT_TRUE(store_->Commit().ok());
    CheckStreams(/*complete=*/false);
    const TreeIndex before = store_->index();
    const int64_t size_before = store_->size_bytes();
    hub_.reset();
    store_.reset();
    Open();
    ASSERT_EQ(store_->current_revision(), model_.current_revision()) << "seed " << seed_;
    ASSERT_EQ(store_->compact_revision(), model_.compact_revision());
    ASSERT_EQ(store_->consistent_index(), raft_index_);
    ASSERT_EQ(store_->size_bytes(), size_before);
    ASSERT_TRUE(store_->index() == before)
        << "index rebuilt differently, seed " << seed_ << "\nbefore:\n"
        << before.DebugString() << "after:\n" << store_->index().DebugString();
    CheckLeases();
  }

  void CrashReopen() {
    CheckStreams(/*complete=*/false);
    hub_.reset();
    store_.reset();  // staged writes are lost, as in a crash
    Open();
    const uint64_t applied = store_->consistent_index();
    ASSERT_LE(applied, raft_index_);
    for (const Logged& entry : log_) {
      if (entry.index <= applied) continue;
      store_->SetConsistentIndex(entry.index, 1);
      entry.replay();
      ++coverage.replayed_entries;
    }
    ASSERT_TRUE(store_->Commit().ok());
    ASSERT_EQ(store_->current_revision(), model_.current_revision()) << "seed " << seed_;
    ASSERT_EQ(store_->compact_revision(), model_.compact_revision());
    CheckLeases();
  }

  // ---- Watch checking.

  struct WatchState {
    etcdserverpb::WatchCreateRequest req;
    int64_t start = 0;
    int64_t bookmark = 0;  // every later event must be newer than this
    std::vector<mvccpb::Event> delivered;
    std::vector<mvccpb::Event> fragments;  // of a response still being reassembled
    bool compacted = false;
    bool ended = false;
  };

  bool Wants(const WatchState& w, const mvccpb::Event& ev) const {
    const std::string key = w.req.key().empty() ? kAll : w.req.key();
    if (!InRange(ev.kv().key(), key, w.req.range_end())) return false;
    for (int f : w.req.filters()) {
      if (f == etcdserverpb::WatchCreateRequest::NOPUT && ev.type() == mvccpb::Event::PUT) {
        return false;
      }
      if (f == etcdserverpb::WatchCreateRequest::NODELETE &&
          ev.type() == mvccpb::Event::DELETE) {
        return false;
      }
    }
    return true;
  }

  std::vector<mvccpb::Event> Expected(const WatchState& w) const {
    std::vector<mvccpb::Event> out;
    for (int64_t rev = std::max<int64_t>(w.start, 2); rev <= model_.current_revision(); ++rev) {
      for (const auto& ev : model_.EventsAt(rev)) {
        if (Wants(w, ev)) out.push_back(ev);
      }
    }
    return out;
  }

  void CheckBatch(WatchState& w, const WatchResponse& resp, std::vector<mvccpb::Event> batch) {
    int64_t last = 0;
    std::map<int64_t, int> per_rev;
    for (auto& ev : batch) {
      const int64_t rev = ev.kv().mod_revision();
      ASSERT_GT(rev, w.bookmark) << "event at or before a bookmark/duplicate, seed " << seed_;
      ASSERT_GE(rev, last) << "events out of order, seed " << seed_;
      last = rev;
      ++per_rev[rev];
      CheckPrevKv(w, ev);
      coverage.prev_kvs += ev.has_prev_kv() ? 1 : 0;
      ++coverage.events_delivered;
      ev.clear_prev_kv();
      w.delivered.push_back(std::move(ev));
    }
    for (const auto& [rev, n] : per_rev) {
      int want = 0;
      for (const auto& ev : model_.EventsAt(rev)) want += Wants(w, ev) ? 1 : 0;
      ASSERT_EQ(n, want) << "revision " << rev << " split across responses, seed " << seed_;
    }
    ASSERT_GE(resp.header().revision(), last);
    w.bookmark = resp.header().revision();
  }

  void CheckPrevKv(const WatchState& w, const mvccpb::Event& ev) {
    const int64_t rev = ev.kv().mod_revision();
    const auto& before = model_.At(rev - 1);
    auto it = before.find(ev.kv().key());
    if (ev.has_prev_kv()) {
      ASSERT_TRUE(w.req.prev_kv());
      ASSERT_NE(it, before.end());
      ASSERT_TRUE(Same(ev.prev_kv(), it->second)) << "seed " << seed_;
      return;
    }
    const bool create = ev.type() == mvccpb::Event::PUT &&
                        ev.kv().create_revision() == ev.kv().mod_revision();
    if (w.req.prev_kv() && !create && it != before.end()) {
      ASSERT_LT(rev - 1, model_.compact_revision()) << "prev_kv missing, seed " << seed_;
    }
  }

  // Replays one stream's responses against its requests. `complete`: every watcher still
  // open must have received everything up to the current revision.
  void CheckStream(const StreamLog& s, bool complete) {
    std::map<int64_t, WatchState> open;
    std::vector<WatchState> closed;
    size_t next_create = 0;
    for (const WatchResponse& r : s.received) {
      if (r.created()) {
        ASSERT_LT(next_create, s.creates.size());
        const auto& req = s.creates[next_create++];
        if (r.canceled()) {
          ASSERT_EQ(r.watch_id(), -1);
          ASSERT_FALSE(r.cancel_reason().empty());
          continue;
        }
        ASSERT_EQ(open.count(r.watch_id()), 0u);
        WatchState w;
        w.req = req;
        w.start = req.start_revision() != 0 ? req.start_revision() : r.header().revision() + 1;
        w.bookmark = w.start - 1;
        open[r.watch_id()] = std::move(w);
        continue;
      }
      if (r.watch_id() == -1) {  // stream-wide progress: a bookmark for every watcher
        ++coverage.bookmarks;
        for (auto& [id, w] : open) w.bookmark = std::max(w.bookmark, r.header().revision());
        continue;
      }
      auto it = open.find(r.watch_id());
      ASSERT_NE(it, open.end()) << "response for unknown watch " << r.watch_id();
      WatchState& w = it->second;
      if (r.canceled()) {
        if (r.compact_revision() != 0) {
          w.compacted = true;
          ++coverage.compacted_cancels;
          for (const auto& ev : w.delivered) {
            ASSERT_LT(ev.kv().mod_revision(), r.compact_revision());
          }
        }
        closed.push_back(std::move(w));
        open.erase(it);
        continue;
      }
      for (const auto& ev : r.events()) w.fragments.push_back(ev);
      if (r.fragment()) {
        ++coverage.fragmented_responses;
        continue;
      }
      if (r.events_size() == 0) ++coverage.bookmarks;
      std::vector<mvccpb::Event> batch;
      batch.swap(w.fragments);
      CheckBatch(w, r, std::move(batch));
      if (::testing::Test::HasFailure()) return;
    }
    for (auto& [id, w] : open) {
      ASSERT_TRUE(w.fragments.empty() || !complete);
      CheckDelivered(w, complete);
    }
    for (auto& w : closed) CheckDelivered(w, false);
  }

  void CheckDelivered(const WatchState& w, bool complete) {
    const auto want = Expected(w);
    ASSERT_LE(w.delivered.size(), want.size()) << "seed " << seed_;
    if (complete) {
      ASSERT_EQ(w.delivered.size(), want.size()) << "events lost, seed " << seed_;
    }
    for (size_t i = 0; i < w.delivered.size(); ++i) {
      ASSERT_TRUE(Same(w.delivered[i], want[i]))
          << "seed " << seed_ << " event " << i << "\ngot:  " << w.delivered[i].ShortDebugString()
          << "\nwant: " << want[i].ShortDebugString();
    }
  }

  void CheckStreams(bool complete) {
    for (const auto& s : streams_) {
      CheckStream(*s, complete);
      if (::testing::Test::HasFailure()) return;
    }
  }

  testing::QueuedEnv leveldb_env_;  // outlives the store (declared before it)
  env::Rng rng_;
  const uint64_t seed_;
  const size_t value_bytes_;  // added to every value's random length
  int step_ = 0;
  testing::TempDir dir_;
  Model model_;
  std::unique_ptr<MvccStore> store_;
  std::unique_ptr<FakeLessor> lessor_;
  std::unique_ptr<WatchHub> hub_;
  std::vector<std::unique_ptr<StreamLog>> streams_;
  uint64_t raft_index_ = 0;
  std::vector<Logged> log_;
  std::map<std::pair<int64_t, int64_t>, uint32_t> hashes_;
};

// The simulator's promise: one seed, one history, the same bytes on disk.
// Long enough (and with values big enough) that LevelDB flushes memtables and compacts.
TEST(MvccModelTest, SameSeedWritesIdenticalFiles) {
  int64_t background_jobs = 0;
  for (uint64_t seed : {7, 8, 9}) {
    Sequence a(seed, /*value_bytes=*/300), b(seed, /*value_bytes=*/300);
    a.Run(1500);
    b.Run(1500);
    ASSERT_FALSE(::testing::Test::HasFailure());
    background_jobs += a.background_jobs();
    const auto files = a.Files();
    ASSERT_FALSE(files.empty());
    const auto other = b.Files();
    for (const auto& [name, bytes] : files) {
      auto it = other.find(name);
      EXPECT_TRUE(it != other.end() && it->second == bytes) << "seed " << seed << " " << name;
    }
    EXPECT_EQ(files.size(), other.size()) << "seed " << seed;
  }
  EXPECT_GT(background_jobs, 0) << "LevelDB never compacted: the test proves little";
}

TEST(MvccModelTest, RandomSequencesAgreeWithModel) {
  const int64_t seeds = EnvInt("KV_MODEL_SEEDS", 2000);
  const int64_t first = EnvInt("KV_MODEL_FIRST_SEED", 1);
  for (int64_t seed = first; seed < first + seeds; ++seed) {
    Sequence seq(static_cast<uint64_t>(seed));
    seq.Run(120);
    ASSERT_FALSE(::testing::Test::HasFailure()) << "replay: KV_MODEL_FIRST_SEED=" << seed
                                                << " KV_MODEL_SEEDS=1";
  }
  std::printf("coverage: events=%lld fragmented=%lld compacted_cancels=%lld bookmarks=%lld "
              "replayed=%lld prev_kvs=%lld txn_errors=%lld compactions=%lld\n",
              static_cast<long long>(coverage.events_delivered),
              static_cast<long long>(coverage.fragmented_responses),
              static_cast<long long>(coverage.compacted_cancels),
              static_cast<long long>(coverage.bookmarks),
              static_cast<long long>(coverage.replayed_entries),
              static_cast<long long>(coverage.prev_kvs),
              static_cast<long long>(coverage.txn_errors),
              static_cast<long long>(coverage.compactions));
  if (seeds < 200) return;  // a replay of a few seeds need not reach every path
  EXPECT_GT(coverage.events_delivered, 0);
  EXPECT_GT(coverage.fragmented_responses, 0);
  EXPECT_GT(coverage.compacted_cancels, 0);
  EXPECT_GT(coverage.bookmarks, 0);
  EXPECT_GT(coverage.replayed_entries, 0);
  EXPECT_GT(coverage.prev_kvs, 0);
  EXPECT_GT(coverage.txn_errors, 0);
  EXPECT_GT(coverage.compactions, 0);
}

}  // namespace
}  // namespace keel::kv
