#include "raft/describe.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "raft/confchange.h"

namespace keel::raft {
namespace {

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c >= 0x20 && c < 0x7f) {
      out += c;
    } else {
      absl::StrAppendFormat(&out, "\\x%02x", static_cast<unsigned char>(c));
    }
  }
  return out + "\"";
}

template <typename R>
std::string Ids(const R& r) {
  return absl::StrJoin(std::vector<uint64_t>(r.begin(), r.end()), " ");
}

}  // namespace

std::string DescribeConfChange(const raftpb::ConfChangeV2& cc) {
  std::vector<std::string> parts;
  if (cc.transition() == raftpb::ConfChangeTransitionJointImplicit) parts.push_back("implicit");
  if (cc.transition() == raftpb::ConfChangeTransitionJointExplicit) parts.push_back("explicit");
  for (const auto& c : cc.changes()) {
    const char* prefix = "?";
    switch (c.type()) {
      case raftpb::ConfChangeAddNode:
        prefix = "v";
        break;
      case raftpb::ConfChangeRemoveNode:
        prefix = "r";
        break;
      case raftpb::ConfChangeUpdateNode:
        prefix = "u";
        break;
      case raftpb::ConfChangeAddLearnerNode:
        prefix = "l";
        break;
    }
    parts.push_back(absl::StrCat(prefix, c.node_id()));
  }
  if (cc.changes_size() == 0) parts.push_back("leave-joint");
  return absl::StrJoin(parts, " ");
}

std::string DescribeEntry(const raftpb::Entry& e) {
  std::string out = absl::StrFormat("%d/%d %s", e.term(), e.index(),
                                    raftpb::EntryType_Name(e.type()));
  if (e.type() == raftpb::EntryConfChange) {
    raftpb::ConfChange cc;
    if (cc.ParseFromString(e.data())) {
      return absl::StrCat(out, " ", DescribeConfChange(ConfChangeAsV2(cc)));
    }
  } else if (e.type() == raftpb::EntryConfChangeV2) {
    raftpb::ConfChangeV2 cc;
    if (cc.ParseFromString(e.data())) return absl::StrCat(out, " ", DescribeConfChange(cc));
  }
  if (!e.data().empty()) absl::StrAppend(&out, " ", Quote(e.data()));
  return out;
}

std::string DescribeConfState(const raftpb::ConfState& cs) {
  std::string out = absl::StrCat("Voters:[", Ids(cs.voters()), "]");
  if (cs.voters_outgoing_size() > 0) {
    absl::StrAppend(&out, " VotersOutgoing:[", Ids(cs.voters_outgoing()), "]");
  }
  if (cs.learners_size() > 0) absl::StrAppend(&out, " Learners:[", Ids(cs.learners()), "]");
  if (cs.learners_next_size() > 0) {
    absl::StrAppend(&out, " LearnersNext:[", Ids(cs.learners_next()), "]");
  }
  if (cs.auto_leave()) absl::StrAppend(&out, " AutoLeave");
  return out;
}

std::string DescribeSnapshot(const raftpb::Snapshot& s) {
  return absl::StrFormat("Index:%d Term:%d ConfState:%s", s.metadata().index(),
                         s.metadata().term(), DescribeConfState(s.metadata().conf_state()));
}

std::string DescribeMessage(const raftpb::Message& m) {
  std::string out = absl::StrFormat("%d->%d %s Term:%d Log:%d/%d", m.from(), m.to(),
                                    raftpb::MessageType_Name(m.type()), m.term(), m.logterm(),
                                    m.index());
  if (m.reject()) absl::StrAppendFormat(&out, " Rejected (Hint: %d)", m.rejecthint());
  if (m.commit() != 0) absl::StrAppendFormat(&out, " Commit:%d", m.commit());
  if (m.entries_size() > 0) {
    std::vector<std::string> es;
    for (const auto& e : m.entries()) es.push_back(DescribeEntry(e));
    absl::StrAppend(&out, " Entries:[", absl::StrJoin(es, ", "), "]");
  }
  if (m.has_snapshot() && !(m.snapshot().metadata().index() == 0)) {
    absl::StrAppend(&out, " Snapshot: ", DescribeSnapshot(m.snapshot()));
  }
  if (!m.context().empty()) absl::StrAppend(&out, " Context:", Quote(m.context()));
  return out;
}

std::string DescribeHardState(const raftpb::HardState& hs) {
  return absl::StrFormat("Term:%d Vote:%d Commit:%d", hs.term(), hs.vote(), hs.commit());
}

std::string DescribeSoftState(const SoftState& ss) {
  return absl::StrFormat("Lead:%d State:%s", ss.lead, StateTypeName(ss.state));
}

std::string DescribeReady(const Ready& rd, const std::string& indent) {
  std::vector<std::string> lines;
  lines.push_back(absl::StrCat(indent, "Ready MustSync=", rd.must_sync ? "true" : "false", ":"));
  if (rd.soft_state) lines.push_back(indent + DescribeSoftState(*rd.soft_state));
  if (rd.hard_state) lines.push_back(indent + "HardState " + DescribeHardState(*rd.hard_state));
  if (!rd.read_states.empty()) {
    lines.push_back(indent + "ReadStates:");
    for (const auto& rs : rd.read_states) {
      lines.push_back(absl::StrFormat("%s  Index:%d RequestCtx:%s", indent, rs.index,
                                      Quote(rs.request_ctx)));
    }
  }
  if (rd.snapshot) lines.push_back(indent + "Snapshot " + DescribeSnapshot(*rd.snapshot));
  auto list = [&](const char* title, const std::vector<raftpb::Entry>& es) {
    if (es.empty()) return;
    lines.push_back(indent + title);
    for (const auto& e : es) lines.push_back(indent + "  " + DescribeEntry(e));
  };
  list("Entries:", rd.entries);
  list("CommittedEntries:", rd.committed_entries);
  auto msgs = [&](const char* title, const std::vector<raftpb::Message>& ms) {
    if (ms.empty()) return;
    lines.push_back(indent + title);
    for (const auto& m : ms) lines.push_back(indent + "  " + DescribeMessage(m));
  };
  msgs("Messages:", rd.messages);
  msgs("MessagesAfterPersist:", rd.messages_after_persist);
  return absl::StrJoin(lines, "\n");
}

}  // namespace keel::raft
