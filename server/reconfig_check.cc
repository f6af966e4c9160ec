#include "server/reconfig_check.h"

#include "server/errors.h"

namespace keel::server {
namespace {

bool Started(const serverpb::Member& m) { return !m.name().empty(); }

PeerContact Contact(const ReconfigView& view, uint64_t id) {
  if (id == view.self_id) return PeerContact::kUp;
  auto it = view.contact->find(id);
  return it == view.contact->end() ? PeerContact::kDown : it->second;
}

// etcd's ActiveSince(id) <= now - HealthInterval.
bool UpForAWhile(const ReconfigView& view, uint64_t id) {
  return Contact(view, id) == PeerContact::kUp;
}

}  // namespace

absl::Status CheckLearnerLimit(const std::vector<serverpb::Member>& members) {
  int learners = 0;
  for (const serverpb::Member& m : members) learners += m.is_learner() ? 1 : 0;
  return learners + 1 > kMaxLearners ? TooManyLearnersError() : absl::OkStatus();
}

absl::Status CheckAddMember(const ReconfigView& view, bool is_learner) {
  if (!is_learner) {
    // etcd's IsReadyToAddVotingMember: the started voters must stay a quorum of the
    // cluster with the new (not yet started) member in it.
    int members = 1;
    int started = 0;
    for (const serverpb::Member& m : view.members) {
      if (m.is_learner()) continue;
      started += Started(m) ? 1 : 0;
      ++members;
    }
    const bool restoring_single_member = started == 1 && members == 2;
    if (!restoring_single_member && started < members / 2 + 1) return MemberNotEnoughStartedError();
  }
  // etcd's isConnectedFullySince over the voting members.
  if (view.contact.has_value()) {
    for (const serverpb::Member& m : view.members) {
      if (!m.is_learner() && !UpForAWhile(view, m.id())) return UnhealthyError();
    }
  }
  return absl::OkStatus();
}

absl::Status CheckRemoveMember(const ReconfigView& view, uint64_t id) {
  const serverpb::Member* target = nullptr;
  for (const serverpb::Member& m : view.members) {
    if (m.id() == id) target = &m;
  }
  if (target == nullptr || target->is_learner()) return absl::OkStatus();  // etcd: no check
  // etcd's IsReadyToRemoveVotingMember.
  int members = 0;
  int started = 0;
  for (const serverpb::Member& m : view.members) {
    if (m.is_learner() || m.id() == id) continue;
    started += Started(m) ? 1 : 0;
    ++members;
  }
  if (started < members / 2 + 1) return MemberNotEnoughStartedError();
  if (!view.contact.has_value()) return absl::OkStatus();
  // A member that is down is safe to remove: it is not part of the active quorum.
  if (id != view.self_id && Contact(view, id) == PeerContact::kDown) return absl::OkStatus();
  // etcd's numConnectedSince(now - HealthInterval).
  int voters = 0;
  int active = 0;
  for (const serverpb::Member& m : view.members) {
    if (m.is_learner()) continue;
    ++voters;
    active += UpForAWhile(view, m.id()) ? 1 : 0;
  }
  if (active - 1 < 1 + (voters - 1) / 2) return UnhealthyError();
  return absl::OkStatus();
}

absl::Status CheckPromoteMember(const ReconfigView& view, uint64_t id) {
  // etcd's IsReadyToPromoteMember: the learner counts as a started member of the future
  // quorum.
  int members = 1;
  int started = 1;
  for (const serverpb::Member& m : view.members) {
    if (m.is_learner()) continue;
    started += Started(m) ? 1 : 0;
    ++members;
  }
  if (started < members / 2 + 1) return MemberNotEnoughStartedError();
  return absl::OkStatus();
}

}  // namespace keel::server
