// The cluster's alarms (etcd's etcdserver/api/v3alarm): which member raised which alarm.
// Replicated: changed only by applying AlarmRequests. While NOSPACE is raised anywhere,
// the apply path refuses writes that grow the store (etcd's "capped" applier), so the
// cluster can still delete and compact its way back under quota.
#ifndef KEEL_SERVER_ALARMS_H_
#define KEEL_SERVER_ALARMS_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/btree_set.h"
#include "absl/status/statusor.h"
#include "api/etcdserverpb/rpc.pb.h"
#include "kv/backend.h"

namespace keel::server {

// An alarm as etcd prints it in `endpoint status` errors: its protobuf text form,
// "memberID:<decimal id> alarm:NOSPACE " (with the trailing space; "alarm:CORRUPT " for
// member 0, as protobuf text omits zero fields).
std::string AlarmText(const etcdserverpb::AlarmMember& m);

class Alarms {
 public:
  static absl::StatusOr<Alarms> Load(const kv::Backend& backend);

  // Applies ACTIVATE / DEACTIVATE (staging the change into `backend`) and returns the
  // alarms the response lists: for GET every alarm of the requested type (NONE = all,
  // as etcd), for ACTIVATE/DEACTIVATE the one changed (empty if nothing changed).
  std::vector<etcdserverpb::AlarmMember> Apply(const etcdserverpb::AlarmRequest& r,
                                               kv::Backend& backend);
  std::vector<etcdserverpb::AlarmMember> List() const;
  bool Has(etcdserverpb::AlarmType type) const;
  bool Has(uint64_t member_id, etcdserverpb::AlarmType type) const {
    return raised_.contains({member_id, static_cast<int>(type)});
  }

 private:
  absl::btree_set<std::pair<uint64_t, int>> raised_;  // (member id, AlarmType)
};

}  // namespace keel::server

#endif  // KEEL_SERVER_ALARMS_H_
