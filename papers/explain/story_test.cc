// The explain story on a real Figure-16 trace and on a hand-written one whose every line
// we can predict.
#include "papers/explain/story.h"

#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "papers/explain/trace_event.h"
#include "papers/raft-figure16/election_trial.h"

namespace keel::papers {
namespace {

using ::testing::HasSubstr;

std::vector<TraceEvent> Parse(const std::string& jsonl) {
  std::istringstream in(jsonl);
  absl::StatusOr<std::vector<TraceEvent>> events = ReadTrace(in, 1 << 20);
  EXPECT_TRUE(events.ok()) << events.status();
  return events.ok() ? *events : std::vector<TraceEvent>{};
}

int CountContaining(const std::vector<std::string>& lines, const std::string& needle) {
  int n = 0;
  for (const std::string& l : lines) n += absl::StrContains(l, needle);
  return n;
}

TEST(TraceEvent, ParsesTheSimTraceFormat) {
  absl::StatusOr<TraceEvent> ev = ParseTraceLine(
      R"({"t_ns":1500,"node":2,"kind":"net.send","detail":{"to":1,"ok":true,"s":"a\"b\u0041","h":18446744073709551615}})");
  ASSERT_TRUE(ev.ok()) << ev.status();
  EXPECT_EQ(ev->t_ns, 1500);
  EXPECT_EQ(ev->node, 2u);
  EXPECT_EQ(ev->kind, "net.send");
  EXPECT_EQ(ev->Int("to"), 1);
  EXPECT_EQ(ev->Int("ok"), 1);
  EXPECT_EQ(ev->Str("s"), "a\"bA");
  EXPECT_EQ(static_cast<uint64_t>(ev->Int("h")), ~uint64_t{0});
  EXPECT_EQ(ev->Int("missing", -7), -7);
}

TEST(TraceEvent, RejectsMalformedRecords) {
  for (const char* bad : {"", "{", R"({"t_ns":1})", R"({"kind":"x"})",
                          R"({"t_ns":1,"node":0,"kind":"x","detail":{"a":[1]}})",
                          R"({"t_ns":1,"node":0,"kind":"x"} trailing)"}) {
    EXPECT_FALSE(ParseTraceLine(bad).ok()) << bad;
  }
  std::istringstream in("{\"t_ns\":1,\"node\":0,\"kind\":\"a\",\"detail\":{}}\nnot json\n");
  absl::StatusOr<std::vector<TraceEvent>> events = ReadTrace(in, 10);
  ASSERT_FALSE(events.ok());
  EXPECT_THAT(std::string(events.status().message()), HasSubstr("line 2"));
}

