#include "papers/explain/story.h"

#include <cassert>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace keel::papers {
namespace {

struct NodeView {
  std::string role = "follower";
  uint64_t term = 0, lead = 0, vote = 0, commit = 0, last_index = 0, last_term = 0;
  bool up = true;
  std::map<uint64_t, uint64_t> log;  // index -> term, as written by raft.append
  uint64_t last_recv_id = 0;
};

struct SentMessage {
  uint64_t from = 0, to = 0, term = 0, index = 0, log_term = 0;
  std::string type;
  bool reject = false;
};

std::string Servers(const std::set<uint64_t>& ids) {
  return absl::StrJoin(ids, ", ", [](std::string* out, uint64_t id) { absl::StrAppend(out, "S", id); });
}

std::string LogDesc(uint64_t last_term, uint64_t last_index) {
  return absl::StrCat("last term ", last_term, ", index ", last_index);
}

// §5.4.1: a log is more up-to-date if its last term is higher, or equal with a longer log.
bool AtLeastAsUpToDate(uint64_t term_a, uint64_t index_a, uint64_t term_b, uint64_t index_b) {
  return term_a > term_b || (term_a == term_b && index_a >= index_b);
}

bool IsVoteRequest(const std::string& t) { return t == "MsgVote" || t == "MsgPreVote"; }
bool IsVoteResponse(const std::string& t) { return t == "MsgVoteResp" || t == "MsgPreVoteResp"; }

// Why a server starts (pre-)campaigning, in words.
std::string CandidacyReason(const std::string& me, const NodeView& old, const NodeView& now,
                            const std::string& cause) {
  const bool was_campaigning = old.role == "candidate" || old.role == "precandidate";
  if (old.role == "precandidate" && now.role == "candidate") {
    return absl::StrCat(me, "'s pre-vote succeeded (a majority said it would vote for it)");
  }
  if (cause != "tick") return absl::StrCat(me, " was told to campaign (", cause, ")");
  if (was_campaigning) {
    return absl::StrCat(me, "'s election timer fired again: its election in term ", old.term,
                        " won no majority (split vote or too few eligible votes)");
  }
  return absl::StrCat(me, "'s election timer fired in term ", old.term,
                      " (it heard from no leader for a whole election timeout)");
}

}  // namespace

class Storyteller {
 public:
  explicit Storyteller(const StoryOptions& options) : options_(options) {}

  void Handle(const TraceEvent& ev);
  std::vector<std::string> Finish();

 private:
  void Say(const TraceEvent& ev, const std::string& text);
  void OnSend(const TraceEvent& ev);
  void OnVoteResponse(const TraceEvent& ev, const SentMessage& resp);
  void OnState(const TraceEvent& ev);
  void OnRoleChange(const TraceEvent& ev, const NodeView& old, const NodeView& now);
  void OnCommit(const TraceEvent& ev, const NodeView& old, const NodeView& now);
  std::string LastMessageDesc(const NodeView& v) const;

  const StoryOptions options_;
  std::map<uint64_t, NodeView> nodes_;
  std::map<uint64_t, SentMessage> sent_;
  // Votes received per (candidate, term), the candidate's own included; and refusals.
  std::map<std::pair<uint64_t, uint64_t>, std::set<uint64_t>> granted_;
  std::map<std::pair<uint64_t, uint64_t>, std::set<uint64_t>> refused_;
  // Vote requests a node sent at one instant (they precede its raft.state record).
  std::map<uint64_t, std::pair<int64_t, std::set<uint64_t>>> vote_requests_;
  std::vector<std::string> lines_;
  size_t omitted_ = 0;
  // The line listing links cut (or restored) at one instant, to extend it.
  int64_t links_line_ns_ = -1;
  std::string links_line_kind_;
  size_t links_line_ = 0;
};

void Storyteller::Say(const TraceEvent& ev, const std::string& text) {
  if (ev.t_ns < options_.from_ns) return;
  if (lines_.size() >= options_.max_lines) {
    ++omitted_;
    return;
  }
  lines_.push_back(absl::StrFormat("t=%.1fms: %s", ev.t_ns / 1e6, text));
}

