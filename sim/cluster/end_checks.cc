#include "sim/cluster/end_checks.h"

#include <algorithm>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/serverpb/internal.pb.h"
#include "sim/checkers/durability.h"
#include "sim/checkers/watch_checker.h"
#include "sim/cluster/workload_checks.h"

namespace keel::sim {
namespace {

// Reading the committed log back is bounded: a run commits far fewer events than this.
constexpr size_t kMaxCommittedEvents = 10'000'000;

checkers::WatchEvent ToWatchEvent(const mvccpb::Event& e, bool delivered) {
  checkers::WatchEvent w;
  w.type = e.type() == mvccpb::Event::DELETE ? checkers::EventType::kDelete : checkers::EventType::kPut;
  w.key = e.kv().key();
  if (w.type == checkers::EventType::kPut) w.value = e.kv().value();
  w.mod_revision = e.kv().mod_revision();
  if (delivered && e.has_prev_kv()) {
    w.has_prev_kv = true;
    w.prev_value = e.prev_kv().value();
    w.prev_mod_revision = e.prev_kv().mod_revision();
  }
  return w;
}

checkers::WatcherHistory ToWatcherHistory(const WatchLog& log, size_t stream) {
  const WatchStreamLog& s = log.streams[stream];
  checkers::WatcherHistory h;
  h.name = absl::StrFormat("watcher %d stream %d (n%d, from revision %d)", log.watcher, stream,
                           s.member + 1, s.start_revision);
  // The workload's watch: ["k", "l"), prev_kv, filters as the stream asked (workload.cc).
  h.key = "k";
  h.range_end = "l";
  h.start_revision = s.start_revision;
  h.prev_kv = true;
  h.filter_put = s.filter_put;
  h.filter_delete = s.filter_delete;
  for (const etcdserverpb::WatchResponse& r : s.responses) {
    checkers::WatchResponse c;
    c.header_revision = r.header().revision();
    c.created = r.created();
    c.canceled = r.canceled();
    c.compact_revision = r.compact_revision();
    c.fragment = r.fragment();
    for (const mvccpb::Event& e : r.events()) c.events.push_back(ToWatchEvent(e, true));
    h.responses.push_back(std::move(c));
  }
  return h;
}

}  // namespace

LeaseRevokeRecorder::LeaseRevokeRecorder(SimCluster* cluster)
    : cluster_(cluster), next_(std::move(cluster->on_apply)) {
  cluster_->on_apply = [this](int node, const raftpb::Entry& e) { OnApply(node, e); };
}

void LeaseRevokeRecorder::OnApply(int node, const raftpb::Entry& e) {
  if (next_) next_(node, e);
  if (e.type() != raftpb::EntryNormal || e.data().empty()) return;
  const int64_t lease = RevokedLease(e);
  if (lease == 0) return;
  server::ServerImpl* s = cluster_->server(node);
  if (s == nullptr) return;
  // Called right after the member applied the entry (or skipped it, already in its
  // backend: then the store is further along, which only makes R larger, still sound).
  const int64_t after = s->store().current_revision() + 1;
  revoked_at_ns_.emplace(lease, cluster_->world().now_ns());  // the first apply wins
  auto [it, inserted] = revoked_.emplace(lease, after);
  if (!inserted) it->second = std::min(it->second, after);
}

int64_t LeaseRevokeRecorder::RevokedLease(const raftpb::Entry& e) {
  const std::pair<uint64_t, uint64_t> at{e.index(), e.term()};
  if (auto it = parsed_.find(at); it != parsed_.end()) return it->second;
  serverpb::InternalRaftRequest request;
  const int64_t lease = request.ParseFromString(e.data()) && request.has_lease_revoke()
                            ? request.lease_revoke().id()
                            : 0;
  parsed_.emplace(at, lease);
  if (parsed_.size() > kMaxRemembered) parsed_.erase(parsed_.begin());  // the oldest index
  return lease;
}

std::optional<checkers::Violation> CheckLeases(SimCluster* cluster, const LeaseRevokeRecorder& revokes,
                                               const checkers::History& history) {
  std::vector<checkers::ReplicaFinalState> finals;
  std::map<int64_t, std::set<std::string>> attached;  // lease -> keys attached on some replica
  for (int i = 0; i < cluster->size(); ++i) {
    server::ServerImpl* s = cluster->server(i);
    if (s == nullptr) continue;
    etcdserverpb::RangeRequest req;
    req.set_key("kl");  // Workload::IsLeaseKey
    req.set_range_end("km");
    absl::StatusOr<etcdserverpb::RangeResponse> r = s->store().Range(req);
    if (!r.ok()) continue;
    checkers::ReplicaFinalState state;
    state.node = cluster->member_id(i);
    state.revision = s->store().current_revision();
    for (const mvccpb::KeyValue& kv : r->kvs()) {
      state.kvs[kv.key()] = {kv.value(), kv.mod_revision()};
      if (kv.lease() != 0) attached[kv.lease()].insert(kv.key());
    }
    finals.push_back(std::move(state));
  }
  std::vector<checkers::LeaseRevoke> list;
  for (const auto& [lease, revision] : revokes.revoked()) {
    auto it = attached.find(lease);
    if (it == attached.end()) continue;  // nothing left attached anywhere: nothing to check
    list.push_back({lease, revision, std::vector<std::string>(it->second.begin(), it->second.end())});
  }
  return checkers::CheckLeaseRevokes(history, finals, list);
}

std::optional<checkers::Violation> CheckWatches(SimCluster* cluster, const std::vector<WatchLog>& logs,
                                                const EventArchive* archive) {
  bool any = false;
  for (const WatchLog& log : logs) any = any || !log.streams.empty();
  if (!any) return std::nullopt;
  // The live replica furthest along holds every revision any watcher can have seen
  // (the run converged: every live member applied everything committed).
  int best = -1;
  for (int i = 0; i < cluster->size(); ++i) {
    if (cluster->server(i) == nullptr) continue;
    if (best < 0 || cluster->server(i)->store().current_revision() >
                        cluster->server(best)->store().current_revision()) {
      best = i;
    }
  }
  if (best < 0) return std::nullopt;
  std::map<int64_t, std::vector<checkers::WatchEvent>> writes;
  bool complete = false;
  if (archive != nullptr) {
    for (const auto& [revision, events] : archive->events()) {
      for (const mvccpb::Event& e : events) writes[revision].push_back(ToWatchEvent(e, false));
    }
    // Never "complete" in CommittedLog's sense: revision 1 (the empty store) has no events,
    // which Create would reject; where a revision is known, events are still checked.
    complete = false;
  } else {
    kv::MvccStore& store = cluster->server(best)->store();
    const int64_t from = store.compact_revision() + 1;
    std::vector<mvccpb::Event> events;
    absl::StatusOr<int64_t> read = store.ReadEvents(from, store.current_revision(), kMaxCommittedEvents, &events);
    if (!read.ok() || *read != store.current_revision()) {
      return checkers::Violation{"watch-reference",
                                 absl::StrCat("cannot read n", best + 1, "'s committed log: ",
                                              read.ok() ? "truncated" : std::string(read.status().message())),
                                 {}};
    }
    for (const mvccpb::Event& e : events) writes[e.kv().mod_revision()].push_back(ToWatchEvent(e, false));
    complete = from == 1;
  }
  absl::StatusOr<checkers::CommittedLog> committed =
      checkers::CommittedLog::Create(std::move(writes), complete);
  if (!committed.ok()) {
    return checkers::Violation{"watch-reference", std::string(committed.status().message()), {}};
  }
  for (const WatchLog& log : logs) {
    std::vector<checkers::WatcherHistory> streams;
    for (size_t k = 0; k < log.streams.size(); ++k) streams.push_back(ToWatcherHistory(log, k));
    if (auto v = checkers::CheckWatchStream(*committed, streams)) return v;
  }
  return std::nullopt;
}

}  // namespace keel::sim
