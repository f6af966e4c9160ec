// The etcd watch guarantees, checked on what watchers received against what was committed.
//
// Inputs:
//  - CommittedLog: the committed writes per revision (revision -> events in apply order),
//    from a replica's MVCC log (complete: every revision from 1 to the last is present) or
//    from the acknowledged writes only (incomplete: revisions may be missing).
//  - WatcherHistory: one Watch RPC as a client saw it: start revision, key range, filters,
//    prev_kv flag, and every WatchResponse in arrival order.
//
// Properties (Violation::property):
//  watch-ordered     event (revision, position in its revision) strictly increases (the
//                    position only where the log knows the revision).
//  watch-unique      no (revision, key) event delivered twice.
//  watch-atomic      all of one revision's events in the watched range arrive in one
//                    response, or consecutive responses of which all but the last have
//                    fragment set.
//  watch-reliable    every committed event in range (after filters) with revision from the
//                    start revision up to the last revision the watcher saw (its newest event
//                    or progress notification) was delivered.
//  watch-resumable   a watcher restarted at (last seen revision + 1) continues without gaps:
//                    each incarnation of a WatchStream is reliable from its own start, and no
//                    incarnation starts later than its predecessor's last seen revision + 1,
//                    or than the compact_revision of the cancel that ended its predecessor
//                    (the only gap a compaction explains: history below it is gone).
//  watch-bookmark    no event with revision <= a progress notification's revision arrives
//                    after that notification.
//  watch-prev-kv     with prev_kv, each event carries the key's previous value and
//                    mod_revision (absent if the key did not exist); without it, none.
//  watch-phantom     an event that was not committed at its revision (only where the log
//                    knows that revision).
//  watch-range       an event outside the watched range, or of a filtered type, or before the
//                    start revision, or above its response's header revision.
//  watch-compacted   canceled with compact_revision although the next revision the watcher
//                    needed was not compacted; or anything sent after a cancel.
#ifndef KEEL_SIM_CHECKERS_WATCH_CHECKER_H_
#define KEEL_SIM_CHECKERS_WATCH_CHECKER_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sim/checkers/violation.h"

namespace keel::sim::checkers {

enum class EventType { kPut, kDelete };

struct WatchEvent {
  EventType type = EventType::kPut;
  std::string key;
  std::string value;         // kPut only
  int64_t mod_revision = 0;  // the revision of the write (for a delete: the delete's revision)
  bool has_prev_kv = false;  // delivered events only
  std::string prev_value;
  int64_t prev_mod_revision = 0;
};

struct WatchResponse {
  int64_t header_revision = 0;
  bool created = false;
  bool canceled = false;
  int64_t compact_revision = 0;
  bool fragment = false;  // more events of this response's last revision follow
  std::vector<WatchEvent> events;

  // An empty response that is neither the creation ack nor a cancel: a progress
  // notification (bookmark) promising every event up to header_revision was sent.
  bool IsProgressNotify() const { return events.empty() && !created && !canceled; }
};

struct WatcherHistory {
  std::string name;  // used in messages, e.g. "client 3 watch 2"
  // etcd's range encoding: range_end empty = just `key`; range_end "\0" = every key >= key.
  std::string key;
  std::string range_end;
  // The first revision the watcher asked for. For a watch created with start revision 0
  // ("from now") pass the creation response's header_revision + 1.
  int64_t start_revision = 1;
  bool filter_put = false;     // etcd NOPUT filter
  bool filter_delete = false;  // etcd NODELETE filter
  bool prev_kv = false;
  std::vector<WatchResponse> responses;
};

class CommittedLog {
 public:
  // `writes`: revision -> events of that revision, in apply order; each event's mod_revision
  // must equal its revision and a key appears at most once per revision. `complete`: the
  // map holds every revision from 1 to its last (a replica's MVCC log, uncompacted).
  static absl::StatusOr<CommittedLog> Create(std::map<int64_t, std::vector<WatchEvent>> writes,
                                             bool complete);

  CommittedLog(CommittedLog&&) = default;
  CommittedLog& operator=(CommittedLog&&) = default;
  // Not copyable: by_key_ points into writes_ (std::map nodes keep their address on move).
  CommittedLog(const CommittedLog&) = delete;
  CommittedLog& operator=(const CommittedLog&) = delete;

  bool complete() const { return complete_; }
  // Events committed at `revision`, or nullptr if the log does not know it.
  const std::vector<WatchEvent>* At(int64_t revision) const;
  // The key's live put just before `revision`, or nullptr if it did not exist then.
  // Requires complete().
  const WatchEvent* ValueBefore(const std::string& key, int64_t revision) const;
  const std::map<int64_t, std::vector<WatchEvent>>& writes() const { return writes_; }

 private:
  CommittedLog() = default;

  std::map<int64_t, std::vector<WatchEvent>> writes_;
  // key -> (revision, event) in revision order; points into writes_.
  std::map<std::string, std::vector<const WatchEvent*>> by_key_;
  bool complete_ = false;
};

// The first violation in one watcher's history, or nullopt.
std::optional<Violation> CheckWatcher(const CommittedLog& log, const WatcherHistory& watcher);

// A client's watch over its restarts: incarnations[i + 1] resumed incarnations[i].
std::optional<Violation> CheckWatchStream(const CommittedLog& log,
                                          const std::vector<WatcherHistory>& incarnations);

}  // namespace keel::sim::checkers

#endif  // KEEL_SIM_CHECKERS_WATCH_CHECKER_H_
