#include "server/force_new_cluster.h"

#include "absl/container/btree_set.h"
#include "absl/strings/str_format.h"
#include "server/serverpb/internal.pb.h"

namespace keel::server {

absl::StatusOr<StandaloneLog> MakeStandaloneLog(uint64_t self_id,
                                                const raftpb::ConfState& snapshot_conf_state,
                                                std::vector<raftpb::Entry> entries,
                                                const raftpb::HardState& hs) {
  StandaloneLog out;
  // Uncommitted entries are dropped, as etcd: they may conflict with what the others
  // committed, and no client was told they happened.
  while (!entries.empty() && entries.back().index() > hs.commit()) entries.pop_back();

  absl::btree_set<uint64_t> ids(snapshot_conf_state.voters().begin(),
                                snapshot_conf_state.voters().end());
  ids.insert(snapshot_conf_state.learners().begin(), snapshot_conf_state.learners().end());
  for (const raftpb::Entry& e : entries) {
    if (e.type() != raftpb::EntryConfChange) continue;
    raftpb::ConfChange cc;
    if (!cc.ParseFromString(e.data())) {
      return absl::DataLossError(
          absl::StrFormat("unparseable configuration change in committed entry %d", e.index()));
    }
    switch (cc.type()) {
      case raftpb::ConfChangeAddNode:
      case raftpb::ConfChangeAddLearnerNode: ids.insert(cc.node_id()); break;
      case raftpb::ConfChangeRemoveNode: ids.erase(cc.node_id()); break;
      default: break;
    }
  }
  if (!ids.contains(self_id)) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "--force-new-cluster: member %x is not in its own cluster's configuration", self_id));
  }

  uint64_t index = hs.commit();
  for (uint64_t id : ids) {
    if (id == self_id) continue;
    raftpb::ConfChange cc;
    cc.set_type(raftpb::ConfChangeRemoveNode);
    cc.set_node_id(id);
    serverpb::ConfChangeContext context;  // request ID 0: no client waits for it
    context.mutable_member()->set_id(id);
    cc.set_context(context.SerializeAsString());
    raftpb::Entry& e = out.appended.emplace_back();
    e.set_type(raftpb::EntryConfChange);
    e.set_term(hs.term());
    e.set_index(++index);
    e.set_data(cc.SerializeAsString());
    out.removed_ids.push_back(id);
  }
  out.hard_state = hs;
  out.hard_state.set_commit(index);
  out.entries = std::move(entries);
  out.entries.insert(out.entries.end(), out.appended.begin(), out.appended.end());
  return out;
}

}  // namespace keel::server
