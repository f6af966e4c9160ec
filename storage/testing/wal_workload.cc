#include "storage/testing/wal_workload.h"

#include <algorithm>
#include <utility>

#include "env/rng.h"
#include "gtest/gtest.h"

namespace keel::storage::testing {

std::vector<WorkloadOp> MakeWorkload(uint64_t seed, int ops) {
  env::Rng rng(seed);
  std::vector<WorkloadOp> workload;
  std::vector<uint64_t> terms = {0};  // terms[i] = term of entry i
  uint64_t term = 1;
  uint64_t commit = 0;
  for (int n = 0; n < ops; ++n) {
    WorkloadOp op;
    const uint64_t last = terms.size() - 1;
    if (commit > 0 && rng.OneIn(8)) {
      op.is_marker = true;
      op.marker = WalSnapshot{commit, terms[commit]};
      workload.push_back(op);
      continue;
    }
    if (rng.OneIn(16)) {
      // A newer leader's snapshot: everything this log held is replaced, whatever its
      // indexes (a longer conflicting tail included); the log resumes after it.
      ++term;
      const uint64_t index = commit + 1 + rng.Uniform(last + 3 - commit);
      op.is_marker = true;
      op.installed = true;
      op.marker = WalSnapshot{index, term};
      terms.assign(index + 1, 0);
      terms[index] = term;
      commit = index;
      workload.push_back(op);
      continue;
    }
    uint64_t first = last + 1;
    if (last > commit && rng.OneIn(6)) {
      ++term;
      first = commit + 1 + rng.Uniform(last - commit);  // overwrite an uncommitted tail
    }
    const uint64_t count = 1 + rng.Uniform(5);
    terms.resize(first);
    for (uint64_t i = first; i < first + count; ++i) {
      op.entries.push_back(
          MakeEntry(i, term, std::string(rng.Uniform(200), static_cast<char>('a' + i % 26))));
      terms.push_back(term);
    }
    // Commit only entries an earlier operation wrote, as a leader would.
    if (first - 1 > commit && rng.OneIn(2)) commit += 1 + rng.Uniform(first - 1 - commit);
    if (!rng.OneIn(4)) op.hs = MakeHardState(term, 1, commit);
    workload.push_back(op);
  }
  return workload;
}

bool Model::Matches(const WalContents& contents, uint64_t from_index) const {
  if (contents.hard_state.SerializeAsString() != hs.SerializeAsString()) return false;
  if (entries.size() < from_index || contents.entries.size() != entries.size() - from_index) {
    return false;
  }
  for (size_t i = 0; i < contents.entries.size(); ++i) {
    if (contents.entries[i].SerializeAsString() != entries[from_index + i].SerializeAsString()) {
      return false;
    }
  }
  return true;
}

History BuildHistory(const std::vector<WorkloadOp>& workload) {
  History h;
  Model m;
  h.states.push_back(m);
  for (const WorkloadOp& op : workload) {
    for (const raftpb::Entry& e : op.entries) {
      m.entries.resize(e.index() - 1);
      m.entries.push_back(e);
      h.states.push_back(m);
    }
    const bool hs_written = op.hs.term() != 0 || op.hs.vote() != 0 || op.hs.commit() != 0;
    if (op.installed) {
      h.installed.push_back(op.marker);
      // Replay discards every entry before the marker; the ones up to its index are the
      // snapshot's, never compared (recovery from this marker replays only later ones).
      m.entries.assign(op.marker.index, raftpb::Entry());
    }
    if (op.is_marker || hs_written) {
      if (!op.is_marker) m.hs = op.hs;
      h.states.push_back(m);
    }
    h.records_after_op.push_back(h.states.size() - 1);
  }
  return h;
}

WorkloadDriver::WorkloadDriver(Wal* wal, const std::vector<WorkloadOp>* workload,
                               int max_inflight, bool remove_segments_on_marker)
    : wal_(wal),
      workload_(workload),
      max_inflight_(max_inflight),
      remove_segments_on_marker_(remove_segments_on_marker) {}

void WorkloadDriver::Pump() {
  while (!stopped_ && inflight_ < max_inflight_ && next_ < workload_->size()) {
    const WorkloadOp& op = (*workload_)[next_];
    const size_t index = next_++;
    auto done = [this, index](absl::Status s) { OnDone(index, std::move(s)); };
    absl::Status s = op.installed   ? wal_->SaveInstalledSnapshotMarker(op.marker, done)
                     : op.is_marker ? wal_->SaveSnapshotMarker(op.marker, done)
                                    : wal_->Save(op.hs, op.entries, done);
    if (stopped_) return;  // the Save itself hit the power cut
    ASSERT_TRUE(s.ok()) << s;
    ++inflight_;
    issued_ = next_;
  }
}

void WorkloadDriver::OnDone(size_t index, absl::Status s) {
  --inflight_;
  if (stopped_) return;
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_EQ(index, acked_) << "callbacks out of issue order";
  ++acked_;
  const WorkloadOp& op = (*workload_)[index];
  if (op.is_marker && remove_segments_on_marker_) {
    absl::Status removed = wal_->RemoveSegmentsBefore(op.marker.index);
    if (stopped_) return;
    ASSERT_TRUE(removed.ok()) << removed;
  }
  Pump();
}

void CheckRecovery(SimFs* sim, std::string_view dir, const WalOptions& options,
                   const History& history, size_t acked_ops, size_t issued_ops,
                   const std::string& context, RecoveryStats* stats) {
  ++stats->recoveries;
  absl::StatusOr<std::vector<WalSnapshot>> markers = Wal::ReadSnapshotMarkers(sim->fs(), dir);
  ASSERT_TRUE(markers.ok()) << context << ": " << markers.status();
  ASSERT_FALSE(markers->empty()) << context;
  const WalSnapshot from = markers->back();
  if (from.index > 0) ++stats->from_marker;
  if (std::find(history.installed.begin(), history.installed.end(), from) != history.installed.end()) {
    ++stats->from_installed;
  }
  absl::StatusOr<std::unique_ptr<Wal>> wal = Wal::Open(sim->fs(), dir, from, options);
  ASSERT_TRUE(wal.ok()) << context << ": " << wal.status();
  absl::StatusOr<WalContents> contents = (*wal)->ReadAll();
  ASSERT_TRUE(contents.ok()) << context << ": " << contents.status();
  if (contents->truncated_tail_bytes > 0) ++stats->truncated_tails;
  const size_t acked_records = history.RecordsAfter(acked_ops);
  const size_t issued_records = history.RecordsAfter(issued_ops);
  size_t matched = SIZE_MAX;
  for (size_t r = acked_records; r <= issued_records; ++r) {
    if (history.states[r].Matches(*contents, from.index)) matched = r;
  }
  ASSERT_NE(matched, SIZE_MAX) << context << ": recovered state (" << contents->entries.size()
                               << " entries after " << from.index
                               << ") is no record prefix in [" << acked_records << ", "
                               << issued_records << "]";
  if (matched < issued_records) ++stats->lost_unacked;

  // The recovered log keeps working: one more Save, then replay again.
  const uint64_t next = from.index + contents->entries.size() + 1;
  Completions completions;
  ASSERT_TRUE(
      (*wal)->Save(MakeHardState(99, 1, 0), {MakeEntry(next, 99, "post")}, completions.Track(0))
          .ok());
  sim->RunUntilIdle();
  ASSERT_EQ(completions.done().size(), 1u);
  ASSERT_TRUE(completions.done()[0].status.ok()) << completions.done()[0].status;
  wal->reset();
  wal = Wal::Open(sim->fs(), dir, from, options);
  ASSERT_TRUE(wal.ok()) << context << ": " << wal.status();
  absl::StatusOr<WalContents> after = (*wal)->ReadAll();
  ASSERT_TRUE(after.ok()) << context << ": " << after.status();
  ASSERT_FALSE(after->entries.empty());
  EXPECT_EQ(after->entries.back().index(), next);
  EXPECT_EQ(after->entries.back().data(), "post");
  EXPECT_EQ(after->hard_state.term(), 99u);
}

}  // namespace keel::storage::testing
