#include "kv/watch_hub.h"

#include <algorithm>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_map.h"

#include "base/check.h"
#include "kv/errors.h"
#include "kv/key_index.h"

namespace keel::kv {
namespace {

using etcdserverpb::WatchRequest;
using etcdserverpb::WatchResponse;

// clientv3.InvalidWatchID: a response about no particular watcher.
constexpr int64_t kInvalidWatchId = -1;

bool IsCreateEvent(const mvccpb::Event& ev) {
  return ev.type() == mvccpb::Event::PUT &&
         ev.kv().create_revision() == ev.kv().mod_revision();
}

WatchResponse Header(int64_t watch_id, int64_t rev) {
  WatchResponse r;
  r.mutable_header()->set_revision(rev);
  r.set_watch_id(watch_id);
  return r;
}

// sendFragments of v3rpc/watch.go: split a large response into fragments, each below
// `max_bytes` unless a single event is larger; all but the last carry fragment = true.
std::vector<WatchResponse> Fragment(WatchResponse whole, int64_t max_bytes) {
  std::vector<WatchResponse> out;
  if (static_cast<int64_t>(whole.ByteSizeLong()) < max_bytes || whole.events_size() < 2) {
    out.push_back(std::move(whole));
    return out;
  }
  WatchResponse skeleton = whole;
  skeleton.clear_events();
  skeleton.set_fragment(true);
  int idx = 0;
  const int n = whole.events_size();
  while (idx < n) {
    WatchResponse cur = skeleton;
    for (; idx < n; ++idx) {
      *cur.add_events() = whole.events(idx);
      if (cur.events_size() > 1 && static_cast<int64_t>(cur.ByteSizeLong()) >= max_bytes) {
        cur.mutable_events()->RemoveLast();
        break;
      }
    }
    if (idx == n) cur.set_fragment(false);
    out.push_back(std::move(cur));
  }
  return out;
}

}  // namespace

WatchHub::WatchHub(MvccStore* store, WatchHubOptions options)
    : store_(store), options_(options) {
  KEEL_CHECK(store_ != nullptr && options_.max_response_bytes > 0);
  store_->SetChangeListener(
      [this](int64_t rev, const std::vector<mvccpb::Event>& events) { OnApplied(rev, events); });
}

WatchHub::~WatchHub() { store_->SetChangeListener(nullptr); }

StreamId WatchHub::OpenStream(WatchSink sink) {
  KEEL_CHECK(sink != nullptr);
  const StreamId id = next_stream_++;
  streams_[id].sink = std::move(sink);
  return id;
}

void WatchHub::CloseStream(StreamId stream) {
  auto it = streams_.find(stream);
  if (it == streams_.end()) return;
  for (auto& [id, w] : it->second.watchers) Forget(stream, w);
  watcher_count_ -= it->second.watchers.size();
  streams_.erase(it);
}

void WatchHub::SetSynced(StreamId sid, Watcher& w, bool synced) {
  if (w.synced == synced) return;
  w.synced = synced;
  synced_count_ = synced ? synced_count_ + 1 : synced_count_ - 1;
  const WatcherRef ref{sid, w.id};
  const bool single = KeyRange{w.key, w.end}.IsSingleKey();
  if (synced && single) {
    synced_by_key_[w.key].insert(ref);
  } else if (synced) {
    synced_ranges_.insert(ref);
  } else if (single) {
    auto it = synced_by_key_.find(w.key);
    KEEL_CHECK(it != synced_by_key_.end() && it->second.erase(ref) == 1);
    if (it->second.empty()) synced_by_key_.erase(it);
  } else {
    KEEL_CHECK(synced_ranges_.erase(ref) == 1);
  }
}

void WatchHub::Forget(StreamId sid, Watcher& w) { SetSynced(sid, w, false); }

absl::Status WatchHub::Handle(StreamId stream, const WatchRequest& request) {
  auto it = streams_.find(stream);
  if (it == streams_.end()) return absl::NotFoundError("watch stream not open");
  Stream& s = it->second;
  if (s.control.size() >= options_.max_pending_control) {
    return absl::ResourceExhaustedError("watch stream backed up");
  }
  switch (request.request_union_case()) {
    case WatchRequest::kCreateRequest:
      if (s.watchers.size() >= options_.max_watchers_per_stream) {
        return absl::ResourceExhaustedError("too many watchers on one stream");
      }
      Create(stream, s, request.create_request());
      break;
    case WatchRequest::kCancelRequest:
      Cancel(stream, s, request.cancel_request().watch_id());
      break;
    case WatchRequest::kProgressRequest:
      s.progress_requested = true;
      break;
    case WatchRequest::REQUEST_UNION_NOT_SET:
      break;
  }
  if (FlushControl(s)) MaybeAnswerProgress(s);
  return absl::OkStatus();
}

void WatchHub::Create(StreamId sid, Stream& s, const etcdserverpb::WatchCreateRequest& req) {
  Watcher w;
  // "\0" is the smallest key: an empty key watches from the beginning of the key space.
  w.key = req.key().empty() ? std::string(1, '\0') : req.key();
  w.end = req.range_end();
  const int64_t current = store_->current_revision();
  WatchResponse resp = Header(kInvalidWatchId, current);
  resp.set_created(true);
  const KeyRange range{w.key, w.end};
  if (!range.IsSingleKey() && !range.IsUnbounded() && w.key >= w.end) {
    resp.set_canceled(true);
    resp.set_cancel_reason(std::string(kWatchReasonEmptyRange));
    QueueControl(s, std::move(resp));
    return;
  }
  int64_t id = req.watch_id();
  if (id != 0 && s.watchers.count(id) > 0) {
    resp.set_canceled(true);
    resp.set_cancel_reason(std::string(kWatchReasonDuplicateId));
    QueueControl(s, std::move(resp));
    return;
  }
  if (id == 0) {
    // etcd's AutoWatchID is 0, and so is the first id it hands out.
    while (s.watchers.count(s.next_id) > 0) ++s.next_id;
    id = s.next_id++;
  }
  w.id = id;
  for (int f : req.filters()) {
    if (f == etcdserverpb::WatchCreateRequest::NOPUT) w.no_put = true;
    if (f == etcdserverpb::WatchCreateRequest::NODELETE) w.no_delete = true;
  }
  w.prev_kv = req.prev_kv();
  w.fragment = req.fragment();
  w.progress_notify = req.progress_notify();
  w.min_rev = req.start_revision() == 0 ? current + 1 : req.start_revision();
  Watcher& stored = s.watchers[id] = std::move(w);
  ++watcher_count_;
  SetSynced(sid, stored, stored.min_rev > current);
  resp.set_watch_id(id);
  QueueControl(s, std::move(resp));
}

void WatchHub::Cancel(StreamId sid, Stream& s, int64_t watch_id) {
  auto it = s.watchers.find(watch_id);
  if (it == s.watchers.end()) return;  // etcd answers nothing for unknown ids
  Forget(sid, it->second);
  s.watchers.erase(it);
  --watcher_count_;
  WatchResponse resp = Header(watch_id, store_->current_revision());
  resp.set_canceled(true);
  QueueControl(s, std::move(resp));
}

void WatchHub::QueueControl(Stream& s, WatchResponse resp) {
  KEEL_CHECK(s.control.size() < options_.max_pending_control + 1);
  s.control.push_back(std::move(resp));
}

bool WatchHub::FlushControl(Stream& s) {
  const size_t bound = s.control.size();
  for (size_t i = 0; i < bound; ++i) {
    if (!s.sink({s.control.front()})) return false;
    s.control.pop_front();
  }
  return true;
}

void WatchHub::MaybeAnswerProgress(Stream& s) {
  if (!s.progress_requested || !s.control.empty()) return;
  for (const auto& [id, w] : s.watchers) {
    if (!w.synced) return;
  }
  if (s.sink({Header(kInvalidWatchId, store_->current_revision())})) {
    s.progress_requested = false;
  }
}

absl::Status WatchHub::AppendIfWanted(const Watcher& w, const mvccpb::Event& ev,
                                      std::vector<mvccpb::Event>* out) {
  if (ev.type() == mvccpb::Event::PUT && w.no_put) return absl::OkStatus();
  if (ev.type() == mvccpb::Event::DELETE && w.no_delete) return absl::OkStatus();
  out->push_back(ev);
  if (!w.prev_kv || IsCreateEvent(ev)) return absl::OkStatus();
  // Like etcd, the previous value is read when sending; if that revision has been
  // compacted meanwhile the event simply goes without it.
  auto prev = store_->GetAt(ev.kv().key(), ev.kv().mod_revision() - 1);
  if (!prev.ok()) return absl::IsOutOfRange(prev.status()) ? absl::OkStatus() : prev.status();
  if (prev->has_value()) *out->back().mutable_prev_kv() = std::move(**prev);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<mvccpb::Event>> WatchHub::Select(
    const Watcher& w, const std::vector<mvccpb::Event>& events, int64_t from_rev) {
  const KeyRange range{w.key, w.end};
  std::vector<mvccpb::Event> out;
  for (const mvccpb::Event& ev : events) {
    if (ev.kv().mod_revision() < from_rev || !range.Contains(ev.kv().key())) continue;
    if (absl::Status st = AppendIfWanted(w, ev, &out); !st.ok()) return st;
  }
  return out;
}

bool WatchHub::SendEvents(Stream& s, const Watcher& w, int64_t header_rev,
                          std::vector<mvccpb::Event> events) {
  // Nothing may overtake a queued control response (a watcher's events never precede
  // its "created").
  if (!s.control.empty()) return false;
  WatchResponse resp = Header(w.id, header_rev);
  resp.mutable_events()->Reserve(static_cast<int>(events.size()));
  for (auto& ev : events) *resp.add_events() = std::move(ev);
  if (w.fragment) return s.sink(Fragment(std::move(resp), options_.max_response_bytes));
  // Not `sink({std::move(resp)})`: an initializer list would copy every event once more.
  std::vector<WatchResponse> one;
  one.push_back(std::move(resp));
  return s.sink(std::move(one));
}

void WatchHub::OnApplied(int64_t rev, const std::vector<mvccpb::Event>& events) {
  // Watchers this revision may concern, in (stream, id) order. A synced watcher's min_rev
  // only matters while it is in the future (a start revision not reached yet); when a
  // synced watcher falls behind, min_rev is reset to the revision it missed.
  // A sorted vector rather than a set: this runs once per applied revision and usually
  // gathers one key's watchers, already in order.
  std::vector<WatcherRef> candidates(synced_ranges_.begin(), synced_ranges_.end());
  for (const mvccpb::Event& ev : events) {
    auto it = synced_by_key_.find(ev.kv().key());
    if (it != synced_by_key_.end()) candidates.insert(candidates.end(), it->second.begin(), it->second.end());
  }
  if (!synced_ranges_.empty() || events.size() > 1) {
    std::sort(candidates.begin(), candidates.end());
    candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  }
  // Consecutive candidates mostly share a stream: look it up once per run of them.
  StreamId current_sid = 0;
  Stream* current_stream = nullptr;
  for (const auto& [sid, id] : candidates) {
    if (current_stream == nullptr || sid != current_sid) {
      current_sid = sid;
      current_stream = &streams_.at(sid);
    }
    Stream& s = *current_stream;
    Watcher& w = s.watchers.at(id);
    KEEL_CHECK(w.synced);
    if (rev < w.min_rev) continue;
    auto selected = Select(w, events, rev);
    bool delivered = selected.ok();
    if (delivered && !selected->empty()) {
      delivered = SendEvents(s, w, rev, std::move(*selected));
      if (delivered) w.idle_since_tick = false;
    }
    if (delivered) {
      w.min_rev = rev + 1;
    } else {
      SetSynced(sid, w, false);  // caught up from the backend by Pump, starting at `rev`
      w.min_rev = rev;
    }
  }
}

void WatchHub::OnStoreRestored(int64_t previous_revision) {
  for (auto& [sid, s] : streams_) {
    for (auto& [id, w] : s.watchers) {
      if (!w.synced) continue;
      SetSynced(sid, w, false);
      w.min_rev = std::max(w.min_rev, previous_revision + 1);
    }
  }
}

void WatchHub::ProgressTick() {
  const int64_t current = store_->current_revision();
  for (auto& [sid, s] : streams_) {
    for (auto& [id, w] : s.watchers) {
      if (w.progress_notify && w.idle_since_tick && w.synced) {
        SendEvents(s, w, current, {});
      }
      w.idle_since_tick = true;
    }
  }
}

absl::StatusOr<size_t> WatchHub::Pump(size_t max_events) {
  KEEL_CHECK(max_events > 0);
  size_t events_read = 0;
  if (absl::Status st = SyncStep(max_events, &events_read); !st.ok()) return st;
  for (auto& [sid, s] : streams_) {
    if (FlushControl(s)) MaybeAnswerProgress(s);
  }
  return events_read;
}

absl::Status WatchHub::SyncStep(size_t max_events, size_t* events_read) {
  const int64_t current = store_->current_revision();
  const int64_t compacted = store_->compact_revision();
  int64_t min_rev = current + 1;
  for (auto& [sid, s] : streams_) {
    if (!FlushControl(s)) continue;
    for (auto it = s.watchers.begin(); it != s.watchers.end();) {
      Watcher& w = it->second;
      if (!w.synced && w.min_rev < compacted) {
        // Its next revision is gone: cancel it with the revision it may restart from.
        WatchResponse resp = Header(w.id, 0);
        resp.set_compact_revision(compacted);
        resp.set_canceled(true);
        if (s.sink({std::move(resp)})) {
          it = s.watchers.erase(it);
          --watcher_count_;
          continue;
        }
      } else if (!w.synced && w.min_rev > current) {
        SetSynced(sid, w, true);
      } else if (!w.synced) {
        min_rev = std::min(min_rev, w.min_rev);
      }
      ++it;
    }
  }
  if (min_rev > current) return absl::OkStatus();
  std::vector<mvccpb::Event> events;
  auto last = store_->ReadEvents(min_rev, current, max_events, &events);
  if (!last.ok()) return last.status();
  *events_read = events.size();

  // etcd's watcherGroup: the watchers catching up are indexed by key once, and each event
  // read is matched against that index, so a catch-up costs events + matches rather than
  // events x watchers. Range watchers are still checked one by one (no interval tree).
  struct Catching {
    StreamId sid;
    Stream* stream;
    Watcher* watcher;
    std::vector<uint32_t> matched;  // indexes into `events`, increasing
  };
  std::vector<Catching> catching;  // in (stream, id) order: deterministic sends
  absl::flat_hash_map<std::string_view, std::vector<uint32_t>> single_key;  // key -> catching
  std::vector<uint32_t> ranges;
  for (auto& [sid, s] : streams_) {
    if (!s.control.empty()) continue;
    for (auto& [id, w] : s.watchers) {
      if (w.synced || w.min_rev < compacted || w.min_rev > *last) continue;
      const uint32_t index = static_cast<uint32_t>(catching.size());
      catching.push_back(Catching{sid, &s, &w, {}});
      if (KeyRange{w.key, w.end}.IsSingleKey()) {
        single_key[w.key].push_back(index);
      } else {
        ranges.push_back(index);
      }
    }
  }
  for (uint32_t e = 0; e < events.size(); ++e) {
    const mvccpb::Event& ev = events[e];
    auto it = single_key.find(ev.kv().key());
    if (it != single_key.end()) {
      for (uint32_t c : it->second) {
        if (ev.kv().mod_revision() >= catching[c].watcher->min_rev) catching[c].matched.push_back(e);
      }
    }
    for (uint32_t c : ranges) {
      const Watcher& w = *catching[c].watcher;
      if (ev.kv().mod_revision() >= w.min_rev && KeyRange{w.key, w.end}.Contains(ev.kv().key())) {
        catching[c].matched.push_back(e);
      }
    }
  }
  for (Catching& c : catching) {
    Watcher& w = *c.watcher;
    std::vector<mvccpb::Event> selected;
    selected.reserve(c.matched.size());
    for (uint32_t e : c.matched) {
      if (absl::Status st = AppendIfWanted(w, events[e], &selected); !st.ok()) return st;
    }
    if (!selected.empty()) {
      if (!SendEvents(*c.stream, w, *last, std::move(selected))) continue;
      w.idle_since_tick = false;
    }
    w.min_rev = *last + 1;
    SetSynced(c.sid, w, w.min_rev > current);
  }
  return absl::OkStatus();
}

bool WatchHub::HasBacklog() const {
  if (unsynced_count() > 0) return true;
  for (const auto& [sid, s] : streams_) {
    if (!s.control.empty() || s.progress_requested) return true;
  }
  return false;
}

}  // namespace keel::kv