// S3 campaigns; S1 and S4 grant, S2 (longer log) refuses; with its own vote S3 has 3 of 5
// and leads. Then entry 5 commits once S1, S3 and S4 store it.
TEST(Story, TellsWhyVotesWereGrantedOrRefused) {
  const std::string trace = R"(
{"t_ns":0,"node":1,"kind":"raft.state","detail":{"role":"follower","term":1,"lead":0,"vote":0,"commit":4,"last_index":4,"last_term":1,"cause":"start"}}
{"t_ns":0,"node":2,"kind":"raft.state","detail":{"role":"follower","term":1,"lead":0,"vote":0,"commit":4,"last_index":6,"last_term":1,"cause":"start"}}
{"t_ns":0,"node":3,"kind":"raft.state","detail":{"role":"follower","term":1,"lead":0,"vote":0,"commit":4,"last_index":4,"last_term":1,"cause":"start"}}
{"t_ns":0,"node":4,"kind":"raft.state","detail":{"role":"follower","term":1,"lead":0,"vote":0,"commit":4,"last_index":4,"last_term":1,"cause":"start"}}
{"t_ns":0,"node":5,"kind":"raft.state","detail":{"role":"follower","term":1,"lead":0,"vote":0,"commit":4,"last_index":4,"last_term":1,"cause":"start"}}
{"t_ns":153000000,"node":3,"kind":"raft.send","detail":{"id":1,"to":1,"type":"MsgVote","term":2,"index":4,"log_term":1,"entries":0,"last_entry":0,"commit":4,"reject":false}}
{"t_ns":153000000,"node":3,"kind":"raft.send","detail":{"id":2,"to":2,"type":"MsgVote","term":2,"index":4,"log_term":1,"entries":0,"last_entry":0,"commit":4,"reject":false}}
{"t_ns":153000000,"node":3,"kind":"raft.send","detail":{"id":3,"to":4,"type":"MsgVote","term":2,"index":4,"log_term":1,"entries":0,"last_entry":0,"commit":4,"reject":false}}
{"t_ns":153000000,"node":3,"kind":"raft.state","detail":{"role":"candidate","term":2,"lead":0,"vote":3,"commit":4,"last_index":4,"last_term":1,"cause":"tick"}}
{"t_ns":160000000,"node":1,"kind":"raft.recv","detail":{"id":1,"from":3}}
{"t_ns":160000000,"node":1,"kind":"raft.send","detail":{"id":4,"to":3,"type":"MsgVoteResp","term":2,"index":0,"log_term":0,"entries":0,"last_entry":0,"commit":0,"reject":false}}
{"t_ns":160000000,"node":1,"kind":"raft.state","detail":{"role":"follower","term":2,"lead":0,"vote":3,"commit":4,"last_index":4,"last_term":1,"cause":"recv"}}
{"t_ns":161000000,"node":2,"kind":"raft.recv","detail":{"id":2,"from":3}}
{"t_ns":161000000,"node":2,"kind":"raft.send","detail":{"id":5,"to":3,"type":"MsgVoteResp","term":2,"index":0,"log_term":0,"entries":0,"last_entry":0,"commit":0,"reject":true}}
{"t_ns":161000000,"node":2,"kind":"raft.state","detail":{"role":"follower","term":2,"lead":0,"vote":0,"commit":4,"last_index":6,"last_term":1,"cause":"recv"}}
{"t_ns":162000000,"node":4,"kind":"raft.recv","detail":{"id":3,"from":3}}
{"t_ns":162000000,"node":4,"kind":"raft.send","detail":{"id":6,"to":3,"type":"MsgVoteResp","term":2,"index":0,"log_term":0,"entries":0,"last_entry":0,"commit":0,"reject":false}}
{"t_ns":167000000,"node":3,"kind":"raft.recv","detail":{"id":4,"from":1}}
{"t_ns":168000000,"node":3,"kind":"raft.recv","detail":{"id":5,"from":2}}
{"t_ns":169000000,"node":3,"kind":"raft.recv","detail":{"id":6,"from":4}}
{"t_ns":169000000,"node":3,"kind":"raft.append","detail":{"index":5,"term":2}}
{"t_ns":169000000,"node":3,"kind":"raft.state","detail":{"role":"leader","term":2,"lead":3,"vote":3,"commit":4,"last_index":5,"last_term":2,"cause":"recv"}}
{"t_ns":175000000,"node":1,"kind":"raft.append","detail":{"index":5,"term":2}}
{"t_ns":175000000,"node":4,"kind":"raft.append","detail":{"index":5,"term":2}}
{"t_ns":182000000,"node":3,"kind":"raft.state","detail":{"role":"leader","term":2,"lead":3,"vote":3,"commit":5,"last_index":5,"last_term":2,"cause":"recv"}}
{"t_ns":190000000,"node":3,"kind":"node.crash","detail":{}}
)";
  const std::vector<std::string> story = ExplainTrace(Parse(trace));
  ASSERT_GE(story.size(), 6u);
  EXPECT_EQ(story[0],
            "t=153.0ms: S3's election timer fired in term 1 (it heard from no leader for a whole "
            "election timeout); it became a candidate for term 2, voted for itself and asked S1, "
            "S2, S4 for votes (its log: last term 1, index 4)");
  EXPECT_EQ(story[1],
            "t=160.0ms: S1 granted its vote to S3 for term 2: S3's log (last term 1, index 4) is "
            "at least as up-to-date as its own (last term 1, index 4) and it had not voted for "
            "anyone else");
  EXPECT_EQ(CountContaining(story, "t=161.0ms: S2 refused S3 for term 2: S3's log (last term 1, "
                                   "index 4) is behind its own (last term 1, index 6)"), 1);
  // A refused vote still moves the voter to the candidate's term (and resets its timer).
  EXPECT_EQ(CountContaining(story, "S2 moved from term 1 to term 2 after a MsgVote from S3"), 1);
  EXPECT_EQ(CountContaining(story, "S4 granted its vote to S3"), 1);
  EXPECT_EQ(CountContaining(story, "t=169.0ms: S3 won the election for term 2 with votes from "
                                   "S1, S3, S4 (3 of 5 servers"), 1);
  EXPECT_EQ(CountContaining(story, "t=182.0ms: entry 5 (term 2) committed on leader S3: a "
                                   "majority stores it (S1, S3, S4)"), 1);
  EXPECT_EQ(story.back(), "t=190.0ms: S3 crashed while leading term 2; its timers stop and "
                          "messages to it are lost");
  StoryOptions late;
  late.from_ns = 170'000'000;
  EXPECT_EQ(ExplainTrace(Parse(trace), late).size(), 2u);
  StoryOptions short_story;
  short_story.max_lines = 2;
  const std::vector<std::string> cut = ExplainTrace(Parse(trace), short_story);
  ASSERT_EQ(cut.size(), 3u);
  EXPECT_THAT(cut.back(), HasSubstr("more lines left out"));
}

