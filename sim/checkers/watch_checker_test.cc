#include "sim/checkers/watch_checker.h"

#include <utility>

#include "gtest/gtest.h"

namespace keel::sim::checkers {
namespace {

WatchEvent PutEvent(std::string key, std::string value, int64_t rev) {
  WatchEvent e;
  e.type = EventType::kPut;
  e.key = std::move(key);
  e.value = std::move(value);
  e.mod_revision = rev;
  return e;
}

WatchEvent DeleteEvent(std::string key, int64_t rev) {
  WatchEvent e;
  e.type = EventType::kDelete;
  e.key = std::move(key);
  e.mod_revision = rev;
  return e;
}

WatchEvent WithPrev(WatchEvent e, std::string value, int64_t rev) {
  e.has_prev_kv = true;
  e.prev_value = std::move(value);
  e.prev_mod_revision = rev;
  return e;
}

// rev 1: a=1; rev 2: b=1; rev 3: txn {a=2, delete b}; rev 4: delete a; rev 5: c=1.
CommittedLog Log() {
  std::map<int64_t, std::vector<WatchEvent>> writes;
  writes[1] = {PutEvent("a", "1", 1)};
  writes[2] = {PutEvent("b", "1", 2)};
  writes[3] = {PutEvent("a", "2", 3), DeleteEvent("b", 3)};
  writes[4] = {DeleteEvent("a", 4)};
  writes[5] = {PutEvent("c", "1", 5)};
  absl::StatusOr<CommittedLog> log = CommittedLog::Create(std::move(writes), true);
  EXPECT_TRUE(log.ok()) << log.status();
  return std::move(*log);
}

WatchResponse Events(int64_t header_revision, std::vector<WatchEvent> events) {
  WatchResponse r;
  r.header_revision = header_revision;
  r.events = std::move(events);
  return r;
}

WatchResponse Created(int64_t header_revision) {
  WatchResponse r;
  r.header_revision = header_revision;
  r.created = true;
  return r;
}

WatchResponse Progress(int64_t header_revision) { return Events(header_revision, {}); }

// A watcher on [a, c) from revision 1 with prev_kv that received everything correctly.
WatcherHistory GoodWatcher() {
  WatcherHistory w;
  w.name = "w1";
  w.key = "a";
  w.range_end = "c";
  w.start_revision = 1;
  w.prev_kv = true;
  w.responses = {
      Created(5),
      Events(5, {PutEvent("a", "1", 1), PutEvent("b", "1", 2)}),
      Events(5, {WithPrev(PutEvent("a", "2", 3), "1", 1), WithPrev(DeleteEvent("b", 3), "1", 2)}),
      Events(5, {WithPrev(DeleteEvent("a", 4), "2", 3)}),
      Progress(5),
  };
  return w;
}

std::string PropertyOf(const CommittedLog& log, const WatcherHistory& w) {
  std::optional<Violation> v = CheckWatcher(log, w);
  return v ? v->property : "ok";
}

TEST(WatchChecker, CorrectWatcherPasses) {
  const CommittedLog log = Log();
  EXPECT_EQ(PropertyOf(log, GoodWatcher()), "ok");
}

TEST(WatchChecker, OrderedEventsRevisionsIncrease) {
  const CommittedLog log = Log();
  WatcherHistory w = GoodWatcher();
  std::swap(w.responses[1].events[0], w.responses[1].events[1]);
  EXPECT_EQ(PropertyOf(log, w), "watch-ordered");
}

TEST(WatchChecker, UniqueNoEventTwice) {
  const CommittedLog log = Log();
  WatcherHistory w = GoodWatcher();
  w.responses.insert(w.responses.begin() + 2, Events(5, {PutEvent("b", "1", 2)}));
  EXPECT_EQ(PropertyOf(log, w), "watch-unique");
}

TEST(WatchChecker, AtomicRevisionInOneResponseUnlessFragmented) {
  const CommittedLog log = Log();
  WatcherHistory w = GoodWatcher();
  WatchResponse second = Events(5, {w.responses[2].events[1]});
  w.responses[2].events.pop_back();
  w.responses.insert(w.responses.begin() + 3, second);
  EXPECT_EQ(PropertyOf(log, w), "watch-atomic");
  w.responses[2].fragment = true;
  EXPECT_EQ(PropertyOf(log, w), "ok");
}

TEST(WatchChecker, AtomicRevisionNotDeliveredHalfway) {
  const CommittedLog log = Log();
  WatcherHistory w = GoodWatcher();
  w.responses[2].events.pop_back();  // the delete of b at revision 3 is lost
  std::optional<Violation> v = CheckWatcher(log, w);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->property, "watch-atomic");
  EXPECT_NE(v->message.find("revision 3: 1 of its 2"), std::string::npos) << v->message;
}

TEST(WatchChecker, ReliableNoGapUpToLastSeenRevision) {
  const CommittedLog log = Log();
  WatcherHistory w = GoodWatcher();
  w.responses[1].events.pop_back();  // b=1 at revision 2 never arrives
  EXPECT_EQ(PropertyOf(log, w), "watch-reliable");
  // Without the later events and bookmark, the watcher has not yet seen revision 2.
  w.responses.resize(2);
  EXPECT_EQ(PropertyOf(log, w), "ok");
  // A bookmark at 2 promises it.
  w.responses.push_back(Progress(2));
  EXPECT_EQ(PropertyOf(log, w), "watch-reliable");
}

TEST(WatchChecker, BookmarkNoEventAtOrBelowItAfterward) {
  const CommittedLog log = Log();
  WatcherHistory w = GoodWatcher();
  w.responses.insert(w.responses.begin() + 2, Progress(3));
  EXPECT_EQ(PropertyOf(log, w), "watch-bookmark");
  w.responses[2] = Progress(2);
  EXPECT_EQ(PropertyOf(log, w), "ok");
}

TEST(WatchChecker, PrevKvMustBeThePreviousValue) {
  const CommittedLog log = Log();
  WatcherHistory w = GoodWatcher();
  w.responses[2].events[0].prev_value = "stale";
  EXPECT_EQ(PropertyOf(log, w), "watch-prev-kv");
  w = GoodWatcher();
  w.responses[1].events[0] = WithPrev(PutEvent("a", "1", 1), "ghost", 0);  // a did not exist
  EXPECT_EQ(PropertyOf(log, w), "watch-prev-kv");
  w = GoodWatcher();
  w.prev_kv = false;  // not requested, yet delivered
  EXPECT_EQ(PropertyOf(log, w), "watch-prev-kv");
}

TEST(WatchChecker, PhantomEventNeverCommitted) {
  const CommittedLog log = Log();
  WatcherHistory w = GoodWatcher();
  w.responses[1].events[1] = PutEvent("b", "9", 2);
  EXPECT_EQ(PropertyOf(log, w), "watch-phantom");
}

TEST(WatchChecker, EventsOutsideRangeOrFilteredAreRejected) {
  const CommittedLog log = Log();
  WatcherHistory w = GoodWatcher();
  w.responses.back() = Events(5, {PutEvent("c", "1", 5)});
  EXPECT_EQ(PropertyOf(log, w), "watch-range");

  WatcherHistory puts_only = GoodWatcher();
  puts_only.prev_kv = false;
  puts_only.filter_delete = true;
  puts_only.responses = {Created(5), Events(5, {PutEvent("a", "1", 1), PutEvent("b", "1", 2)}),
                         Events(5, {PutEvent("a", "2", 3)}), Progress(5)};
  EXPECT_EQ(PropertyOf(log, puts_only), "ok");
  puts_only.responses[2].events.push_back(DeleteEvent("b", 3));
  EXPECT_EQ(PropertyOf(log, puts_only), "watch-range");
}

TEST(WatchChecker, CompactionCancelOnlyWhenNeededRevisionIsCompacted) {
  const CommittedLog log = Log();
  WatcherHistory w = GoodWatcher();
  WatchResponse cancel = Created(5);
  cancel.created = false;
  cancel.canceled = true;
  cancel.compact_revision = 3;
  w.responses = {Created(5), cancel};
  EXPECT_EQ(PropertyOf(log, w), "ok");  // start 1 < compacted 3
  w.start_revision = 3;
  EXPECT_EQ(PropertyOf(log, w), "watch-compacted");
  w.start_revision = 1;
  // A stream-wide progress answer (etcd: WatchId -1) asked for before the cancel may
  // follow it (keelsim seed 128); it promises nothing about the canceled watch.
  w.responses.push_back(Progress(5));
  EXPECT_EQ(PropertyOf(log, w), "ok");
  w.responses.push_back(Events(5, {WithPrev(DeleteEvent("a", 4), "2", 3)}));  // no event may
  EXPECT_EQ(PropertyOf(log, w), "watch-compacted");
}

TEST(WatchChecker, ResumableRestartAtLastPlusOneContinuesWithoutGaps) {
  const CommittedLog log = Log();
  WatcherHistory first = GoodWatcher();
  first.responses.resize(2);  // saw revisions 1 and 2, then the connection dropped
  WatcherHistory second = GoodWatcher();
  second.name = "w1 resumed";
  second.start_revision = 3;
  second.responses.erase(second.responses.begin() + 1);
  EXPECT_FALSE(CheckWatchStream(log, {first, second}).has_value());

  WatcherHistory gap = second;
  gap.responses.erase(gap.responses.begin() + 1);  // revision 3 lost after the resume
  std::optional<Violation> v = CheckWatchStream(log, {first, gap});
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->property, "watch-resumable");

