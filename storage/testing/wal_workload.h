// A seeded, Raft-shaped WAL workload and the checker for what a crash may leave behind,
// shared by the crash tests (crash between simulated events, power cut between calls).
#ifndef KEEL_STORAGE_TESTING_WAL_WORKLOAD_H_
#define KEEL_STORAGE_TESTING_WAL_WORKLOAD_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "raft/raftpb/raft.pb.h"
#include "storage/testing/sim_fs.h"
#include "storage/wal.h"

namespace keel::storage::testing {

// One Save, SaveSnapshotMarker or SaveInstalledSnapshotMarker.
struct WorkloadOp {
  std::vector<raftpb::Entry> entries;
  raftpb::HardState hs;  // empty = not written
  bool is_marker = false;
  bool installed = false;  // with is_marker: a received snapshot that replaced the log
  WalSnapshot marker;
};

// Entries append; sometimes a new term overwrites an uncommitted tail; commit advances;
// snapshots are marked at committed indexes; sometimes a snapshot from a newer leader is
// received and installed, ahead of the commit index (and of the log, or inside a
// conflicting tail), and the log goes on after it. Payloads up to 200 bytes.
std::vector<WorkloadOp> MakeWorkload(uint64_t seed, int ops);

// What replay must reproduce: entries (Raft truncation semantics) and HardState.
struct Model {
  std::vector<raftpb::Entry> entries;
  raftpb::HardState hs;
  // True if `contents` (replayed from snapshot index `from_index`) is exactly this state.
  bool Matches(const WalContents& contents, uint64_t from_index) const;
};

// states[r] is the state after the first r records of the workload; a torn write may keep
// any prefix of one Save's records, hence record granularity.
struct History {
  std::vector<Model> states;
  std::vector<size_t> records_after_op;  // cumulative record count after op i
  std::vector<WalSnapshot> installed;    // the workload's installed markers
  // Records of the first `ops` operations.
  size_t RecordsAfter(size_t ops) const { return ops == 0 ? 0 : records_after_op[ops - 1]; }
};
History BuildHistory(const std::vector<WorkloadOp>& workload);

// Issues the workload with up to `max_inflight` operations outstanding; optionally
// removes covered segments whenever a snapshot marker is acknowledged.
class WorkloadDriver {
 public:
  WorkloadDriver(Wal* wal, const std::vector<WorkloadOp>* workload, int max_inflight,
                 bool remove_segments_on_marker);
  void Pump();
  // After a crash nothing more may be issued and late callbacks are ignored.
  void Stop() { stopped_ = true; }
  size_t acked() const { return acked_; }
  size_t issued() const { return issued_; }
  bool finished() const { return acked_ == workload_->size(); }

 private:
  void OnDone(size_t index, absl::Status s);

  Wal* const wal_;
  const std::vector<WorkloadOp>* const workload_;
  const int max_inflight_;
  const bool remove_segments_on_marker_;
  size_t next_ = 0;
  size_t issued_ = 0;
  size_t acked_ = 0;
  int inflight_ = 0;
  bool stopped_ = false;
};

struct RecoveryStats {
  uint64_t recoveries = 0;
  uint64_t truncated_tails = 0;
  uint64_t lost_unacked = 0;   // recoveries that dropped issued-but-unacknowledged records
  uint64_t from_marker = 0;    // recoveries that replayed from a snapshot marker > 0
  uint64_t from_installed = 0; // ... from an installed (received) snapshot's marker
};

// After a crash: replays `dir` on `sim` from its newest snapshot marker and checks (gtest
// expectations, `context` in messages) that the state is a record prefix between the
// acknowledged and the issued operations; then saves one more entry and replays again.
void CheckRecovery(SimFs* sim, std::string_view dir, const WalOptions& options,
                   const History& history, size_t acked_ops, size_t issued_ops,
                   const std::string& context, RecoveryStats* stats);

}  // namespace keel::storage::testing

#endif  // KEEL_STORAGE_TESTING_WAL_WORKLOAD_H_