std::string Storyteller::LastMessageDesc(const NodeView& v) const {
  auto it = sent_.find(v.last_recv_id);
  if (it == sent_.end()) return "";
  return absl::StrCat(" after a ", it->second.type, " from S", it->second.from, " (term ",
                      it->second.term, ")");
}

void Storyteller::OnSend(const TraceEvent& ev) {
  SentMessage m{ev.node,
                static_cast<uint64_t>(ev.Int("to")),
                static_cast<uint64_t>(ev.Int("term")),
                static_cast<uint64_t>(ev.Int("index")),
                static_cast<uint64_t>(ev.Int("log_term")),
                ev.Str("type"),
                ev.Int("reject") != 0};
  sent_[static_cast<uint64_t>(ev.Int("id"))] = m;
  if (IsVoteRequest(m.type)) {
    auto& [t, to] = vote_requests_[ev.node];
    if (t != ev.t_ns) to.clear();
    t = ev.t_ns;
    to.insert(m.to);
  } else if (IsVoteResponse(m.type)) {
    OnVoteResponse(ev, m);
  }
}

void Storyteller::OnVoteResponse(const TraceEvent& ev, const SentMessage& resp) {
  const NodeView& voter = nodes_[resp.from];
  auto req_it = sent_.find(voter.last_recv_id);
  if (req_it == sent_.end() || !IsVoteRequest(req_it->second.type)) return;
  const SentMessage& req = req_it->second;
  const bool pre = req.type == "MsgPreVote";
  const std::string cand_log = LogDesc(req.log_term, req.index);
  const std::string own_log = LogDesc(voter.last_term, voter.last_index);
  const std::string what = pre ? absl::StrCat("in the pre-vote for term ", req.term)
                               : absl::StrCat("for term ", req.term);
  if (!resp.reject) {
    Say(ev, absl::StrCat("S", resp.from, " granted its vote to S", req.from, " ", what, ": S",
                         req.from, "'s log (", cand_log, ") is at least as up-to-date as its own (",
                         own_log, ")", pre ? "" : " and it had not voted for anyone else"));
    return;
  }
  std::string why;
  if (!AtLeastAsUpToDate(req.log_term, req.index, voter.last_term, voter.last_index)) {
    why = absl::StrCat("S", req.from, "'s log (", cand_log, ") is behind its own (", own_log,
                       "), and electing it could lose committed entries (5.4.1)");
  } else if (voter.term == req.term && voter.vote != 0 && voter.vote != req.from) {
    why = voter.vote == resp.from ? "it is a candidate itself and voted for itself"
                                  : absl::StrCat("it already voted for S", voter.vote,
                                                 " in that term (one vote per term)");
  } else if (voter.term > req.term) {
    why = absl::StrCat("it is already in the newer term ", voter.term);
  } else {
    why = "it still hears from a current leader";
  }
  Say(ev, absl::StrCat("S", resp.from, " refused S", req.from, " ", what, ": ", why));
}

void Storyteller::OnRoleChange(const TraceEvent& ev, const NodeView& old, const NodeView& now) {
  const std::string cause = ev.Str("cause");
  const std::string me = absl::StrCat("S", ev.node);
  auto asked = [&]() {
    auto it = vote_requests_.find(ev.node);
    // The driver of a Figure-16 trial sends at the same instant; a keelsim member sends
    // once its vote is durable, a little later, so then the recipients are not known yet.
    return it != vote_requests_.end() && it->second.first == ev.t_ns ? Servers(it->second.second)
                                                                       : std::string("the others");
  };
  if (now.role == "candidate" || now.role == "precandidate") {
    const std::string why = CandidacyReason(me, old, now, cause);
    if (now.role == "candidate") {
      granted_[{ev.node, now.term}] = {ev.node};
      Say(ev, absl::StrCat(why, "; it became a candidate for term ", now.term,
                           ", voted for itself and asked ", asked(), " for votes (its log: ",
                           LogDesc(now.last_term, now.last_index), ")"));
    } else {
      Say(ev, absl::StrCat(why, "; it started a pre-vote for term ", now.term + 1,
                           " without changing its term and asked ", asked()));
    }
    return;
  }
  if (now.role == "leader") {
    const std::set<uint64_t>& votes = granted_[{ev.node, now.term}];
    Say(ev, absl::StrCat(me, " won the election for term ", now.term, " with votes from ",
                         Servers(votes), " (", votes.size(), " of ", nodes_.size(),
                         " servers, a majority) and became leader; it appends an empty entry of "
                         "its term so earlier entries can commit"));
    return;
  }
  // Now a follower.
  if (old.role == "leader") {
    Say(ev, absl::StrCat(me, " stepped down as leader: it saw term ", now.term,
                         LastMessageDesc(now)));
  } else if (now.lead != 0) {
    Say(ev, absl::StrCat(me, " gave up its candidacy: S", now.lead, " is leader of term ",
                         now.term));
  } else if (old.role == "candidate" && now.term == old.term &&
             refused_.count({ev.node, now.term}) > 0) {
    Say(ev, absl::StrCat(me, " lost the election for term ", now.term, ": ",
                         Servers(refused_[{ev.node, now.term}]),
                         " refused, so it can no longer reach a majority; it waits as a "
                         "follower and restarts its election timer"));
  } else {
    Say(ev, absl::StrCat(me, " returned to follower in term ", now.term, LastMessageDesc(now)));
  }
}

