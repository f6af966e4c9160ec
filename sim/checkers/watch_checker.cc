#include "sim/checkers/watch_checker.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/check.h"
#include "sim/checkers/check_tally.h"

namespace keel::sim::checkers {

absl::StatusOr<CommittedLog> CommittedLog::Create(
    std::map<int64_t, std::vector<WatchEvent>> writes, bool complete) {
  CommittedLog log;
  log.writes_ = std::move(writes);
  log.complete_ = complete;
  int64_t expected_revision = 1;
  for (const auto& [revision, events] : log.writes_) {
    if (revision <= 0 || events.empty()) {
      return absl::InvalidArgumentError(
          absl::StrFormat("revision %d: revisions are positive and have events", revision));
    }
    if (complete && revision != expected_revision) {
      return absl::InvalidArgumentError(
          absl::StrFormat("complete log is missing revision %d", expected_revision));
    }
    expected_revision = revision + 1;
    std::set<std::string> keys;
    for (const WatchEvent& e : events) {
      if (e.mod_revision != revision || !keys.insert(e.key).second) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "revision %d: event for %s has mod_revision %d or repeats its key", revision, e.key,
            e.mod_revision));
      }
      log.by_key_[e.key].push_back(&e);
    }
  }
  return log;
}

const std::vector<WatchEvent>* CommittedLog::At(int64_t revision) const {
  auto it = writes_.find(revision);
  return it == writes_.end() ? nullptr : &it->second;
}

const WatchEvent* CommittedLog::ValueBefore(const std::string& key, int64_t revision) const {
  KEEL_CHECK(complete_);
  auto it = by_key_.find(key);
  if (it == by_key_.end()) return nullptr;
  const std::vector<const WatchEvent*>& events = it->second;
  auto pos = std::lower_bound(
      events.begin(), events.end(), revision,
      [](const WatchEvent* e, int64_t rev) { return e->mod_revision < rev; });
  if (pos == events.begin()) return nullptr;
  const WatchEvent* before = *(pos - 1);
  return before->type == EventType::kPut ? before : nullptr;
}

namespace {

bool InWatchRange(const WatcherHistory& w, const std::string& key) {
  if (w.range_end.empty()) return key == w.key;
  if (w.range_end == std::string(1, '\0')) return key >= w.key;
  return key >= w.key && key < w.range_end;
}

bool Wanted(const WatcherHistory& w, const WatchEvent& e) {
  if (!InWatchRange(w, e.key)) return false;
  return e.type == EventType::kPut ? !w.filter_put : !w.filter_delete;
}

std::string DescribeEvent(const WatchEvent& e) {
  return e.type == EventType::kPut
             ? absl::StrFormat("PUT %s=%s@%d", e.key, e.value, e.mod_revision)
             : absl::StrFormat("DELETE %s@%d", e.key, e.mod_revision);
}

// Walks one watcher's responses in order, keeping what the properties need.
class WatcherReplay {
 public:
  WatcherReplay(const CommittedLog& log, const WatcherHistory& w) : log_(log), w_(w) {}

  std::optional<Violation> Run() {
    for (size_t i = 0; i < w_.responses.size(); ++i) {
      if (auto v = OnResponse(i, w_.responses[i])) return v;
    }
    if (auto v = CloseRevision()) return v;
    return CheckReliable();
  }

  // The compact_revision of the cancel that ended this stream, 0 if none.
  int64_t compact_cancel_revision() const { return compact_cancel_revision_; }

  // The newest revision the watcher knows it has everything up to.
  int64_t last_seen_revision() const { return std::max(last_event_revision_, bookmark_); }

 private:
  Violation Fail(std::string property, std::string message) const {
    return Violation{std::move(property), absl::StrCat(w_.name, ": ", message), {}};
  }

