// Benchmarks of the real Env: loop hand-off, fsync, async WAL-style appends, peer
// transport throughput and round trip. Run with
//   bazel run -c opt //env:env_benchmark -- --benchmark_min_time=1
// Results depend heavily on the disk (fsync) and kernel; see env/README.md for figures.
#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "benchmark/benchmark.h"
#include "env/posix_fs.h"
#include "env/posix_loop.h"
#include "env/tcp_transport.h"

namespace keel::env {
namespace {

std::string BenchDir() {
  const char* dir = std::getenv("KEEL_BENCH_DIR");
  return dir != nullptr ? dir : "/tmp";
}

// Post from this thread, run on the loop, wake this thread: the gRPC-thread hand-off.
void BM_LoopPostRoundTrip(benchmark::State& state) {
  auto loop = *PosixLoop::Create();
  for (auto _ : state) {
    absl::Notification done;
    loop->Post([&] { done.Notify(); });
    done.WaitForNotification();
  }
}
BENCHMARK(BM_LoopPostRoundTrip);

// Synchronous Append(4 KiB) + Sync: the cost of one durable WAL write.
void BM_AppendSync4KiB(benchmark::State& state) {
  auto loop = *PosixLoop::Create();
  PosixFileSystem::Options options;
  options.loop = loop.get();
  auto fs = *PosixFileSystem::Create(options);
  auto file = *fs->NewWritableFile(BenchDir() + "/keel_bench_sync");
  const std::string block(4096, 'x');
  for (auto _ : state) {
    if (!file->Append(block).ok() || !file->Sync().ok()) state.SkipWithError("I/O failed");
  }
  state.SetBytesProcessed(state.iterations() * block.size());
  file.reset();
  fs->RemoveFile(BenchDir() + "/keel_bench_sync").IgnoreError();
}
BENCHMARK(BM_AppendSync4KiB)->UseRealTime();

// Group commit through the async path: range(0) AppendAsync of 1 KiB, then one SyncAsync;
// the iteration ends when the sync's completion runs on the loop.
void BM_AsyncGroupCommit(benchmark::State& state) {
  auto loop = *PosixLoop::Create();
  PosixFileSystem::Options options;
  options.loop = loop.get();
  auto fs = *PosixFileSystem::Create(options);
  auto file = *fs->NewWritableFile(BenchDir() + "/keel_bench_async");
  const std::string record(1024, 'r');
  const int64_t batch = state.range(0);
  for (auto _ : state) {
    absl::Notification synced;
    loop->Post([&] {
      for (int64_t i = 0; i < batch; ++i) file->AppendAsync(record, [](absl::Status) {});
      file->SyncAsync([&](absl::Status) { synced.Notify(); });
    });
    synced.WaitForNotification();
  }
  state.SetItemsProcessed(state.iterations() * batch);
  state.SetBytesProcessed(state.iterations() * batch * record.size());
  file.reset();
  fs.reset();
  std::remove((BenchDir() + "/keel_bench_async").c_str());
}
BENCHMARK(BM_AsyncGroupCommit)->Arg(1)->Arg(16)->Arg(256)->UseRealTime();

class CountingHandler final : public TransportHandler {
 public:
  void OnMessage(uint64_t from, std::string payload) override {
    absl::MutexLock lock(&mu_);
    ++received_;
  }
  void WaitFor(int64_t n) {
    absl::MutexLock lock(&mu_);
    auto reached = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return received_ >= n; };
    mu_.Await(absl::Condition(&reached));
  }

 private:
  absl::Mutex mu_;
  int64_t received_ = 0;
};

// One-way throughput of range(0)-byte messages over one loopback connection.
void BM_TransportThroughput(benchmark::State& state) {
  auto loop = *PosixLoop::Create();
  CountingHandler handler_a, handler_b;
  TcpTransport::Options options;
  options.self_id = 1;
  auto a = *TcpTransport::Create(loop.get(), options);
  options.self_id = 2;
  auto b = *TcpTransport::Create(loop.get(), options);
  a->SetHandler(&handler_a);
  b->SetHandler(&handler_b);
  a->AddPeer(2, b->listen_address());
  const std::string payload(static_cast<size_t>(state.range(0)), 'p');
  // Stay well inside the 64 MiB per-peer queue: a dropped message would never arrive.
  const int64_t kPerIteration =
      std::max<int64_t>(1, std::min<int64_t>(1000, (int64_t{16} << 20) / state.range(0)));
  int64_t sent = 0;
  for (auto _ : state) {
    loop->Post([&] {
      for (int64_t i = 0; i < kPerIteration; ++i) a->Send(2, payload);
    });
    sent += kPerIteration;
    handler_b.WaitFor(sent);
  }
  state.SetItemsProcessed(sent);
  state.SetBytesProcessed(sent * static_cast<int64_t>(payload.size()));
  const TcpTransport::Stats stats = a->stats();
  if (stats.dropped != 0) state.SkipWithError("messages were dropped");
  state.counters["frames_per_write"] =
      stats.writes == 0 ? 0.0 : static_cast<double>(stats.frames_sent) / stats.writes;
  loop->Stop();
}
BENCHMARK(BM_TransportThroughput)->Arg(100)->Arg(4096)->Arg(1 << 20)->UseRealTime();

// Ping-pong of a 100-byte message between two transports.
class EchoHandler final : public TransportHandler {
 public:
  TcpTransport* transport = nullptr;
  void OnMessage(uint64_t from, std::string payload) override {
    transport->Send(from, std::move(payload));
  }
};
class NotifyHandler final : public TransportHandler {
 public:
  absl::Notification* done = nullptr;
  void OnMessage(uint64_t from, std::string payload) override { done->Notify(); }
};

void BM_TransportRoundTrip(benchmark::State& state) {
  auto loop = *PosixLoop::Create();
  NotifyHandler handler_a;
  EchoHandler handler_b;
  TcpTransport::Options options;
  options.self_id = 1;
  auto a = *TcpTransport::Create(loop.get(), options);
  options.self_id = 2;
  auto b = *TcpTransport::Create(loop.get(), options);
  handler_b.transport = b.get();
  a->SetHandler(&handler_a);
  b->SetHandler(&handler_b);
  a->AddPeer(2, b->listen_address());
  b->AddPeer(1, a->listen_address());
  const std::string payload(100, 'q');
  for (auto _ : state) {
    absl::Notification done;
    handler_a.done = &done;
    loop->Post([&] { a->Send(2, payload); });
    done.WaitForNotification();
  }
  loop->Stop();
}
BENCHMARK(BM_TransportRoundTrip)->UseRealTime();

}  // namespace
}  // namespace keel::env
