// WAL throughput with group commit on the REAL file system (env/posix_fs.h): each
// iteration is one Save of `batch` entries = one write + one fdatasync, issued on the
// loop thread and waited for, as a Raft driver does per Ready. entries_per_s is the
// figure to quote; fsyncs_per_s shows the device's sync rate.
//
// Runs in $KEEL_BENCH_DIR (default /tmp); put it on the disk you care about, and note
// that tmpfs makes fsync free. Example:
//   bazel run -c opt //storage:wal_benchmark -- --benchmark_min_time=2
#include <cstdlib>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "storage/testing/posix_harness.h"
#include "storage/wal.h"

namespace keel::storage {
namespace {

constexpr size_t kEntryPayloadBytes = 128;

std::string BenchRoot() {
  const char* dir = std::getenv("KEEL_BENCH_DIR");
  return dir != nullptr ? dir : "/tmp";
}

void BM_WalGroupCommit(benchmark::State& state) {
  const uint64_t batch = static_cast<uint64_t>(state.range(0));
  absl::StatusOr<std::unique_ptr<testing::PosixHarness>> h =
      testing::PosixHarness::Create(BenchRoot(), "keel_wal_benchmark");
  if (!h.ok()) {
    state.SkipWithError(std::string(h.status().message()).c_str());
    return;
  }
  absl::StatusOr<std::unique_ptr<Wal>> wal = Wal::Create((*h)->fs(), (*h)->dir(), "bench");
  if (!wal.ok()) {
    state.SkipWithError(std::string(wal.status().message()).c_str());
    return;
  }
  const std::string payload(kEntryPayloadBytes, 'b');
  uint64_t next_index = 1;
  std::vector<raftpb::Entry> entries(batch);
  raftpb::HardState hs;
  hs.set_term(1);
  hs.set_vote(1);
  for (auto _ : state) {
    for (uint64_t i = 0; i < batch; ++i) {
      entries[i].set_index(next_index + i);
      entries[i].set_term(1);
      entries[i].set_data(payload);
    }
    hs.set_commit(next_index - 1);
    next_index += batch;
    absl::Status s = (*h)->SaveAndWait(wal->get(), hs, entries);
    if (!s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      break;
    }
  }
  wal->reset();
  state.counters["entries_per_s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * batch), benchmark::Counter::kIsRate);
  state.counters["fsyncs_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

BENCHMARK(BM_WalGroupCommit)
    ->ArgName("batch")
    ->Arg(1)
    ->Arg(10)
    ->Arg(100)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace keel::storage