  std::optional<Violation> OnResponse(size_t index, const WatchResponse& r) {
    if (canceled_) {
      // A stream-wide progress request is answered for the stream, not for a watch (etcd:
      // WatchId -1): one asked for before the cancel may arrive after it, and promises
      // nothing about the canceled watch.
      if (r.IsProgressNotify()) return std::nullopt;
      return Fail("watch-compacted",
                  absl::StrFormat("response %d after cancel (revision %d, %d events, created=%d, "
                                  "canceled=%d, compact_revision=%d)",
                                  index, r.header_revision, r.events.size(), r.created, r.canceled,
                                  r.compact_revision));
    }
    if (r.canceled) {
      canceled_ = true;
      const int64_t needed = std::max(w_.start_revision, last_event_revision_ + 1);
      if (r.compact_revision > 0 && needed >= r.compact_revision) {
        return Fail("watch-compacted",
                    absl::StrFormat("canceled with compact_revision %d but it needed revision "
                                    "%d, which was not compacted",
                                    r.compact_revision, needed));
      }
      compacted_ = r.compact_revision > 0;
      compact_cancel_revision_ = r.compact_revision;
      if (compacted_) CheckTally::Count("check.watch.compacted_cancel");
    }
    if (r.IsProgressNotify()) {
      CheckTally::Count("check.watch.bookmark");
      bookmark_ = std::max(bookmark_, r.header_revision);
      return std::nullopt;
    }
    if (r.fragment) CheckTally::Count("check.watch.fragment");
    for (const WatchEvent& e : r.events) {
      if (auto v = OnEvent(index, r, e)) return v;
    }
    previous_was_fragment_ = r.fragment;
    return std::nullopt;
  }

  std::optional<Violation> OnEvent(size_t response, const WatchResponse& r, const WatchEvent& e) {
    const int64_t rev = e.mod_revision;
    if (!Wanted(w_, e) || rev < w_.start_revision || rev > r.header_revision) {
      return Fail("watch-range",
                  absl::StrFormat("%s is outside the watch (range, filters, start %d) or above "
                                  "its response's header revision %d",
                                  DescribeEvent(e), w_.start_revision, r.header_revision));
    }
    if (!seen_.insert({rev, e.key}).second) {
      return Fail("watch-unique", absl::StrCat(DescribeEvent(e), " delivered twice"));
    }
    if (rev <= bookmark_) {
      return Fail("watch-bookmark",
                  absl::StrFormat("%s arrived after a progress notification at revision %d",
                                  DescribeEvent(e), bookmark_));
    }
    const int position = PositionInRevision(e);
    if (position < -1) {
      return Fail("watch-phantom", absl::StrCat(DescribeEvent(e), " was never committed"));
    }
    // Where the log does not know the revision (compacted before it was archived), the
    // order inside it cannot be judged; across revisions it still can.
    const bool order_unknown = position == -1 && rev == last_event_revision_;
    if (!order_unknown &&
        std::make_pair(rev, position) <= std::make_pair(last_event_revision_, last_position_)) {
      return Fail("watch-ordered",
                  absl::StrFormat("%s arrived after an event at revision %d", DescribeEvent(e),
                                  last_event_revision_));
    }
    if (rev != open_revision_) {
      if (auto v = CloseRevision()) return v;
      open_revision_ = rev;
      open_response_ = response;
    } else if (response != open_response_ && !previous_was_fragment_) {
      return Fail("watch-atomic",
                  absl::StrFormat("events of revision %d split over responses without fragment",
                                  rev));
    }
    open_response_ = response;
    ++open_delivered_;
    last_event_revision_ = rev;
    last_position_ = position;
    return CheckPrevKv(e);
  }

  // Index of e among the committed events of its revision; -1 if the log does not know the
  // revision; -2 if the log knows it and e is not there.
  int PositionInRevision(const WatchEvent& e) const {
    const std::vector<WatchEvent>* committed = log_.At(e.mod_revision);
    if (committed == nullptr) return log_.complete() ? -2 : -1;
    for (size_t i = 0; i < committed->size(); ++i) {
      const WatchEvent& c = (*committed)[i];
      if (c.key == e.key && c.type == e.type && (c.type == EventType::kDelete || c.value == e.value)) {
        return static_cast<int>(i);
      }
    }
    return -2;
  }

  // All wanted events of the revision being delivered must have been delivered.
  std::optional<Violation> CloseRevision() {
    if (open_revision_ == 0) return std::nullopt;
    const std::vector<WatchEvent>* committed = log_.At(open_revision_);
    int wanted = 0;
    if (committed != nullptr) {
      for (const WatchEvent& c : *committed) wanted += Wanted(w_, c) ? 1 : 0;
    }
    const int delivered = open_delivered_;
    const int64_t revision = open_revision_;
    open_revision_ = 0;
    open_delivered_ = 0;
    if (committed != nullptr && delivered < wanted) {
      return Fail("watch-atomic", absl::StrFormat("revision %d: %d of its %d events delivered",
                                                  revision, delivered, wanted));
    }
    return std::nullopt;
  }

