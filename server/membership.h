// Cluster membership as etcd keeps it (etcdserver/api/membership): the members with their
// IDs, names, peer and client URLs and learner flag, plus the IDs ever removed (a removed
// ID can never rejoin). Changed only by applying committed configuration changes and
// "publish" requests, so every member holds the same view at the same log index.
//
// Persistence: the "members" and "members_removed" buckets of the MVCC backend, staged by
// the same apply that changes them and committed in the same LevelDB batch as the
// consistent index.
//
// Joining (--initial-cluster-state=existing): a new member starts with NO members, like
// etcd's empty store, and rebuilds the view by applying the log from index 1 (or a
// snapshot) exactly as every other member did, so views agree at every index. Until the
// log adds it, it talks to the members that answered its query ("join remotes", bucket
// "join_remotes", so a restart before that point can still reach them).
#ifndef KEEL_SERVER_MEMBERSHIP_H_
#define KEEL_SERVER_MEMBERSHIP_H_

#include <cstdint>
#include <string>
#include <string_view>
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
  // A member joining `existing` (etcd's VerifyJoinExisting + ValidateClusterAndAssignIDs):
  // `name` must be in --initial-cluster with exactly `advertise_peer_urls`, and
  // --initial-cluster must list the same members as `existing` (same count, same peer
  // URLs). Returns the joiner's starting view (cluster ID, no members, the others as join
  // remotes) and sets `*member_id` to the ID the cluster gave this member at `member add`.
  static absl::StatusOr<Membership> Join(const std::vector<PeerConfig>& initial_cluster,
                                         const std::string& name,
                                         const std::vector<std::string>& advertise_peer_urls,
                                         const ExistingCluster& existing, uint64_t* member_id);
  // Whether backend bucket `bucket` holds membership state (what a restore from a backup
  // drops and writes anew for the new cluster).
  static bool IsMembershipBucket(std::string_view bucket);
  // Reads what an earlier run persisted. kDataLoss if nothing is there.
  static absl::StatusOr<Membership> Load(const kv::Backend& backend);

  uint64_t cluster_id() const { return cluster_id_; }
  // Members ordered by ID, as etcd lists them.
  std::vector<serverpb::Member> List() const;
  const serverpb::Member* Find(uint64_t id) const;
  const serverpb::Member* FindByName(const std::string& name) const;
  bool IsRemoved(uint64_t id) const { return removed_.contains(id); }
  size_t voter_count() const;
  // Joining: the members to talk to until the log lists any member (see the file comment).
  bool joining() const { return members_.empty() && !join_remotes_.empty(); }
  const std::vector<serverpb::Member>& join_remotes() const { return join_remotes_; }

  // Checks a proposed change against the current view, with etcd's errors. Apply checks
  // again: the view may have changed between proposing and applying.
  absl::Status ValidateConfChange(const raftpb::ConfChange& cc,
                                  const serverpb::ConfChangeContext& ctx) const;

  // Applies the configuration change committed at `index` and stages it into `backend`.
  // A change this view refuses (it raced another one) is refused for good: the refusal is
  // staged too, under `index`, because Raft must skip that entry again when a restart
  // replays it over a backend that already holds it (see RefusalAt).
  absl::Status ApplyConfChange(uint64_t index, const raftpb::ConfChange& cc,
                               const serverpb::ConfChangeContext& ctx, kv::Backend& backend);
  // What ApplyConfChange decided for the entry at `index`, from the backend: OK if it was
  // applied, its error if it was refused. For entries the backend already holds.
  static absl::Status RefusalAt(uint64_t index, const kv::Backend& backend);
  // Applies a committed "publish": the member's name and client URLs. Unknown or removed
  // members are ignored (the publish raced a removal).
  void ApplyPublish(const serverpb::MemberAttributes& attributes, kv::Backend& backend);
  // Stages the whole view (bootstrap, or after installing a snapshot).
  void SaveAll(kv::Backend& backend) const;

 private:
  absl::Status Apply(const raftpb::ConfChange& cc, const serverpb::ConfChangeContext& ctx,
                     kv::Backend& backend);
  void Save(const serverpb::Member& member, kv::Backend& backend) const;

  uint64_t cluster_id_ = 0;
  absl::btree_map<uint64_t, serverpb::Member> members_;
  absl::btree_set<uint64_t> removed_;
  std::vector<serverpb::Member> join_remotes_;
};

}  // namespace keel::server

#endif  // KEEL_SERVER_MEMBERSHIP_H_
