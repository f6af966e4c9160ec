#include "raft/quorum.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_join.h"
#include "raft/entry_util.h"

namespace keel::raft {

uint64_t MajorityConfig::CommittedIndex(AckedIndexFn acked) const {
  if (ids_.empty()) return kNoLimit;
  // Clusters are small; a stack buffer avoids an allocation on every MsgAppResp.
  uint64_t stack[16];
  std::vector<uint64_t> heap;
  uint64_t* srt = stack;
  if (ids_.size() > 16) {
    heap.resize(ids_.size());
    srt = heap.data();
  }
  size_t n = 0;
  for (uint64_t id : ids_) srt[n++] = acked(id).value_or(0);
  std::sort(srt, srt + n);
  // With n voters sorted ascending, srt[n - (n/2 + 1)] is acked by a majority (n/2 + 1).
  return srt[n - (n / 2 + 1)];
}

VoteResult MajorityConfig::Vote(const std::map<uint64_t, bool>& votes) const {
  if (ids_.empty()) return VoteResult::kWon;
  size_t yes = 0, missing = 0;
  for (uint64_t id : ids_) {
    auto it = votes.find(id);
    if (it == votes.end()) {
      ++missing;
    } else if (it->second) {
      ++yes;
    }
  }
  const size_t q = ids_.size() / 2 + 1;
  if (yes >= q) return VoteResult::kWon;
  if (yes + missing >= q) return VoteResult::kPending;
  return VoteResult::kLost;
}

std::string MajorityConfig::ToString() const {
  return "(" + absl::StrJoin(ids_, " ") + ")";
}

std::set<uint64_t> JointConfig::Ids() const {
  std::set<uint64_t> ids = incoming.ids();
  ids.insert(outgoing.ids().begin(), outgoing.ids().end());
  return ids;
}

uint64_t JointConfig::CommittedIndex(AckedIndexFn acked) const {
  return std::min(incoming.CommittedIndex(acked), outgoing.CommittedIndex(acked));
}

VoteResult JointConfig::Vote(const std::map<uint64_t, bool>& votes) const {
  const VoteResult a = incoming.Vote(votes);
  const VoteResult b = outgoing.Vote(votes);
  if (a == b) return a;
  if (a == VoteResult::kLost || b == VoteResult::kLost) return VoteResult::kLost;
  return VoteResult::kPending;  // One won, the other is pending.
}

std::string JointConfig::ToString() const {
  if (!IsJoint()) return incoming.ToString();
  return incoming.ToString() + "&&" + outgoing.ToString();
}

}  // namespace keel::raft