void Storyteller::OnCommit(const TraceEvent& ev, const NodeView& old, const NodeView& now) {
  if (now.role != "leader" && !options_.follower_commits) return;
  const uint64_t first = old.commit + 1, last = now.commit;
  const uint64_t term = now.log.count(last) ? now.log.at(last) : 0;
  if (now.role != "leader") {
    Say(ev, absl::StrCat("S", ev.node, " learned that entries up to ", last, " are committed"));
    return;
  }
  std::set<uint64_t> stored;
  for (const auto& [id, v] : nodes_) {
    auto it = v.log.find(last);
    if (it != v.log.end() && it->second == term) stored.insert(id);
  }
  const std::string entries = first == last ? absl::StrCat("entry ", last)
                                            : absl::StrCat("entries ", first, "..", last);
  Say(ev, absl::StrCat(entries, " (term ", term, ") committed on leader S", ev.node,
                       ": a majority stores it (", Servers(stored), ")"));
}

void Storyteller::OnState(const TraceEvent& ev) {
  NodeView& v = nodes_[ev.node];
  const NodeView old = v;
  v.role = ev.Str("role");
  v.term = ev.Int("term");
  v.lead = ev.Int("lead");
  v.vote = ev.Int("vote");
  v.commit = ev.Int("commit");
  v.last_index = ev.Int("last_index");
  v.last_term = ev.Int("last_term");
  v.up = true;
  if (ev.Str("cause") == "start" || ev.Str("cause") == "restart") return;
  // A candidate whose election failed campaigns again in a new term: same role, new story.
  if (old.role != v.role || (v.role == "candidate" && v.term != old.term)) {
    OnRoleChange(ev, old, v);
  } else if (v.role == "follower" && v.term > old.term && v.lead == 0) {
    Say(ev, absl::StrCat("S", ev.node, " moved from term ", old.term, " to term ", v.term,
                         LastMessageDesc(v), "; it resets its election timer"));
  }
  if (v.role == "follower" && v.lead != 0 && (v.lead != old.lead || v.term != old.term)) {
    Say(ev, absl::StrCat("S", ev.node, " learned that S", v.lead, " leads term ", v.term,
                         LastMessageDesc(v)));
  }
  if (v.commit > old.commit) OnCommit(ev, old, v);
}