// A candidate that a majority refuses gives up in the same term (as in etcd-io/raft).
TEST(Story, TellsWhenAMajorityRefused) {
  const std::string trace = R"(
{"t_ns":0,"node":1,"kind":"raft.state","detail":{"role":"follower","term":1,"lead":0,"vote":0,"commit":1,"last_index":1,"last_term":1,"cause":"start"}}
{"t_ns":0,"node":2,"kind":"raft.state","detail":{"role":"follower","term":1,"lead":0,"vote":0,"commit":1,"last_index":3,"last_term":1,"cause":"start"}}
{"t_ns":0,"node":3,"kind":"raft.state","detail":{"role":"follower","term":1,"lead":0,"vote":0,"commit":1,"last_index":3,"last_term":1,"cause":"start"}}
{"t_ns":1000000,"node":1,"kind":"raft.send","detail":{"id":1,"to":2,"type":"MsgVote","term":2,"index":1,"log_term":1,"reject":false}}
{"t_ns":1000000,"node":1,"kind":"raft.send","detail":{"id":2,"to":3,"type":"MsgVote","term":2,"index":1,"log_term":1,"reject":false}}
{"t_ns":1000000,"node":1,"kind":"raft.state","detail":{"role":"candidate","term":2,"lead":0,"vote":1,"commit":1,"last_index":1,"last_term":1,"cause":"tick"}}
{"t_ns":2000000,"node":2,"kind":"raft.recv","detail":{"id":1,"from":1}}
{"t_ns":2000000,"node":2,"kind":"raft.send","detail":{"id":3,"to":1,"type":"MsgVoteResp","term":2,"reject":true}}
{"t_ns":2000000,"node":3,"kind":"raft.recv","detail":{"id":2,"from":1}}
{"t_ns":2000000,"node":3,"kind":"raft.send","detail":{"id":4,"to":1,"type":"MsgVoteResp","term":2,"reject":true}}
{"t_ns":3000000,"node":1,"kind":"raft.recv","detail":{"id":3,"from":2}}
{"t_ns":3000000,"node":1,"kind":"raft.recv","detail":{"id":4,"from":3}}
{"t_ns":3000000,"node":1,"kind":"raft.state","detail":{"role":"follower","term":2,"lead":0,"vote":1,"commit":1,"last_index":1,"last_term":1,"cause":"recv"}}
)";
  const std::vector<std::string> story = ExplainTrace(Parse(trace));
  EXPECT_EQ(CountContaining(story, "S2 refused S1 for term 2: S1's log (last term 1, index 1) "
                                   "is behind its own (last term 1, index 3)"), 1);
  EXPECT_EQ(story.back(), "t=3.0ms: S1 lost the election for term 2: S2, S3 refused, so it can "
                          "no longer reach a majority; it waits as a follower and restarts its "
                          "election timer");
}

// On a real trial the story names the crash, every post-crash candidacy and the winner.
TEST(Story, NarratesAFigure16Trial) {
  for (uint64_t seed : {1, 2, 3}) {
    TrialOptions options;
    options.timeout = {150, 175};
    std::ostringstream trace;
    absl::StatusOr<TrialResult> r = RunElectionTrial(options, seed, &trace);
    ASSERT_TRUE(r.ok()) << r.status();
    const std::vector<TraceEvent> events = Parse(trace.str());
    const std::vector<std::string> story = ExplainTrace(events);
    int crash_line = -1;
    for (size_t i = 0; i < story.size(); ++i) {
      if (absl::StrContains(story[i], absl::StrCat("S", r->old_leader, " crashed while leading"))) {
        crash_line = static_cast<int>(i);
      }
    }
    ASSERT_GE(crash_line, 0) << "seed " << seed;
    const std::vector<std::string> after(story.begin() + crash_line, story.end());
    EXPECT_EQ(CountContaining(after, "became a candidate for term"), r->elections);
    EXPECT_EQ(CountContaining(after, absl::StrCat("S", r->new_leader,
                                                  " won the election for term ", r->new_term)),
              1);
    EXPECT_THAT(story.back(), HasSubstr("every surviving server now knows"));
    // Before the crash: the warm-up election and the commits of the proposals.
    EXPECT_EQ(CountContaining(story, "S1 won the election for term 1"), 1);
    EXPECT_GE(CountContaining(story, "committed on leader S1"), 1);
    EXPECT_GE(CountContaining(story, "log is held back"), 2);
  }
}

