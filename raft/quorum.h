// Quorum arithmetic: majority and joint (two-majority) configurations.
//
// A MajorityConfig is a set of voter ids. A JointConfig is (incoming, outgoing); during a
// membership change both must agree (§6 / thesis §4.3), and when not joint the outgoing
// half is empty and agrees with everything.
#ifndef KEEL_RAFT_QUORUM_H_
#define KEEL_RAFT_QUORUM_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "absl/functional/function_ref.h"

namespace keel::raft {

enum class VoteResult { kPending, kLost, kWon };

// Returns the acknowledged (durable) index of a voter, or nullopt if unknown.
using AckedIndexFn = absl::FunctionRef<std::optional<uint64_t>(uint64_t id)>;

class MajorityConfig {
 public:
  MajorityConfig() = default;
  explicit MajorityConfig(std::set<uint64_t> ids) : ids_(std::move(ids)) {}

  // The largest index acknowledged by a majority. An empty config returns kNoLimit (max)
  // so that it never holds back a joint config.
  uint64_t CommittedIndex(AckedIndexFn acked) const;
  // Election outcome given the votes cast so far (true = granted). Empty config wins.
  VoteResult Vote(const std::map<uint64_t, bool>& votes) const;
  std::string ToString() const;  // "(1 2 3)"

  const std::set<uint64_t>& ids() const { return ids_; }
  std::set<uint64_t>& mutable_ids() { return ids_; }
  bool empty() const { return ids_.empty(); }
  bool Contains(uint64_t id) const { return ids_.count(id) > 0; }

 private:
  std::set<uint64_t> ids_;
};

struct JointConfig {
  MajorityConfig incoming;
  MajorityConfig outgoing;

  bool IsJoint() const { return !outgoing.empty(); }
  std::set<uint64_t> Ids() const;  // Union of both halves.
  bool Contains(uint64_t id) const { return incoming.Contains(id) || outgoing.Contains(id); }
  uint64_t CommittedIndex(AckedIndexFn acked) const;
  VoteResult Vote(const std::map<uint64_t, bool>& votes) const;
  std::string ToString() const;  // "(1 2 3)&&(1 2)" when joint
};

}  // namespace keel::raft

#endif  // KEEL_RAFT_QUORUM_H_
