// Power loss at every point of a WAL workload, in two ways:
//  * between simulated events: the seeded Raft-shaped workload (testing/wal_workload.h:
//    appends, tail overwrites, HardState, snapshot markers, segment removal) runs with
//    three operations in flight and small segments; for each k we rerun it from scratch,
//    run exactly k events, and crash the disk (unsynced bytes lost, last write possibly
//    torn) and the process;
//  * between file-system calls (testing/power_cut_fs.h): the power goes just before the
//    k-th mutating call, which reaches the steps of Create and of a segment cut (temp
//    write, fsync, rename, directory fsync) that take no simulated time.
// Either way recovery must succeed (a crash alone is never corruption), give a state
// that is a record prefix at least as long as everything acknowledged and no longer than
// everything issued, and accept new writes. KEEL_STORAGE_CRASH_SEEDS sets the number of
// workload seeds (default 20 per test).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "storage/testing/power_cut_fs.h"
#include "storage/testing/sim_fs.h"
#include "storage/testing/wal_workload.h"
#include "storage/wal.h"

namespace keel::storage {
namespace {

using testing::BuildHistory;
using testing::History;
using testing::MakeWorkload;
using testing::PowerCutFs;
using testing::RecoveryStats;
using testing::SimFs;
using testing::WorkloadDriver;
using testing::WorkloadOp;

constexpr char kDir[] = "/data/wal";
constexpr int kMaxInflight = 3;
constexpr int kOpsPerWorkload = 40;

int Seeds() {
  const char* env = std::getenv("KEEL_STORAGE_CRASH_SEEDS");
  return env != nullptr ? std::max(1, std::atoi(env)) : 20;
}

WalOptions SmallSegments() {
  WalOptions options;
  options.segment_size_bytes = 2048;
  return options;
}

void MakeParentDir(SimFs* sim) {
  ASSERT_TRUE(sim->fs()->CreateDir("/data").ok());
  ASSERT_TRUE(sim->fs()->SyncDir("/").ok());
}

void PrintStats(const char* what, uint64_t points, uint64_t torn, const RecoveryStats& s) {
  std::printf(
      "%s: crash points %llu, torn writes %llu, truncated tails %llu, "
      "lost unacknowledged %llu, replays from a marker %llu (from an installed one %llu)\n",
      what, static_cast<unsigned long long>(points), static_cast<unsigned long long>(torn),
      static_cast<unsigned long long>(s.truncated_tails),
      static_cast<unsigned long long>(s.lost_unacked),
      static_cast<unsigned long long>(s.from_marker),
      static_cast<unsigned long long>(s.from_installed));
}

// Runs the workload for `crash_after_events` simulated events (to the end if negative),
// crashes and checks recovery. Returns the number of events the run took.
uint64_t RunUntilEvent(uint64_t seed, const std::vector<WorkloadOp>& workload,
                       const History& history, int64_t crash_after_events, uint64_t* torn_writes,
                       RecoveryStats* stats) {
  SimFs sim(seed);
  MakeParentDir(&sim);
  absl::StatusOr<std::unique_ptr<Wal>> wal =
      Wal::Create(sim.fs(), kDir, "cluster-7/node-2", SmallSegments());
  EXPECT_TRUE(wal.ok()) << wal.status();
  if (!wal.ok()) return 0;
  WorkloadDriver driver(wal->get(), &workload, kMaxInflight,
                        /*remove_segments_on_marker=*/seed % 2 == 0);
  driver.Pump();
  uint64_t events = 0;
  while ((crash_after_events < 0 || events < static_cast<uint64_t>(crash_after_events)) &&
         sim.world().Step()) {
    ++events;
  }
  if (crash_after_events < 0) {
    EXPECT_TRUE(driver.finished());
    return events;
  }
  const uint64_t torn_before = sim.disk().counters().torn_writes;
  sim.Crash();
  driver.Stop();
  wal->reset();
  *torn_writes += sim.disk().counters().torn_writes - torn_before;
  CheckRecovery(&sim, kDir, SmallSegments(), history, driver.acked(), driver.issued(),
                absl::StrCat("seed ", seed, " crash after event ", crash_after_events), stats);
  return events;
}

TEST(WalCrashTest, CrashBetweenAnyTwoEventsRecoversAnAcknowledgedPrefix) {
  RecoveryStats stats;
  uint64_t points = 0;
  uint64_t torn = 0;
  for (int s = 0; s < Seeds(); ++s) {
    const uint64_t seed = 1000 + s;
    const std::vector<WorkloadOp> workload = MakeWorkload(seed, kOpsPerWorkload);
    const History history = BuildHistory(workload);
    const uint64_t total_events = RunUntilEvent(seed, workload, history, -1, &torn, &stats);
    ASSERT_GT(total_events, static_cast<uint64_t>(kOpsPerWorkload));
    for (uint64_t k = 0; k <= total_events; ++k) {
      ++points;
      RunUntilEvent(seed, workload, history, static_cast<int64_t>(k), &torn, &stats);
      if (::testing::Test::HasFailure()) return;
    }
  }
  // The sweep must have exercised the paths it is about.
  EXPECT_GT(torn, 0u);
  EXPECT_GT(stats.truncated_tails, 0u);
  EXPECT_GT(stats.lost_unacked, 0u);
  EXPECT_GT(stats.from_marker, 0u);
  EXPECT_GT(stats.from_installed, 0u);
  PrintStats("events", points, torn, stats);
}

// Runs the workload with power cut before mutating call `cut_at` (never if negative) and
// checks recovery. Returns the number of mutating calls a full run makes.
int64_t RunUntilCall(uint64_t seed, const std::vector<WorkloadOp>& workload, const History& history,
                     int64_t cut_at, RecoveryStats* stats) {
  SimFs sim(seed);
  MakeParentDir(&sim);
  PowerCutFs fs(sim.fs());
  WorkloadDriver* driver_for_cut = nullptr;
  fs.Arm(cut_at, [&sim, &driver_for_cut] {
    sim.disk().Crash();
    sim.loop().Crash();
    if (driver_for_cut != nullptr) driver_for_cut->Stop();
  });
  absl::StatusOr<std::unique_ptr<Wal>> wal =
      Wal::Create(&fs, kDir, "cluster-7/node-2", SmallSegments());
  if (!wal.ok()) {
    // Power went during Create, which never reported success: any leftovers must
    // either be ignored (no published segment) or form a valid empty log.
    EXPECT_TRUE(fs.cut()) << wal.status();
    sim.loop().Restart();
    absl::StatusOr<std::unique_ptr<Wal>> opened = Wal::Open(sim.fs(), kDir, {}, SmallSegments());
    if (opened.ok()) {
      absl::StatusOr<WalContents> contents = (*opened)->ReadAll();
      EXPECT_TRUE(contents.ok()) << contents.status();
    } else {
      EXPECT_EQ(opened.status().code(), absl::StatusCode::kNotFound) << opened.status();
    }
    return 0;
  }
  WorkloadDriver driver(wal->get(), &workload, kMaxInflight,
                        /*remove_segments_on_marker=*/seed % 2 == 0);
  driver_for_cut = &driver;
  driver.Pump();
  sim.RunUntilIdle();
  if (cut_at < 0) {
    EXPECT_TRUE(driver.finished());
    return fs.operations();
  }
  if (!fs.cut()) return fs.operations();  // budget beyond this run's calls
  sim.loop().Restart();
  wal->reset();
  CheckRecovery(&sim, kDir, SmallSegments(), history, driver.acked(), driver.issued(),
                absl::StrCat("seed ", seed, " power cut before call ", cut_at), stats);
  return fs.operations();
}

TEST(WalCrashTest, PowerCutBeforeAnyFileSystemCallRecoversAnAcknowledgedPrefix) {
  RecoveryStats stats;
  uint64_t points = 0;
  for (int s = 0; s < Seeds(); ++s) {
    const uint64_t seed = 5000 + s;
    const std::vector<WorkloadOp> workload = MakeWorkload(seed, kOpsPerWorkload);
    const History history = BuildHistory(workload);
    const int64_t total_calls = RunUntilCall(seed, workload, history, -1, &stats);
    ASSERT_GT(total_calls, 2 * kOpsPerWorkload);
    for (int64_t k = 0; k <= total_calls; ++k) {
      ++points;
      RunUntilCall(seed, workload, history, k, &stats);
      if (::testing::Test::HasFailure()) return;
    }
  }
  EXPECT_GT(stats.recoveries, 0u);
  EXPECT_GT(stats.lost_unacked, 0u);
  EXPECT_GT(stats.from_installed, 0u);
  PrintStats("calls", points, 0, stats);
}

// Misdirected writes (the bytes land elsewhere, the intended range reads zeros) corrupt
// what is on the medium. Replay must either refuse (kDataLoss) or return a state that is
// a record prefix of what was issued: never a state that was not written. (A misdirected
// final write leaves a zero-filled tail, which replay refuses too: format.h.)
TEST(WalCrashTest, MisdirectedWritesAreRefusedOrTruncatedNeverServed) {
  int refused = 0;
  int served = 0;
  for (int s = 0; s < 4 * Seeds(); ++s) {
    const uint64_t seed = 9000 + s;
    const std::vector<WorkloadOp> workload = MakeWorkload(seed, kOpsPerWorkload);
    const History history = BuildHistory(workload);
    sim::DiskOptions options = testing::QuietDisk();
    options.faults.misdirected_write_probability = 0.03;
    SimFs sim(seed, options);
    MakeParentDir(&sim);
    absl::StatusOr<std::unique_ptr<Wal>> wal = Wal::Create(sim.fs(), kDir, "m", SmallSegments());
    ASSERT_TRUE(wal.ok()) << wal.status();
    WorkloadDriver driver(wal->get(), &workload, kMaxInflight,
                          /*remove_segments_on_marker=*/false);
    driver.Pump();
    sim.RunUntilIdle();
    ASSERT_TRUE(driver.finished());
    sim.Crash();
    wal->reset();
    // Open at the newest marker, as a server does: an installed one leaves no way back
    // to an older snapshot (format.h).
    absl::StatusOr<std::vector<WalSnapshot>> markers = Wal::ReadSnapshotMarkers(sim.fs(), kDir);
    const WalSnapshot from = markers.ok() && !markers->empty() ? markers->back() : WalSnapshot{};
    absl::StatusOr<std::unique_ptr<Wal>> opened =
        markers.ok() ? Wal::Open(sim.fs(), kDir, from, SmallSegments())
                     : absl::StatusOr<std::unique_ptr<Wal>>(markers.status());
    absl::StatusOr<WalContents> contents =
        opened.ok() ? (*opened)->ReadAll() : absl::StatusOr<WalContents>(opened.status());
    if (!contents.ok()) {
      EXPECT_EQ(contents.status().code(), absl::StatusCode::kDataLoss) << contents.status();
      ++refused;
      continue;
    }
    ++served;
    bool is_prefix = false;
    for (size_t r = 0; r <= history.RecordsAfter(workload.size()) && !is_prefix; ++r) {
      is_prefix = history.states[r].Matches(*contents, from.index);
    }
    EXPECT_TRUE(is_prefix) << "seed " << seed << ": replay served a state never written";
  }
  EXPECT_GT(refused, 0);
  EXPECT_GT(served, 0);
  std::printf("misdirected writes: %d replays refused, %d served a written prefix\n", refused,
              served);
}

}  // namespace
}  // namespace keel::storage
