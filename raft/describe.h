// Human-readable one-line descriptions of Raft records, for logs, golden transcripts and
// debugging. Stable output: golden files depend on it, so change it deliberately.
//
//   DescribeEntry:    "1/3 EntryNormal \"foo\""  (term/index type data)
//   DescribeMessage:  "1->2 MsgApp Term:1 Log:1/2 Commit:2 Entries:[1/3 EntryNormal \"foo\"]"
#ifndef KEEL_RAFT_DESCRIBE_H_
#define KEEL_RAFT_DESCRIBE_H_

#include <string>

#include "raft/raftpb/raft.pb.h"
#include "raft/rawnode.h"

namespace keel::raft {

std::string DescribeEntry(const raftpb::Entry& e);
std::string DescribeMessage(const raftpb::Message& m);
std::string DescribeHardState(const raftpb::HardState& hs);
std::string DescribeSoftState(const SoftState& ss);
std::string DescribeSnapshot(const raftpb::Snapshot& s);
std::string DescribeConfState(const raftpb::ConfState& cs);
std::string DescribeConfChange(const raftpb::ConfChangeV2& cc);
// Multi-line, each line prefixed by `indent`; no trailing newline.
std::string DescribeReady(const Ready& rd, const std::string& indent);

}  // namespace keel::raft

#endif  // KEEL_RAFT_DESCRIBE_H_