  std::optional<Violation> CheckPrevKv(const WatchEvent& e) const {
    if (!w_.prev_kv) {
      if (!e.has_prev_kv) return std::nullopt;
      return Fail("watch-prev-kv", absl::StrCat(DescribeEvent(e), " carries an unrequested prev_kv"));
    }
    if (!log_.complete()) {
      CheckTally::Count("check.watch.prev_kv_unknown");
      return std::nullopt;
    }
    CheckTally::Count("check.watch.prev_kv");
    const WatchEvent* before = log_.ValueBefore(e.key, e.mod_revision);
    const bool ok = before == nullptr
                        ? !e.has_prev_kv
                        : e.has_prev_kv && e.prev_value == before->value &&
                              e.prev_mod_revision == before->mod_revision;
    if (ok) return std::nullopt;
    return Fail("watch-prev-kv",
                absl::StrFormat("%s: prev_kv %s, expected %s", DescribeEvent(e),
                                e.has_prev_kv ? absl::StrFormat("%s@%d", e.prev_value,
                                                                e.prev_mod_revision)
                                              : std::string("absent"),
                                before ? DescribeEvent(*before) : std::string("absent")));
  }

  std::optional<Violation> CheckReliable() const {
    const int64_t last = last_seen_revision();
    CheckTally::Count("check.watch.reliable_streams");
    for (auto it = log_.writes().lower_bound(w_.start_revision);
         it != log_.writes().end() && it->first <= last; ++it) {
      for (const WatchEvent& c : it->second) {
        if (!Wanted(w_, c) || seen_.count({c.mod_revision, c.key}) > 0) continue;
        return Fail("watch-reliable",
                    absl::StrFormat("%s never delivered, though the watcher saw revision %d%s",
                                    DescribeEvent(c), last,
                                    compacted_ ? " before its compaction cancel" : ""));
      }
    }
    return std::nullopt;
  }

  const CommittedLog& log_;
  const WatcherHistory& w_;
  std::set<std::pair<int64_t, std::string>> seen_;
  int64_t last_event_revision_ = 0;
  int last_position_ = -1;
  int64_t bookmark_ = 0;
  int64_t open_revision_ = 0;  // revision whose events are being delivered; 0 = none
  size_t open_response_ = 0;
  int open_delivered_ = 0;
  bool previous_was_fragment_ = false;
  bool canceled_ = false;
  bool compacted_ = false;
  int64_t compact_cancel_revision_ = 0;
};

}  // namespace

std::optional<Violation> CheckWatcher(const CommittedLog& log, const WatcherHistory& watcher) {
  KEEL_CHECK(watcher.start_revision > 0);
  return WatcherReplay(log, watcher).Run();
}

std::optional<Violation> CheckWatchStream(const CommittedLog& log,
                                          const std::vector<WatcherHistory>& incarnations) {
  int64_t previous_last_seen = -1;
  int64_t previous_compacted = 0;  // the predecessor's compaction cancel, 0 if none
  for (size_t i = 0; i < incarnations.size(); ++i) {
    const WatcherHistory& w = incarnations[i];
    // A gap between incarnations is explained only by the predecessor's compaction cancel:
    // revisions below its compact_revision are gone, so the next may start there.
    const int64_t allowed_start = std::max(previous_last_seen + 1, previous_compacted);
    if (i > 0 && w.start_revision > allowed_start) {
      return Violation{"watch-resumable",
                       absl::StrFormat("%s resumed at revision %d, after the last revision %d "
                                       "its predecessor saw%s: revisions in between are skipped",
                                       w.name, w.start_revision, previous_last_seen,
                                       previous_compacted > 0
                                           ? absl::StrFormat(" and its compaction cancel at %d", previous_compacted)
                                           : std::string()),
                       {}};
    }
    if (i > 0) CheckTally::Count("check.watch.resumed_incarnations");
    if (w.filter_put || w.filter_delete) CheckTally::Count("check.watch.filtered_streams");
    WatcherReplay replay(log, w);
    if (std::optional<Violation> v = replay.Run()) {
      if (i > 0) {
        v->property = v->property == "watch-reliable" ? "watch-resumable" : v->property;
        v->message = absl::StrCat("resumed incarnation ", i, ": ", v->message);
      }
      return v;
    }
    previous_last_seen = std::max(previous_last_seen, replay.last_seen_revision());
    previous_compacted = replay.compact_cancel_revision();
  }
  return std::nullopt;
}

}  // namespace keel::sim::checkers
