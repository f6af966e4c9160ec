#include "chaos/round_checks.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "sim/checkers/linearizability.h"

namespace keel::chaos {

namespace {
constexpr size_t kMaxOpsShown = 12;
}  // namespace

std::vector<std::string> CheckRegisterRound(const checkers::History& history, bool* inconclusive) {
  *inconclusive = false;
  if (history.empty()) return {};
  checkers::LinearizabilityResult r =
      checkers::CheckLinearizability(history, {.max_search_steps = 20'000'000});
  if (r.verdict == checkers::Verdict::kOk) return {};
  if (r.verdict == checkers::Verdict::kInconclusive) {
    *inconclusive = true;
    return {};
  }
  std::vector<std::string> ops;
  for (size_t i = 0; i < r.involved_ops.size() && i < kMaxOpsShown; ++i) {
    ops.push_back("    " + checkers::DescribeOperation(history, r.involved_ops[i]));
  }
  return {absl::StrCat(r.property, " on key ", r.key, ": ", r.explanation,
                       ops.empty() ? "" : "\n  operations involved:\n", absl::StrJoin(ops, "\n"))};
}

std::vector<std::string> CheckWatches(std::map<int64_t, std::vector<checkers::WatchEvent>> acked,
                                      const std::vector<std::vector<checkers::WatcherHistory>>& streams) {
  std::vector<std::string> out;
  absl::StatusOr<checkers::CommittedLog> log = checkers::CommittedLog::Create(std::move(acked), false);
  if (!log.ok()) return {absl::StrCat("acknowledged-writes: ", log.status().message())};
  using Flat = std::tuple<int64_t, std::string, std::string, int>;  // revision, key, value, type
  std::vector<std::vector<Flat>> flat(streams.size());
  std::vector<int64_t> last_seen(streams.size(), 0);
  for (size_t w = 0; w < streams.size(); ++w) {
    if (streams[w].empty()) continue;
    if (std::optional<checkers::Violation> v = checkers::CheckWatchStream(*log, streams[w])) {
      out.push_back(absl::StrCat(v->property, ": ", v->message));
    }
    for (const auto& incarnation : streams[w]) {
      for (const auto& response : incarnation.responses) {
        for (const auto& e : response.events) {
          flat[w].emplace_back(e.mod_revision, e.key, e.value, static_cast<int>(e.type));
          last_seen[w] = std::max(last_seen[w], e.mod_revision);
        }
      }
    }
  }
  if (streams.size() < 2) return out;
  const int64_t common = *std::min_element(last_seen.begin(), last_seen.end());
  const auto prefix = [common](const std::vector<Flat>& events) {
    std::vector<Flat> p;
    for (const Flat& e : events) {
      if (std::get<0>(e) <= common) p.push_back(e);
    }
    return p;
  };
  const std::vector<Flat> reference = prefix(flat[0]);
  for (size_t w = 1; w < flat.size(); ++w) {
    const std::vector<Flat> other = prefix(flat[w]);
    if (other == reference) continue;
    size_t i = 0;
    while (i < reference.size() && i < other.size() && reference[i] == other[i]) ++i;
    const auto show = [](const std::vector<Flat>& v, size_t i) {
      return i < v.size() ? absl::StrCat(std::get<1>(v[i]), "=", std::get<2>(v[i]), "@", std::get<0>(v[i]))
                          : std::string("(nothing)");
    };
    out.push_back(absl::StrCat("watch-agreement: watcher 0 and watcher ", w,
                               " differ up to revision ", common, " at event #", i, ": ",
                               show(reference, i), " vs ", show(other, i)));
  }
  return out;
}

std::vector<std::string> CheckReplicaHashes(const ChaosCluster& cluster, absl::Duration timeout,
                                            std::string* summary) {
  const absl::Time deadline = absl::Now() + timeout;
  std::vector<std::string> revisions;
  while (absl::Now() < deadline) {  // bounded by the deadline
    revisions.clear();
    int64_t revision = -1;
    bool equal = true;
    for (int i = 0; i < cluster.size(); ++i) {
      if (!cluster.Running(i)) continue;
      absl::StatusOr<etcdserverpb::StatusResponse> s = cluster.Status(i);
      const int64_t r = s.ok() ? s->header().revision() : -1;
      revisions.push_back(absl::StrCat(cluster.name(i), "=", r));
      if (r < 0 || (revision >= 0 && r != revision)) equal = false;
      revision = std::max(revision, r);
    }
    if (equal && revision > 0) {
      std::vector<std::string> hashes;
      uint32_t first = 0;
      bool same = true, all_answered = true;
      for (int i = 0; i < cluster.size(); ++i) {
        if (!cluster.Running(i)) continue;
        absl::StatusOr<etcdserverpb::HashKVResponse> h = cluster.HashKV(i, revision);
        if (!h.ok()) {
          all_answered = false;
          break;
        }
        if (hashes.empty()) first = h->hash();
        same = same && h->hash() == first;
        hashes.push_back(absl::StrCat(cluster.name(i), "=", h->hash()));
      }
      if (all_answered) {
        if (!same) {
          return {absl::StrCat("replica-agreement: HashKV at revision ", revision, " differs: ",
                               absl::StrJoin(hashes, " "))};
        }
        *summary = absl::StrCat("hashkv equal at rev ", revision);
        return {};
      }
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  return {absl::StrCat("replica-convergence: members did not reach one revision within ",
                       absl::FormatDuration(timeout), " after the heal: ",
                       absl::StrJoin(revisions, " "))};
}

}  // namespace keel::chaos