// With PreVote the story distinguishes the pre-vote from the real election.
TEST(Story, NarratesPreVote) {
  TrialOptions options;
  options.timeout = {150, 155};
  options.pre_vote = true;
  std::ostringstream trace;
  absl::StatusOr<TrialResult> r = RunElectionTrial(options, 5, &trace);
  ASSERT_TRUE(r.ok()) << r.status();
  const std::vector<std::string> story = ExplainTrace(Parse(trace.str()));
  EXPECT_GE(CountContaining(story, "started a pre-vote for term"), 1);
  EXPECT_GE(CountContaining(story, "in the pre-vote for term"), 1);
  EXPECT_GE(CountContaining(story, absl::StrCat("S", r->new_leader, "'s pre-vote succeeded")), 1);
  EXPECT_EQ(CountContaining(story, absl::StrCat("S", r->new_leader, " won the election for term ",
                                                r->new_term)),
            1);
}

}  // namespace
}  // namespace keel::papers

namespace keel::papers {
namespace {

// Cluster-only events (keelsim): a partition is one line, faults and pauses are told, and
// a line cut by max_lines is never extended by a later link.
TEST(Story, TellsClusterFaults) {
  const std::string trace = R"(
{"t_ns":0,"node":0,"kind":"fault","detail":{"kind":"isolate","node":2}}
{"t_ns":0,"node":0,"kind":"net.block","detail":{"from":2,"to":1}}
{"t_ns":0,"node":0,"kind":"net.block","detail":{"from":1,"to":2}}
{"t_ns":1000000,"node":3,"kind":"node.pause","detail":{}}
{"t_ns":2000000,"node":0,"kind":"net.heal","detail":{}}
)";
  const std::vector<std::string> story = ExplainTrace(Parse(trace));
  ASSERT_EQ(story.size(), 4u);
  EXPECT_EQ(story[0], "t=0.0ms: the fault schedule injects 'isolate' on S2");
  EXPECT_EQ(story[1], "t=0.0ms: the network cut the link(s) S2 -> S1, S1 -> S2");
  EXPECT_THAT(story[2], HasSubstr("S3 was paused"));
  StoryOptions one;
  one.max_lines = 1;
  const std::vector<std::string> cut = ExplainTrace(Parse(trace), one);
  ASSERT_EQ(cut.size(), 2u);
  EXPECT_EQ(cut[0], "t=0.0ms: the fault schedule injects 'isolate' on S2");
  EXPECT_EQ(cut[1], "(4 more lines left out)");
}

TEST(NodeRenamer, KeepsSmallIdsAndNumbersBigOnesByFirstAppearance) {
  std::vector<TraceEvent> events = Parse(R"(
{"t_ns":0,"node":3,"kind":"node.start","detail":{}}
{"t_ns":0,"node":900000000000,"kind":"node.start","detail":{}}
{"t_ns":0,"node":17271105591216381163,"kind":"node.start","detail":{}}
{"t_ns":1,"node":17271105591216381163,"kind":"raft.state","detail":{"lead":900000000000,"vote":0,"term":12345678901}}
)");
  NodeRenamer renamer;
  for (TraceEvent& ev : events) renamer.Rename(&ev);
  EXPECT_EQ(events[0].node, 3u);
  EXPECT_EQ(events[1].node, 1u);
  EXPECT_EQ(events[2].node, 2u);
  EXPECT_EQ(events[3].node, 2u);
  EXPECT_EQ(events[3].Int("lead"), 1);
  EXPECT_EQ(events[3].Int("term"), 12345678901);  // not a node field
  EXPECT_TRUE(renamer.renumbered());
}

TEST(LineSink, HandsOverWholeLinesHoweverTheyAreWritten) {
  std::vector<std::string> lines;
  LineSink sink([&](std::string_view l) { lines.emplace_back(l); });
  std::ostream out(&sink);
  out << "{\"a\":" << 1 << "}\n" << 'x' << "y\nlast";
  out.flush();
  EXPECT_EQ(lines, (std::vector<std::string>{"{\"a\":1}", "xy"}));
  sink.Flush();
  EXPECT_EQ(lines.back(), "last");
  EXPECT_EQ(PeekKind("{\"t_ns\":1,\"node\":2,\"kind\":\"raft.send\",\"detail\":{}}"), "raft.send");
  EXPECT_EQ(PeekKind("{\"t_ns\":1}"), "");
}

}  // namespace
}  // namespace keel::papers
