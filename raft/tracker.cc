#include "raft/tracker.h"

#include "absl/strings/str_join.h"

namespace keel::raft {

std::string TrackerConfig::ToString() const {
  std::string s = "voters=" + voters.ToString();
  if (!learners.empty()) s += " learners=(" + absl::StrJoin(learners, " ") + ")";
  if (!learners_next.empty()) s += " learners_next=(" + absl::StrJoin(learners_next, " ") + ")";
  if (auto_leave) s += " autoleave";
  return s;
}

raftpb::ConfState ProgressTracker::ConfState() const {
  raftpb::ConfState cs;
  for (uint64_t id : config.voters.incoming.ids()) cs.add_voters(id);
  for (uint64_t id : config.voters.outgoing.ids()) cs.add_voters_outgoing(id);
  for (uint64_t id : config.learners) cs.add_learners(id);
  for (uint64_t id : config.learners_next) cs.add_learners_next(id);
  cs.set_auto_leave(config.auto_leave);
  return cs;
}

uint64_t ProgressTracker::Committed() const {
  return config.voters.CommittedIndex([this](uint64_t id) -> std::optional<uint64_t> {
    const Progress* pr = Find(id);
    if (pr == nullptr) return std::nullopt;
    return pr->match;
  });
}

bool ProgressTracker::QuorumActive() const {
  std::map<uint64_t, bool> votes;
  for (const auto& [id, pr] : progress) {
    if (!pr.is_learner) votes[id] = pr.recent_active;
  }
  return config.voters.Vote(votes) == VoteResult::kWon;
}

std::vector<uint64_t> ProgressTracker::VoterIds() const {
  std::set<uint64_t> ids = config.voters.Ids();
  return std::vector<uint64_t>(ids.begin(), ids.end());
}

std::vector<uint64_t> ProgressTracker::LearnerIds() const {
  std::set<uint64_t> ids = config.learners;
  ids.insert(config.learners_next.begin(), config.learners_next.end());
  return std::vector<uint64_t>(ids.begin(), ids.end());
}

ProgressTracker::Tally ProgressTracker::TallyVotes() const {
  Tally t;
  for (const auto& [id, pr] : progress) {
    if (pr.is_learner) continue;
    auto it = votes_.find(id);
    if (it == votes_.end()) continue;
    if (it->second) {
      ++t.granted;
    } else {
      ++t.rejected;
    }
  }
  t.result = config.voters.Vote(votes_);
  return t;
}

}  // namespace keel::raft