  WatcherHistory late = gap;
  late.start_revision = 4;  // the client skipped revision 3
  v = CheckWatchStream(log, {first, late});
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->property, "watch-resumable");
}

TEST(WatchChecker, ResumeAfterCompactionCancelStartsAtTheCompactRevisionNoLater) {
  const CommittedLog log = Log();
  WatcherHistory first = GoodWatcher();
  WatchResponse cancel = Created(5);
  cancel.created = false;
  cancel.canceled = true;
  cancel.compact_revision = 4;
  first.responses = {Created(5), Events(5, {PutEvent("a", "1", 1)}), cancel};  // saw 1, needed 2 < 4
  WatcherHistory resumed = GoodWatcher();
  resumed.name = "w1 after compaction";
  resumed.start_revision = 4;
  resumed.responses = {Created(5), Events(5, {WithPrev(DeleteEvent("a", 4), "2", 3)}), Progress(5)};
  // Revisions 2 and 3 are gone: the cancel explains the gap.
  EXPECT_FALSE(CheckWatchStream(log, {first, resumed}).has_value());

  WatcherHistory beyond = resumed;
  beyond.start_revision = 5;  // past the compaction revision: revision 4 silently skipped
  beyond.responses = {Created(5), Progress(5)};
  std::optional<Violation> v = CheckWatchStream(log, {first, beyond});
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->property, "watch-resumable");

  // Without the cancel, the same jump to 4 is a gap.
  WatcherHistory dropped = first;
  dropped.responses.pop_back();
  v = CheckWatchStream(log, {dropped, resumed});
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->property, "watch-resumable");
}

