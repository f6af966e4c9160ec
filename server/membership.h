// Cluster membership as etcd keeps it (etcdserver/api/membership): the members with their
// IDs, names, peer and client URLs and learner flag, plus the IDs ever removed (a removed
// ID can never rejoin). Changed only by applying committed configuration changes and
// "publish" requests, so every member holds the same view at the same log index.
//
// Persistence: the "members" and "members_removed" buckets of the MVCC backend, staged by
// the same apply that changes them and committed in the same LevelDB batch as the
// consistent index.
#ifndef KEEL_SERVER_MEMBERSHIP_H_
#define KEEL_SERVER_MEMBERSHIP_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kv/backend.h"
#include "raft/raftpb/raft.pb.h"
#include "server/config.h"
#include "server/serverpb/internal.pb.h"

namespace keel::server {

class Membership {
 public:
  // The initial members of a new cluster (--initial-cluster), IDs computed as etcd does.
  static absl::StatusOr<Membership> Bootstrap(const std::vector<PeerConfig>& initial_cluster,
                                              const std::string& cluster_token);
  // Reads what an earlier run persisted. kDataLoss if nothing is there.
  static absl::StatusOr<Membership> Load(const kv::Backend& backend);

  uint64_t cluster_id() const { return cluster_id_; }
  // Members ordered by ID, as etcd lists them.
  std::vector<serverpb::Member> List() const;
  const serverpb::Member* Find(uint64_t id) const;
  const serverpb::Member* FindByName(const std::string& name) const;
  bool IsRemoved(uint64_t id) const { return removed_.contains(id); }
  size_t voter_count() const;

  // Checks a proposed change against the current view, with etcd's errors. Apply checks
  // again: the view may have changed between proposing and applying.
  absl::Status ValidateConfChange(const raftpb::ConfChange& cc,
                                  const serverpb::ConfChangeContext& ctx) const;

  // Applies a committed configuration change (already validated on this view) and stages
  // it into `backend`.
  absl::Status ApplyConfChange(const raftpb::ConfChange& cc,
                               const serverpb::ConfChangeContext& ctx, kv::Backend& backend);
  // Applies a committed "publish": the member's name and client URLs. Unknown or removed
  // members are ignored (the publish raced a removal).
  void ApplyPublish(const serverpb::MemberAttributes& attributes, kv::Backend& backend);
  // Stages the whole view (bootstrap, or after installing a snapshot).
  void SaveAll(kv::Backend& backend) const;

 private:
  void Save(const serverpb::Member& member, kv::Backend& backend) const;

  uint64_t cluster_id_ = 0;
  absl::btree_map<uint64_t, serverpb::Member> members_;
  absl::btree_set<uint64_t> removed_;
};

}  // namespace keel::server

#endif  // KEEL_SERVER_MEMBERSHIP_H_
