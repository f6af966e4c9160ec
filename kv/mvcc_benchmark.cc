// Throughput of the store on a real LevelDB in a temporary directory (unsynced writes, as
// the node runs them: the WAL provides durability). Run with:
//   bazel run -c opt //kv:mvcc_benchmark
#include <memory>
#include <string>

#include "benchmark/benchmark.h"
#include "kv/mvcc_store.h"
#include "kv/testing/requests.h"
#include "kv/testing/temp_dir.h"
#include "kv/watch_hub.h"

namespace keel::kv {
namespace {

using namespace keel::kv::testing;  // NOLINT: request builders

constexpr int kKeySpace = 10000;
const std::string kValue(64, 'v');

std::string Key(int64_t i) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "key/%08lld", static_cast<long long>(i % kKeySpace));
  return buf;
}

std::unique_ptr<MvccStore> OpenFilled(const TempDir& dir, bool fill) {
  MvccStoreOptions o;
  o.backend.path = dir.Sub("db");
  auto store = std::move(*MvccStore::Open(o));
  if (fill) {
    for (int i = 0; i < kKeySpace; ++i) store->Put(PutReq(Key(i), kValue)).IgnoreError();
    if (!store->Commit().ok()) std::abort();
  }
  return store;
}

// One Put per Raft entry, committed in groups of state.range(0) entries.
void BM_Put(benchmark::State& state) {
  TempDir dir(/*on_disk=*/true);
  auto store = OpenFilled(dir, false);
  const int64_t group = state.range(0);
  int64_t i = 0;
  for (auto _ : state) {
    store->SetConsistentIndex(static_cast<uint64_t>(i + 1), 1);
    auto r = store->Put(PutReq(Key(i * 7919), kValue));
    benchmark::DoNotOptimize(r);
    if (++i % group == 0 && !store->Commit().ok()) state.SkipWithError("commit failed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Put)->Arg(1)->Arg(64);

void BM_RangeOneKey(benchmark::State& state) {
  TempDir dir(/*on_disk=*/true);
  auto store = OpenFilled(dir, true);
  int64_t i = 0;
  for (auto _ : state) {
    auto r = store->Range(RangeReq(Key(i++ * 7919)));
    if (!r.ok() || r->kvs_size() != 1) state.SkipWithError("range failed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RangeOneKey);

// A prefix range returning state.range(0) keys (etcdctl get --prefix --limit).
void BM_RangeLimit(benchmark::State& state) {
  TempDir dir(/*on_disk=*/true);
  auto store = OpenFilled(dir, true);
  auto req = RangeReq("key/", "key0");
  req.set_limit(state.range(0));
  for (auto _ : state) {
    auto r = store->Range(req);
    if (!r.ok() || r->kvs_size() != state.range(0)) state.SkipWithError("range failed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RangeLimit)->Arg(10)->Arg(100);

// A compare-and-swap txn: compare one key's version, put two keys, read one back.
void BM_Txn(benchmark::State& state) {
  TempDir dir(/*on_disk=*/true);
  auto store = OpenFilled(dir, true);
  int64_t i = 0;
  for (auto _ : state) {
    etcdserverpb::TxnRequest t;
    auto* c = t.add_compare();
    c->set_key(Key(i));
    c->set_target(etcdserverpb::Compare::VERSION);
    c->set_result(etcdserverpb::Compare::GREATER);
    c->set_version(0);
    *t.add_success() = PutOp(Key(i), kValue);
    *t.add_success() = PutOp(Key(i + 1), kValue);
    *t.add_success() = RangeOp(Key(i + 2));
    store->SetConsistentIndex(static_cast<uint64_t>(i + 1), 1);
    auto r = store->Txn(t);
    if (!r.ok() || !r->succeeded()) state.SkipWithError("txn failed");
    if (!store->Commit().ok()) state.SkipWithError("commit failed");
    i += 3;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Txn);

// Puts while state.range(0) synced watchers (one per key, on one stream) listen: the cost
// a write pays to fan out to watchers.
void BM_PutWithWatchers(benchmark::State& state) {
  TempDir dir(/*on_disk=*/true);
  auto store = OpenFilled(dir, false);
  WatchHub hub(store.get());
  int64_t delivered = 0;
  const StreamId stream = hub.OpenStream([&](const std::vector<etcdserverpb::WatchResponse>& rs) {
    delivered += static_cast<int64_t>(rs.size());
    return true;
  });
  for (int64_t w = 0; w < state.range(0); ++w) {
    etcdserverpb::WatchRequest req;
    req.mutable_create_request()->set_key(Key(w));
    if (!hub.Handle(stream, req).ok()) state.SkipWithError("watch failed");
  }
  int64_t i = 0;
  for (auto _ : state) {
    auto r = store->Put(PutReq(Key(i++ * 7919), kValue));
    benchmark::DoNotOptimize(r);
    if (i % 64 == 0 && !store->Commit().ok()) state.SkipWithError("commit failed");
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["delivered"] = static_cast<double>(delivered);
}
BENCHMARK(BM_PutWithWatchers)->Arg(10)->Arg(1000);

}  // namespace
}  // namespace keel::kv