TEST(WatchChecker, SilentStartAtCompactionRevisionIsAGap) {
  // kv-watch-skip-compaction's signature: asked from 2, silently started at 4.
  const CommittedLog log = Log();
  WatcherHistory w = GoodWatcher();
  w.start_revision = 2;
  w.responses = {Created(5), Events(5, {WithPrev(DeleteEvent("a", 4), "2", 3)}), Progress(5)};
  EXPECT_EQ(PropertyOf(log, w), "watch-reliable");
}

TEST(WatchChecker, OrderInsideARevisionTheLogDoesNotKnowIsNotJudged) {
  std::map<int64_t, std::vector<WatchEvent>> acked;
  acked[1] = {PutEvent("a", "1", 1)};
  absl::StatusOr<CommittedLog> log = CommittedLog::Create(acked, false);
  ASSERT_TRUE(log.ok());
  WatcherHistory w;
  w.name = "w";
  w.key = "a";
  w.range_end = "c";
  w.responses = {Events(3, {PutEvent("a", "1", 1)}), Events(3, {PutEvent("b", "2", 2), PutEvent("a", "2", 2)})};
  EXPECT_EQ(PropertyOf(*log, w), "ok");
  w.responses.push_back(Events(3, {PutEvent("a", "1", 1)}));  // across revisions: still judged
  EXPECT_NE(PropertyOf(*log, w), "ok");
}

TEST(WatchChecker, IncompleteLogChecksOnlyKnownRevisions) {
  std::map<int64_t, std::vector<WatchEvent>> acked;
  acked[1] = {PutEvent("a", "1", 1)};
  acked[4] = {PutEvent("a", "4", 4)};
  absl::StatusOr<CommittedLog> log = CommittedLog::Create(acked, false);
  ASSERT_TRUE(log.ok());
  WatcherHistory w;
  w.name = "w";
  w.key = "a";
  w.responses = {Events(4, {PutEvent("a", "1", 1), PutEvent("a", "x", 2), PutEvent("a", "4", 4)})};
  EXPECT_EQ(PropertyOf(*log, w), "ok");  // revision 2 was an unacknowledged write
  w.responses[0].events.pop_back();
  w.responses.push_back(Progress(4));
  EXPECT_EQ(PropertyOf(*log, w), "watch-reliable");
  EXPECT_FALSE(CommittedLog::Create(acked, true).ok());  // complete logs have no gaps
}

}  // namespace
}  // namespace keel::sim::checkers
