#include "sim/cluster/log_reporter.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "raft/raftpb/raft.pb.h"
#include "raft/storage.h"
#include "sim/checkers/raft_safety.h"

namespace keel::sim {
namespace {

using checkers::RaftObservation;
using checkers::RaftRole;
using checkers::RaftSafetyChecker;

std::vector<raftpb::Entry> Entries(uint64_t from, uint64_t to, uint64_t term) {
  std::vector<raftpb::Entry> out;
  for (uint64_t i = from; i <= to; ++i) {
    raftpb::Entry e;
    e.set_index(i);
    e.set_term(term);
    e.set_data("put " + std::to_string(i));
    out.push_back(e);
  }
  return out;
}

raftpb::Snapshot SnapshotAt(uint64_t index, uint64_t term) {
  raftpb::Snapshot s;
  s.mutable_metadata()->set_index(index);
  s.mutable_metadata()->set_term(term);
  return s;
}

// One observation of a follower of term 1 whose log is `storage`.
std::string Observe(RaftSafetyChecker& checker, LogReporter& reporter,
                    const raft::MemoryStorage& storage, uint64_t node = 1) {
  RaftObservation o;
  o.node = node;
  o.term = 1;
  o.role = RaftRole::kFollower;
  absl::Status reported = reporter.Report(storage, o);
  if (!reported.ok()) return reported.ToString();
  std::optional<checkers::Violation> v = checker.Observe(o);
  return v ? v->property + ": " + v->message : "ok";
}

// Seed 1184: a member compacted its log to 29 (snapshot at 49, 20 entries kept), crashed
// before the snapshot's WAL marker was durable, and restarted from its previous snapshot at
// 27 with entries 28..49 from the WAL: its log now starts earlier than before the crash.
// The entries (27, 29] were never reported for this log, so everything after the recovered
// snapshot must be reported again (the checker restarts its log at an unknown or older
// snapshot). Before the fix, the reporter kept (29, 49], whose terms still matched, reported
// nothing, and the checker saw "last index 49, its reported log covers (27, 27]".
TEST(LogReporter, RestartFromAnOlderSnapshotReportsTheWholeLogAgain) {
  RaftSafetyChecker checker;
  LogReporter reporter;
  raft::MemoryStorage before;
  ASSERT_TRUE(before.Append(Entries(1, 49, 1)).ok());
  ASSERT_EQ(Observe(checker, reporter, before), "ok");
  ASSERT_TRUE(before.CreateSnapshot(27, nullptr, "").ok());
  ASSERT_TRUE(before.Compact(27).ok());
  ASSERT_EQ(Observe(checker, reporter, before), "ok");
  ASSERT_TRUE(before.CreateSnapshot(49, nullptr, "").ok());
  ASSERT_TRUE(before.Compact(29).ok());
  ASSERT_EQ(Observe(checker, reporter, before), "ok");
  EXPECT_TRUE(reporter.CaughtUp(before));

  raft::MemoryStorage after;  // the restarted member's storage
  ASSERT_TRUE(after.ApplySnapshot(SnapshotAt(27, 1)).ok());
  std::vector<raftpb::Entry> wal = Entries(28, 49, 1);
  ASSERT_TRUE(after.Append(wal).ok());
  EXPECT_EQ(Observe(checker, reporter, after), "ok");
  EXPECT_TRUE(reporter.CaughtUp(after));
  // The checker holds the whole log again: a conflicting entry elsewhere is still caught.
  LogReporter other_reporter;
  raft::MemoryStorage other;
  std::vector<raftpb::Entry> conflicting = Entries(1, 28, 1);
  conflicting.back().set_data("something else");
  ASSERT_TRUE(other.Append(conflicting).ok());
  EXPECT_NE(Observe(checker, other_reporter, other, /*node=*/2).find("log-matching"), std::string::npos);
}

// A compaction the reported log covers keeps the reported suffix: nothing is re-sent.
TEST(LogReporter, CompactionKeepsTheReportedSuffix) {
  RaftSafetyChecker checker;
  LogReporter reporter;
  raft::MemoryStorage storage;
  ASSERT_TRUE(storage.Append(Entries(1, 10, 1)).ok());
  ASSERT_EQ(Observe(checker, reporter, storage), "ok");
  ASSERT_TRUE(storage.CreateSnapshot(8, nullptr, "").ok());
  ASSERT_TRUE(storage.Compact(8).ok());
  RaftObservation o;
  ASSERT_TRUE(reporter.Report(storage, o).ok());
  EXPECT_TRUE(o.appended.empty());
  EXPECT_EQ(o.snapshot_index, 8u);
  EXPECT_EQ(o.last_index, 10u);
  o.node = 1;
  o.term = 1;
  EXPECT_FALSE(checker.Observe(o).has_value());
}

// A snapshot installed over a log that does not hold its entry replaces the whole log.
TEST(LogReporter, InstalledSnapshotBeyondTheLogStartsOver) {
  RaftSafetyChecker checker;
  LogReporter reporter;
  raft::MemoryStorage storage;
  ASSERT_TRUE(storage.Append(Entries(1, 5, 1)).ok());
  ASSERT_EQ(Observe(checker, reporter, storage), "ok");
  ASSERT_TRUE(storage.ApplySnapshot(SnapshotAt(20, 2)).ok());
  ASSERT_TRUE(storage.Append(Entries(21, 23, 2)).ok());
  EXPECT_EQ(Observe(checker, reporter, storage), "ok");
  EXPECT_TRUE(reporter.CaughtUp(storage));
}

}  // namespace
}  // namespace keel::sim