void Storyteller::Handle(const TraceEvent& ev) {
  const std::string& k = ev.kind;
  if (k == "raft.send") {
    OnSend(ev);
  } else if (k == "raft.recv") {
    nodes_[ev.node].last_recv_id = ev.Int("id");
    auto it = sent_.find(ev.Int("id"));
    if (it != sent_.end() && IsVoteResponse(it->second.type)) {
      auto& tally = it->second.reject ? refused_ : granted_;
      tally[{ev.node, it->second.term}].insert(it->second.from);
    }
  } else if (k == "raft.append") {
    auto& log = nodes_[ev.node].log;
    log.erase(log.lower_bound(ev.Int("index")), log.end());
    log[ev.Int("index")] = ev.Int("term");
  } else if (k == "raft.state") {
    OnState(ev);
  } else if (k == "node.crash") {
    NodeView& v = nodes_[ev.node];
    Say(ev, absl::StrCat("S", ev.node, " crashed", v.role == "leader"
                                                       ? absl::StrCat(" while leading term ", v.term)
                                                       : std::string(),
                         "; its timers stop and messages to it are lost"));
    v.up = false;
  } else if (k == "node.restart") {
    Say(ev, absl::StrCat("S", ev.node, " restarted from what it had stored on disk"));
  } else if (k == "fig16.lagging") {
    Say(ev, absl::StrCat("S", ev.node, "'s log is held back: appends beyond index ",
                         ev.Int("cutoff_index"), " are dropped until the crash"));
  } else if (k == "fig16.crash_planned") {
    Say(ev, absl::StrFormat("S%d just broadcast heartbeats; the experiment will crash it "
                            "%.1fms from now", ev.Int("victim"), ev.Int("offset_ns") / 1e6));
  } else if (k == "fig16.leader_known") {
    Say(ev, absl::StrFormat("every surviving server now knows S%d leads term %d: the cluster "
                            "was without a leader for %.1fms",
                            ev.Int("leader"), ev.Int("term"), ev.Int("downtime_ns") / 1e6));
  } else if (k == "net.block" || k == "net.unblock") {
    // A partition cuts many links at one instant: one line lists them all.
    const std::string link = absl::StrCat("S", ev.Int("from"), " -> S", ev.Int("to"));
    if (links_line_ns_ == ev.t_ns && links_line_kind_ == k && lines_.size() == links_line_) {
      absl::StrAppend(&lines_.back(), ", ", link);
      return;
    }
    const size_t before = lines_.size();
    Say(ev, absl::StrCat("the network ", k == "net.block" ? "cut" : "restored", " the link(s) ",
                         link));
    // Only a line just written may be extended (not one before a from_ms or max_lines cut).
    links_line_ns_ = lines_.size() > before ? ev.t_ns : -1;
    links_line_kind_ = k;
    links_line_ = lines_.size();
  } else if (k == "node.pause" || k == "node.resume") {
    Say(ev, absl::StrCat("S", ev.node, k == "node.pause"
                                           ? " was paused (SIGSTOP): its clock runs on but it does nothing"
                                           : " resumed and handles what arrived meanwhile"));
  } else if (k == "node.refused") {
    Say(ev, absl::StrCat("S", ev.node, " refused to start: ", ev.Str("reason"),
                         "; it stays down rather than serve damaged state"));
  } else if (k == "node.fatal") {
    Say(ev, absl::StrCat("S", ev.node, " hit a fatal error and exits: ", ev.Str("reason")));
  } else if (k == "fault") {
    Say(ev, absl::StrCat("the fault schedule injects '", ev.Str("kind"), "' on S", ev.Int("node")));
  } else if (k == "phase.liveness") {
    Say(ev, "faults stop and every partition heals: the cluster must now elect a leader, serve "
            "and converge");
  } else if (k == "net.heal") {
    Say(ev, "the network healed: every link works again");
  } else if (k == "disk.fault") {
    Say(ev, absl::StrCat("S", ev.node, "'s disk failed a ", ev.Str("op"), " on ",
                         ev.Str("path")));
  }
}

std::vector<std::string> Storyteller::Finish() {
  if (omitted_ > 0) lines_.push_back(absl::StrCat("(", omitted_, " more lines left out)"));
  return std::move(lines_);
}

std::vector<std::string> ExplainTrace(const std::vector<TraceEvent>& events,
                                      const StoryOptions& options) {
  Storyteller teller(options);
  for (const TraceEvent& ev : events) teller.Handle(ev);
  return teller.Finish();
}

StoryWriter::StoryWriter(const StoryOptions& options)
    : teller_(std::make_unique<Storyteller>(options)) {}
StoryWriter::~StoryWriter() = default;
void StoryWriter::Add(const TraceEvent& ev) { teller_->Handle(ev); }
std::vector<std::string> StoryWriter::Finish() { return teller_->Finish(); }

bool StoryUsesKind(std::string_view kind) {
  auto starts = [&](std::string_view p) { return kind.substr(0, p.size()) == p; };
  return starts("raft.") || starts("node.") || starts("fig16.") || kind == "net.block" ||
         kind == "net.unblock" || kind == "net.heal" || kind == "disk.fault" || kind == "fault" ||
         kind == "phase.liveness";
}

}  // namespace keel::papers
