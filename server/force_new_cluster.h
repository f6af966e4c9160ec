// --force-new-cluster (etcd's restartAsStandaloneNode): a member restarting from its WAL
// makes itself the only member of its cluster, keeping all its data. As etcd does it:
// entries after the commit index are discarded (never committed, so nobody was told they
// happened), and one ConfChangeRemoveNode per other member is appended after the commit
// index, in the current term, and committed at once. Applying them (the ordinary apply
// path, on the first Ready) removes the others from Raft and from the membership, so
// the member elects itself and serves; `member add` then grows the cluster back.
//
// Pure: no I/O. The caller writes the result to its WAL before Raft starts.
#ifndef KEEL_SERVER_FORCE_NEW_CLUSTER_H_
#define KEEL_SERVER_FORCE_NEW_CLUSTER_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "raft/raftpb/raft.pb.h"

namespace keel::server {

struct StandaloneLog {
  // The log after the snapshot: the committed prefix of the old one, then the removals.
  std::vector<raftpb::Entry> entries;
  // The new entries alone (what the WAL must append; they overwrite any uncommitted tail).
  std::vector<raftpb::Entry> appended;
  raftpb::HardState hard_state;  // commit raised to the last removal
  std::vector<uint64_t> removed_ids;
};

// `snapshot_conf_state` is the configuration at the snapshot the log follows (empty if
// there is none), `entries` the log after it, `hs` the recovered HardState. The members
// are those of the snapshot changed by the committed ConfChange entries (etcd's getIDs).
// kFailedPrecondition if `self_id` is not one of them (it was removed, or never added).
absl::StatusOr<StandaloneLog> MakeStandaloneLog(uint64_t self_id,
                                                const raftpb::ConfState& snapshot_conf_state,
                                                std::vector<raftpb::Entry> entries,
                                                const raftpb::HardState& hs);

}  // namespace keel::server

#endif  // KEEL_SERVER_FORCE_NEW_CLUSTER_H_
