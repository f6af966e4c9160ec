// etcd's watch machinery (mvcc/watchable_store.go + the stream half of
// etcdserver/api/v3rpc/watch.go) for one node, driven by the node loop.
//
// A client stream (one gRPC Watch call, or a simulated client) is opened with a sink; its
// WatchRequests go to Handle(); responses come out of the sink. A watcher is either
//   synced:   it has seen everything up to the current revision; the store's change
//             listener hands it each new revision as it is applied, or
//   unsynced: it is behind (started at a past revision, or its stream refused a
//             response); Pump() catches it up from the backend in bounded steps.
// Writers never wait for watchers: a refused response just moves the watcher to unsynced,
// to be re-read from the backend later, so the hub buffers no events at all.
//
// Guarantees (checked by the model test): per watcher, events arrive in revision order,
// each exactly once, all events of one revision in one response (or in consecutive
// fragments when the watcher asked for fragmentation), none missing unless the watcher is
// canceled with compact_revision set because its next revision was compacted; a response's
// header.revision never exceeds what the watcher has fully seen (bookmarks are safe).
//
// Deviations from etcd 3.4, both deliberate: a stream-wide progress request is answered
// only once every watcher of the stream is synced (etcd 3.5's fix; 3.4 could bookmark past
// undelivered events); a partial catch-up carries the last revision read, not the current
// one, as its header.revision.
//
// Threading: single-threaded. Sinks run synchronously, often from inside the store's write
// call that produced the events (the store notifies the hub before returning): a sink must
// only hand the responses on (queue them for a gRPC thread, record them) and never call
// back into the hub or the store.
#ifndef KEEL_KV_WATCH_HUB_H_
#define KEEL_KV_WATCH_HUB_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/status/status.h"
#include "api/etcdserverpb/rpc.pb.h"
#include "kv/mvcc_store.h"

namespace keel::kv {

// Offered responses must be delivered together and in order (the fragments of one logical
// response, or a single response). Return false to refuse all of them: the stream is
// backed up and the hub will retry later. The responses are the sink's to keep (moved
// from, even when refused: the hub rebuilds refused events from the backend), so fan-out
// to many watchers copies each event once, into its watcher's response.
using WatchSink = std::function<bool(std::vector<etcdserverpb::WatchResponse>&&)>;

using StreamId = uint64_t;

struct WatchHubOptions {
  // Fragmentation threshold, etcd's --max-request-bytes (1.5 MiB).
  int64_t max_response_bytes = 1536 * 1024;
  // Control responses (created, canceled, progress) waiting for a backed-up stream; past
  // this, Handle() refuses new requests until the stream drains.
  size_t max_pending_control = 1024;
  // Watchers one stream may hold.
  size_t max_watchers_per_stream = 10000;
};

class WatchHub {
 public:
  // Registers itself as `store`'s change listener. `store` must outlive the hub.
  WatchHub(MvccStore* store, WatchHubOptions options = {});
  // Unregisters from the store.
  ~WatchHub();
  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;

  StreamId OpenStream(WatchSink sink);
  // Drops the stream and its watchers; nothing more is sent to its sink.
  void CloseStream(StreamId stream);

  // A create, cancel or progress request from the stream's client. RESOURCE_EXHAUSTED
  // when the stream's control backlog or watcher limit is full (stop reading the client);
  // NOT_FOUND for an unknown stream.
  absl::Status Handle(StreamId stream, const etcdserverpb::WatchRequest& request);

  // The periodic progress notification (etcd's 10-minute ticker): every synced watcher
  // that asked for progress_notify and got no events since the last tick receives an
  // empty response carrying the current revision.
  void ProgressTick();

  // The store's contents were replaced wholesale (a Raft snapshot from the leader) after it
  // had reached `previous_revision`. Every synced watcher has seen up to there and now
  // catches up from the new contents through Pump: the events after previous_revision, or
  // a cancel with compact_revision when the image no longer holds them.
  void OnStoreRestored(int64_t previous_revision);

  // Flushes backed-up control responses and catches unsynced watchers up, reading at most
  // about `max_events` events from the backend (whole revisions). Returns the number of
  // events read; call again while HasBacklog().
  absl::StatusOr<size_t> Pump(size_t max_events);
  bool HasBacklog() const;

  size_t synced_count() const { return synced_count_; }
  size_t unsynced_count() const { return watcher_count_ - synced_count_; }

 private:
  struct Watcher {
    int64_t id = 0;
    std::string key;
    std::string end;  // wire convention (KeyRange)
    bool no_put = false;
    bool no_delete = false;
    bool prev_kv = false;
    bool fragment = false;
    bool progress_notify = false;
    bool idle_since_tick = true;  // no events delivered since the last ProgressTick
    bool synced = false;  // change only through WatchHub::SetSynced
    int64_t min_rev = 0;  // next revision to deliver when unsynced
  };
  struct Stream {
    WatchSink sink;
    absl::btree_map<int64_t, Watcher> watchers;
    std::deque<etcdserverpb::WatchResponse> control;
    int64_t next_id = 0;
    bool progress_requested = false;  // deferred stream-wide progress response
  };

  // (stream, watch id): how the synced-watcher indexes name a watcher, ordered so that
  // fan-out visits watchers in a deterministic order.
  using WatcherRef = std::pair<StreamId, int64_t>;

  // The synced-watcher indexes follow every change of Watcher::synced through these.
  void SetSynced(StreamId sid, Watcher& w, bool synced);
  // Drops a watcher about to be erased from the synced indexes.
  void Forget(StreamId sid, Watcher& w);
  void OnApplied(int64_t rev, const std::vector<mvccpb::Event>& events);
  void Create(StreamId sid, Stream& s, const etcdserverpb::WatchCreateRequest& req);
  void Cancel(StreamId sid, Stream& s, int64_t watch_id);
  void QueueControl(Stream& s, etcdserverpb::WatchResponse resp);
  bool FlushControl(Stream& s);
  void MaybeAnswerProgress(Stream& s);
  // Appends `ev` to `out` unless `w` filters it out, with prev_kv filled when asked.
  absl::Status AppendIfWanted(const Watcher& w, const mvccpb::Event& ev,
                              std::vector<mvccpb::Event>* out);
  // Events of `events` (one or more whole revisions) that `w` wants, with prev_kv filled.
  absl::StatusOr<std::vector<mvccpb::Event>> Select(
      const Watcher& w, const std::vector<mvccpb::Event>& events, int64_t from_rev);
  // Sends an event/progress response (fragmented if asked); false if refused.
  bool SendEvents(Stream& s, const Watcher& w, int64_t header_rev,
                  std::vector<mvccpb::Event> events);
  absl::Status SyncStep(size_t max_events, size_t* events_read);

  MvccStore* const store_;
  const WatchHubOptions options_;
  absl::btree_map<StreamId, Stream> streams_;
  // Synced watchers, so that a write visits only the watchers it may concern: single-key
  // watchers by key, and all range watchers (checked one by one).
  absl::btree_map<std::string, absl::btree_set<WatcherRef>> synced_by_key_;
  absl::btree_set<WatcherRef> synced_ranges_;
  size_t watcher_count_ = 0;
  size_t synced_count_ = 0;
  StreamId next_stream_ = 1;
};

}  // namespace keel::kv

#endif  // KEEL_KV_WATCH_HUB_H_
