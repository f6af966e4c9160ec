// InteractionEnv: runs the commands of raft/testdata/*.txt against a set of RawNodes and
// prints exactly what happens (Readies, messages, logs), so transcripts can be diffed.
//
// Commands (ids are node ids, 1-based):
//   add-nodes <n> [voters=(..)] [learners=(..)] [index=<i>] [prevote=true]
//             [checkquorum=true] [read-only=lease] [max-inflight=<n>]
//             [max-size-per-msg=<n>] [max-uncommitted-size=<n>] [disable-forwarding=true]
//             [election=<ticks>] [heartbeat=<ticks>]
//   campaign <id>                 propose <id> <data>           read-index <id> <ctx>
//   propose-conf-change <id> [v1=true] [transition=implicit|explicit]
//       followed by one input line of changes: v<id> (voter) l<id> (learner) r<id>
//       (remove) u<id> (update)
//   tick <id> [<n>]               tick-heartbeat <id>           tick-election <id>
//       (tick-election ticks exactly until the node's randomized election timer fires)
//   process-ready <id>...         deliver-msgs [<id>...] [drop=(<id>,..)]
//   stabilize [<id>...]           (process-ready + deliver-msgs until quiet)
//   compact <id> <index>          transfer-leadership from=<id> to=<id>
//   report-unreachable <id> <peer>
//   isolate <id>                  heal
//       (messages from or to an isolated node are lost: queued ones at once, new ones
//       when sent)
//   restart <id>                  (crash: keep only what was persisted, start again)
//   raft-log <id>                 raft-state   status <id>
#ifndef KEEL_RAFT_TESTING_INTERACTION_ENV_H_
#define KEEL_RAFT_TESTING_INTERACTION_ENV_H_

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "raft/raftpb/raft.pb.h"
#include "raft/testing/datadriven.h"

namespace keel::raft::testing {

class InteractionEnv {
 public:
  InteractionEnv();
  ~InteractionEnv();

  // Runs one command and returns its output (never empty, no blank lines).
  std::string Handle(const TestCase& tc);

 private:
  struct Node;

  void AddNodes(const TestCase& tc);
  void StartNode(Node& n);
  bool ProcessReady(uint64_t id);
  bool DeliverMsgs(uint64_t id, bool drop);
  void Stabilize(const std::vector<uint64_t>& ids);
  void ProposeConfChange(const TestCase& tc);
  void TickElection(uint64_t id);
  void RaftLog(uint64_t id);
  void RaftState();
  void Status(uint64_t id);
  void Compact(uint64_t id, uint64_t index);
  void Print(const std::string& line) { out_.push_back(line); }
  Node& node(uint64_t id);
  std::vector<uint64_t> AllIds() const;
  std::vector<uint64_t> IdsOrAll(const TestCase& tc) const;

  std::vector<std::unique_ptr<Node>> nodes_;
  // Messages sent but not yet delivered, in send order.
  std::vector<raftpb::Message> messages_;
  std::set<uint64_t> isolated_;
  std::vector<std::string> out_;
};

}  // namespace keel::raft::testing

#endif  // KEEL_RAFT_TESTING_INTERACTION_ENV_H_
