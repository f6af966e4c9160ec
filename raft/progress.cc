#include "raft/progress.h"

#include <algorithm>

#include "absl/strings/str_format.h"
#include "base/check.h"

namespace keel::raft {

const char* ProgressStateName(ProgressState s) {
  switch (s) {
    case ProgressState::kProbe:
      return "StateProbe";
    case ProgressState::kReplicate:
      return "StateReplicate";
    case ProgressState::kSnapshot:
      return "StateSnapshot";
  }
  return "StateUnknown";
}

namespace {
void ResetState(Progress* pr, ProgressState state) {
  pr->probe_sent = false;
  pr->pending_snapshot = 0;
  pr->state = state;
  pr->inflights.Reset();
}
}  // namespace

void Progress::BecomeProbe() {
  // Coming back from a snapshot, resume right after it (the follower has it by now or
  // will reject and we back off); otherwise restart from what we know is replicated.
  if (state == ProgressState::kSnapshot) {
    const uint64_t snap = pending_snapshot;
    ResetState(this, ProgressState::kProbe);
    next = std::max(match + 1, snap + 1);
  } else {
    ResetState(this, ProgressState::kProbe);
    next = match + 1;
  }
}

void Progress::BecomeReplicate() {
  ResetState(this, ProgressState::kReplicate);
  next = match + 1;
}

void Progress::BecomeSnapshot(uint64_t snapshot_index) {
  ResetState(this, ProgressState::kSnapshot);
  pending_snapshot = snapshot_index;
}

bool Progress::MaybeUpdate(uint64_t n) {
  bool updated = false;
  if (match < n) {
    match = n;
    updated = true;
    probe_sent = false;
  }
  next = std::max(next, n + 1);
  KEEL_CHECK_MSG(match < next, "progress invariant match < next");
  return updated;
}

bool Progress::MaybeDecrTo(uint64_t rejected, uint64_t match_hint) {
  if (state == ProgressState::kReplicate) {
    // In replicate state next > match; a rejection at or below match is stale.
    if (rejected <= match) return false;
    next = match + 1;
    return true;
  }
  // In probe state only the rejection of our last probe (at next-1) matters.
  if (next - 1 != rejected) return false;
  next = std::max(std::min(rejected, match_hint + 1), match + 1);
  probe_sent = false;
  return true;
}

bool Progress::IsPaused() const {
  switch (state) {
    case ProgressState::kProbe:
      return probe_sent;
    case ProgressState::kReplicate:
      return inflights.Full();
    case ProgressState::kSnapshot:
      return true;
  }
  return true;
}

std::string Progress::ToString() const {
  std::string s = absl::StrFormat("%s match=%d next=%d", ProgressStateName(state), match, next);
  if (is_learner) s += " learner";
  if (IsPaused()) s += " paused";
  if (pending_snapshot > 0) absl::StrAppendFormat(&s, " pendingSnap=%d", pending_snapshot);
  if (!recent_active) s += " inactive";
  if (inflights.Count() > 0) absl::StrAppendFormat(&s, " inflight=%d", inflights.Count());
  return s;
}

}  // namespace keel::raft
