// etcd 3.4's checks before proposing a membership change (etcdserver/server.go
// mayAddMember / mayRemoveMember / mayPromoteMember with --strict-reconfig-check, and
// membership's learner limit), as pure functions of what the proposing member knows.
//
// "Started" = the member has published its name (etcd's IsStarted). Connectivity is
// etcd's transport ActiveSince: a peer is kDown, or up for less than etcd's 5 s health
// interval (kUpRecently), or up for at least that long (kUp). Keel's leader knows it from
// the messages it receives (every peer answers its heartbeats); a follower does not hear
// from the other followers, so on a follower `contact` is empty and the "unhealthy
// cluster" half of the checks is skipped (the "not enough started members" half runs).
#ifndef KEEL_SERVER_RECONFIG_CHECK_H_
#define KEEL_SERVER_RECONFIG_CHECK_H_

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "server/serverpb/internal.pb.h"

namespace keel::server {

enum class PeerContact { kDown, kUpRecently, kUp };

struct ReconfigView {
  uint64_t self_id = 0;
  std::vector<serverpb::Member> members;  // the applied membership
  // Leader only: member id -> contact (self is always kUp; missing = kDown).
  std::optional<std::map<uint64_t, PeerContact>> contact;
};

// etcd's maxLearners: at most one learner at a time (ErrTooManyLearners).
inline constexpr int kMaxLearners = 1;
absl::Status CheckLearnerLimit(const std::vector<serverpb::Member>& members);

// --strict-reconfig-check (etcd's default): refuse a change that could cost quorum.
absl::Status CheckAddMember(const ReconfigView& view, bool is_learner);
absl::Status CheckRemoveMember(const ReconfigView& view, uint64_t id);
absl::Status CheckPromoteMember(const ReconfigView& view, uint64_t id);

}  // namespace keel::server

#endif  // KEEL_SERVER_RECONFIG_CHECK_H_
