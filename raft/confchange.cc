#include "raft/confchange.h"

#include <set>
#include <utility>

#include "absl/strings/str_format.h"
#include "raft/errors.h"

namespace keel::raft {
namespace {

ConfigAndProgress Copy(const ProgressTracker& t) { return {t.config, t.progress}; }

size_t SymmetricDifference(const std::set<uint64_t>& a, const std::set<uint64_t>& b) {
  size_t n = 0;
  for (uint64_t id : a) n += b.count(id) == 0;
  for (uint64_t id : b) n += a.count(id) == 0;
  return n;
}

absl::StatusOr<ConfigAndProgress> CheckAndReturn(ConfigAndProgress cp) {
  if (absl::Status s = CheckConfigInvariants(cp); !s.ok()) return s;
  return cp;
}

}  // namespace

absl::Status CheckConfigInvariants(const ConfigAndProgress& cp) {
  const TrackerConfig& cfg = cp.config;
  auto has_progress = [&](uint64_t id) { return cp.progress.count(id) > 0; };
  for (uint64_t id : cfg.voters.Ids()) {
    if (!has_progress(id)) return absl::InternalError(absl::StrFormat("no progress for %d", id));
  }
  for (uint64_t id : cfg.learners) {
    if (!has_progress(id)) return absl::InternalError(absl::StrFormat("no progress for %d", id));
    if (cfg.voters.Contains(id)) {
      return absl::InternalError(absl::StrFormat("%d is both learner and voter", id));
    }
    if (!cp.progress.at(id).is_learner) {
      return absl::InternalError(absl::StrFormat("%d is in learners but not marked", id));
    }
  }
  for (uint64_t id : cfg.learners_next) {
    if (!has_progress(id)) return absl::InternalError(absl::StrFormat("no progress for %d", id));
    if (!cfg.voters.outgoing.Contains(id)) {
      return absl::InternalError(
          absl::StrFormat("%d is in learners_next but not an outgoing voter", id));
    }
    if (cp.progress.at(id).is_learner) {
      return absl::InternalError(
          absl::StrFormat("%d is in learners_next but already a learner", id));
    }
  }
  if (!cfg.voters.IsJoint()) {
    if (!cfg.learners_next.empty()) return absl::InternalError("learners_next while not joint");
    if (cfg.auto_leave) return absl::InternalError("auto_leave set while not joint");
  }
  return absl::OkStatus();
}

absl::StatusOr<ConfigAndProgress> Changer::EnterJoint(
    bool auto_leave, const std::vector<raftpb::ConfChangeSingle>& changes) const {
  ConfigAndProgress cp = Copy(tracker_);
  if (cp.config.voters.IsJoint()) return ErrInvalidConfChange("config is already joint");
  if (cp.config.voters.incoming.empty()) {
    // An empty config may be populated (bootstrap) but not made joint.
    return ErrInvalidConfChange("can't make a zero-voter config joint");
  }
  cp.config.voters.outgoing = cp.config.voters.incoming;
  if (absl::Status s = Apply(&cp, changes); !s.ok()) return s;
  cp.config.auto_leave = auto_leave;
  return CheckAndReturn(std::move(cp));
}

absl::StatusOr<ConfigAndProgress> Changer::LeaveJoint() const {
  ConfigAndProgress cp = Copy(tracker_);
  if (!cp.config.voters.IsJoint()) {
    return ErrInvalidConfChange("can't leave a non-joint config");
  }
  for (uint64_t id : cp.config.learners_next) {
    cp.config.learners.insert(id);
    cp.progress.at(id).is_learner = true;
  }
  cp.config.learners_next.clear();
  for (uint64_t id : cp.config.voters.outgoing.ids()) {
    if (!cp.config.voters.incoming.Contains(id) && cp.config.learners.count(id) == 0) {
      cp.progress.erase(id);
    }
  }
  cp.config.voters.outgoing = MajorityConfig();
  cp.config.auto_leave = false;
  return CheckAndReturn(std::move(cp));
}

absl::StatusOr<ConfigAndProgress> Changer::Simple(
    const std::vector<raftpb::ConfChangeSingle>& changes) const {
  ConfigAndProgress cp = Copy(tracker_);
  if (cp.config.voters.IsJoint()) {
    return ErrInvalidConfChange("can't apply simple config change in joint config");
  }
  if (absl::Status s = Apply(&cp, changes); !s.ok()) return s;
  // One voter at a time keeps every old majority intersecting every new one (§4.1).
  if (SymmetricDifference(tracker_.config.voters.incoming.ids(),
                          cp.config.voters.incoming.ids()) > 1) {
    return ErrInvalidConfChange("more than one voter changed without entering joint config");
  }
  return CheckAndReturn(std::move(cp));
}

absl::Status Changer::Apply(ConfigAndProgress* cp,
                            const std::vector<raftpb::ConfChangeSingle>& changes) const {
  for (const auto& cc : changes) {
    // Node id 0 marks a change the application decided not to apply.
    if (cc.node_id() == 0) continue;
    switch (cc.type()) {
      case raftpb::ConfChangeAddNode:
        MakeVoter(cp, cc.node_id());
        break;
      case raftpb::ConfChangeAddLearnerNode:
        MakeLearner(cp, cc.node_id());
        break;
      case raftpb::ConfChangeRemoveNode:
        Remove(cp, cc.node_id());
        break;
      case raftpb::ConfChangeUpdateNode:
        break;
      default:
        return ErrInvalidConfChange(absl::StrFormat("unexpected conf type %d", cc.type()));
    }
  }
  if (cp->config.voters.incoming.empty()) return ErrInvalidConfChange("removed all voters");
  return absl::OkStatus();
}

void Changer::MakeVoter(ConfigAndProgress* cp, uint64_t id) const {
  auto it = cp->progress.find(id);
  if (it == cp->progress.end()) {
    InitProgress(cp, id, /*is_learner=*/false);
    return;
  }
  it->second.is_learner = false;
  cp->config.learners.erase(id);
  cp->config.learners_next.erase(id);
  cp->config.voters.incoming.mutable_ids().insert(id);
}

void Changer::MakeLearner(ConfigAndProgress* cp, uint64_t id) const {
  auto it = cp->progress.find(id);
  if (it == cp->progress.end()) {
    InitProgress(cp, id, /*is_learner=*/true);
    return;
  }
  if (it->second.is_learner) return;
  Progress saved = it->second;
  Remove(cp, id);
  it = cp->progress.insert_or_assign(id, std::move(saved)).first;
  // A voter of the outgoing config can only become a learner once the joint config is
  // left; until then it is staged in learners_next.
  if (cp->config.voters.outgoing.Contains(id)) {
    cp->config.learners_next.insert(id);
  } else {
    it->second.is_learner = true;
    cp->config.learners.insert(id);
  }
}

void Changer::Remove(ConfigAndProgress* cp, uint64_t id) const {
  if (cp->progress.count(id) == 0) return;
  cp->config.voters.incoming.mutable_ids().erase(id);
  cp->config.learners.erase(id);
  cp->config.learners_next.erase(id);
  // Still a voter of the outgoing config: keep replicating to it until we leave.
  if (!cp->config.voters.outgoing.Contains(id)) cp->progress.erase(id);
}

void Changer::InitProgress(ConfigAndProgress* cp, uint64_t id, bool is_learner) const {
  if (is_learner) {
    cp->config.learners.insert(id);
  } else {
    cp->config.voters.incoming.mutable_ids().insert(id);
  }
  // Probe from the leader's last index; a rejection will walk it back quickly.
  Progress pr(last_index_, tracker_.max_inflight(), tracker_.max_inflight_bytes(), is_learner);
  // A new member counts as active so CheckQuorum does not depose the leader before the
  // newcomer had a chance to answer.
  pr.recent_active = true;
  cp->progress.insert_or_assign(id, std::move(pr));
}

absl::StatusOr<ConfigAndProgress> RestoreConfState(const ProgressTracker& empty_tracker,
                                                   uint64_t last_index,
                                                   const raftpb::ConfState& cs) {
  auto single = [](raftpb::ConfChangeType type, uint64_t id) {
    raftpb::ConfChangeSingle cc;
    cc.set_type(type);
    cc.set_node_id(id);
    return cc;
  };
  // Replay: first build the outgoing config as if it were the only one, then enter the
  // joint state by removing those voters and adding the incoming ones.
  std::vector<raftpb::ConfChangeSingle> outgoing, incoming;
  for (uint64_t id : cs.voters_outgoing()) outgoing.push_back(single(raftpb::ConfChangeAddNode, id));
  for (uint64_t id : cs.voters_outgoing()) {
    incoming.push_back(single(raftpb::ConfChangeRemoveNode, id));
  }
  for (uint64_t id : cs.voters()) incoming.push_back(single(raftpb::ConfChangeAddNode, id));
  for (uint64_t id : cs.learners()) {
    incoming.push_back(single(raftpb::ConfChangeAddLearnerNode, id));
  }
  for (uint64_t id : cs.learners_next()) {
    incoming.push_back(single(raftpb::ConfChangeAddLearnerNode, id));
  }

  ProgressTracker tracker(empty_tracker.max_inflight(), empty_tracker.max_inflight_bytes());
  auto step = [&](const absl::StatusOr<ConfigAndProgress>& r) -> absl::Status {
    if (!r.ok()) return r.status();
    tracker.config = r->config;
    tracker.progress = r->progress;
    return absl::OkStatus();
  };
  if (outgoing.empty()) {
    for (const auto& cc : incoming) {
      if (absl::Status s = step(Changer(tracker, last_index).Simple({cc})); !s.ok()) return s;
    }
  } else {
    for (const auto& cc : outgoing) {
      if (absl::Status s = step(Changer(tracker, last_index).Simple({cc})); !s.ok()) return s;
    }
    absl::Status s = step(Changer(tracker, last_index).EnterJoint(cs.auto_leave(), incoming));
    if (!s.ok()) return s;
  }
  return ConfigAndProgress{tracker.config, tracker.progress};
}

raftpb::ConfChangeV2 ConfChangeAsV2(const raftpb::ConfChange& cc) {
  raftpb::ConfChangeV2 v2;
  raftpb::ConfChangeSingle* single = v2.add_changes();
  single->set_type(cc.type());
  single->set_node_id(cc.node_id());
  if (cc.has_context()) v2.set_context(cc.context());
  return v2;
}

bool ConfChangeLeavesJoint(const raftpb::ConfChangeV2& cc) {
  return cc.changes_size() == 0 && cc.transition() == raftpb::ConfChangeTransitionAuto;
}

std::optional<bool> ConfChangeEntersJoint(const raftpb::ConfChangeV2& cc) {
  // More than one change, or an explicit request, uses joint consensus. (Some multi-change
  // sets would be safe as simple changes, but joint consensus is always safe.)
  if (cc.transition() == raftpb::ConfChangeTransitionAuto && cc.changes_size() <= 1) {
    return std::nullopt;
  }
  return cc.transition() != raftpb::ConfChangeTransitionJointExplicit;
}

bool ConfStatesEquivalent(const raftpb::ConfState& a, const raftpb::ConfState& b) {
  auto set_of = [](const google::protobuf::RepeatedField<uint64_t>& r) {
    return std::set<uint64_t>(r.begin(), r.end());
  };
  return set_of(a.voters()) == set_of(b.voters()) &&
         set_of(a.learners()) == set_of(b.learners()) &&
         set_of(a.voters_outgoing()) == set_of(b.voters_outgoing()) &&
         set_of(a.learners_next()) == set_of(b.learners_next()) &&
         a.auto_leave() == b.auto_leave();
}

}  // namespace keel::raft
