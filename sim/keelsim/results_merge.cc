#include "sim/keelsim/results_merge.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace keel::sim {
namespace {

// Lists stay readable: at most this many seeds or shards are named in one problem line.
constexpr size_t kNamed = 12;

std::string NameSome(const std::vector<uint64_t>& values) {
  std::vector<uint64_t> shown(values.begin(), values.begin() + std::min(values.size(), kNamed));
  std::string out = absl::StrJoin(shown, ", ");
  if (values.size() > kNamed) absl::StrAppend(&out, ", ... (", values.size(), " in all)");
  return out;
}

std::string Shard(const Provenance& p) {
  return absl::StrCat("shard ", p.shard_index, "/", p.shard_count, " of seeds ", p.first_seed, "-",
                      p.last_seed);
}

}  // namespace

absl::Status ResultsMerge::AddFile(const std::string& name, std::istream& in) {
  std::string line;
  size_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.empty()) continue;
    const std::string where = absl::StrCat(name, ":", line_number, ": ");
    google::protobuf::Struct s;
    if (!google::protobuf::util::JsonStringToMessage(line, &s).ok()) {
      return absl::InvalidArgumentError(absl::StrCat(where, "not JSON: ", line.substr(0, 80)));
    }
    if (s.fields().contains("provenance")) {
      absl::StatusOr<Provenance> p = Provenance::FromJsonLine(line);
      if (!p.ok()) return absl::InvalidArgumentError(absl::StrCat(where, p.status().message()));
      Part part;
      part.file = name;
      part.provenance = *std::move(p);
      parts_.push_back(std::move(part));
      continue;
    }
    // Results before any provenance line: a file of an older keelsim, or a truncated head.
    if (parts_.empty() || parts_.back().file != name) {
      Part part;
      part.file = name;
      parts_.push_back(std::move(part));
    }
    Part& part = parts_.back();
    if (s.fields().contains("shard_done")) {
      const auto& f = s.fields().at("shard_done").struct_value().fields();
      part.wall_seconds = f.contains("wall_s") ? f.at("wall_s").number_value() : 0.0;
      part.stopped_early = f.contains("stopped_early") && f.at("stopped_early").bool_value();
      continue;
    }
    absl::StatusOr<RunResult> r = SweepReport::FromJsonLine(line);
    if (!r.ok()) return absl::InvalidArgumentError(absl::StrCat(where, r.status().message()));
    part.seeds.insert(r->seed);
    part.sim_seconds += r->sim_seconds;
    auto [it, fresh] = first_result_.try_emplace(r->seed, *r);
    if (!fresh) {
      ++duplicates_[r->seed];
      if (it->second.ok != r->ok || it->second.trace_hash != r->trace_hash) duplicates_differ_.insert(r->seed);
      continue;
    }
    first_line_[r->seed] = line;
    report_.Add(*r);
  }
  if (in.bad()) return absl::DataLossError(absl::StrCat(name, ": read error"));
  return absl::OkStatus();
}

std::vector<std::string> ResultsMerge::Problems(bool allow_mixed) const {
  std::vector<std::string> problems;
  // One value per part, e.g. the commit: if parts disagree, say which files hold which.
  auto same = [&](const char* what, auto field, bool allowed) {
    std::map<std::string, std::vector<std::string>> files_by_value;
    for (const Part& part : parts_) {
      if (part.provenance.has_value()) files_by_value[field(*part.provenance)].push_back(part.file);
    }
    if (files_by_value.size() <= 1 || allowed) return;
    std::string line = absl::StrCat("mixed ", what, ":");
    for (const auto& [value, files] : files_by_value) {
      absl::StrAppend(&line, " ", value.empty() ? "(none)" : value, " in ", files.size(), " file(s) (",
                      files.front(), files.size() > 1 ? ", ..." : "", ");");
    }
    problems.push_back(line);
  };
  same("commits", [](const Provenance& p) { return absl::StrCat(p.commit, p.tree == "modified" ? "+modified" : ""); },
       allow_mixed);
  same("binaries (sha256)", [](const Provenance& p) { return p.binary_sha256; }, allow_mixed);
  same("build flags", [](const Provenance& p) { return p.build; }, allow_mixed);
  // A different bug-zoo entry is a different experiment, never one sweep.
  same("bug-zoo entries", [](const Provenance& p) { return p.bug; }, false);
  if (!allow_mixed && !problems.empty()) {
    problems.push_back("refusing to add up results of different builds; pass --allow-mixed to merge anyway");
  }

  // Shards of each (seed range, shard count): which indices are present.
  std::map<std::tuple<uint64_t, uint64_t, uint64_t>, absl::btree_set<uint64_t>> shards;
  for (const Part& part : parts_) {
    if (!part.provenance.has_value()) {
      if (!allow_mixed) {
        problems.push_back(absl::StrCat(part.file, ": ", part.seeds.size(),
                                        " results without a provenance line (written by an older keelsim?)"));
      }
      continue;
    }
    const Provenance& p = *part.provenance;
    shards[{p.first_seed, p.last_seed, p.shard_count}].insert(p.shard_index);
    std::vector<uint64_t> outside;
    for (uint64_t seed : part.seeds) {
      if (!p.Covers(seed)) outside.push_back(seed);
    }
    if (!outside.empty()) {
      problems.push_back(absl::StrCat(part.file, ": seeds outside ", Shard(p), ": ", NameSome(outside)));
    }
    if (!part.wall_seconds.has_value()) {
      problems.push_back(absl::StrCat(part.file, ": ", Shard(p),
                                      " did not finish (no shard_done line: killed, or still running)"));
    } else if (part.stopped_early) {
      problems.push_back(absl::StrCat(part.file, ": ", Shard(p), " stopped at its first failure"));
    }
  }
  for (const auto& [key, present] : shards) {
    const auto& [first, last, count] = key;
    std::vector<uint64_t> missing;
    for (uint64_t k = 0; k < count; ++k) {
      if (!present.contains(k)) missing.push_back(k);
    }
    if (!missing.empty()) {
      problems.push_back(absl::StrCat("missing shards of seeds ", first, "-", last, " in ", count,
                                      " shards: ", NameSome(missing), " (no results file names them)"));
    }
  }
  // Seeds a present shard was responsible for but that no file holds. The loop is bounded
  // by the shard's own range; a range too large to walk is reported instead.
  std::vector<uint64_t> missing_seeds;
  for (const Part& part : parts_) {
    if (!part.provenance.has_value()) continue;
    const Provenance& p = *part.provenance;
    if (p.last_seed - p.first_seed > 100'000'000) {
      problems.push_back(absl::StrCat(part.file, ": ", Shard(p), " is too large to check for missing seeds"));
      continue;
    }
    const uint64_t start = p.first_seed + (p.shard_index + p.shard_count - p.first_seed % p.shard_count) % p.shard_count;
    for (uint64_t seed = start; seed <= p.last_seed && seed >= start; seed += p.shard_count) {
      if (!first_result_.contains(seed)) missing_seeds.push_back(seed);
    }
  }
  std::sort(missing_seeds.begin(), missing_seeds.end());
  missing_seeds.erase(std::unique(missing_seeds.begin(), missing_seeds.end()), missing_seeds.end());
  if (!missing_seeds.empty()) {
    problems.push_back(absl::StrCat("missing seeds: ", NameSome(missing_seeds)));
  }
  if (!duplicates_.empty()) {
    std::vector<uint64_t> seeds;
    for (const auto& [seed, extra] : duplicates_) seeds.push_back(seed);
    std::string line = absl::StrCat("duplicate seeds (the same seed in two results): ", NameSome(seeds));
    if (duplicates_differ_.empty()) {
      absl::StrAppend(&line, "; every copy has the same verdict and trace hash");
    } else {
      absl::StrAppend(&line, "; copies DIFFER in verdict or trace hash for ",
                      NameSome(std::vector<uint64_t>(duplicates_differ_.begin(), duplicates_differ_.end())),
                      " (different builds, or a nondeterministic run)");
    }
    problems.push_back(line);
  }
  return problems;
}

std::string ResultsMerge::SpeedLine() const {
  double speed = 0, sim = 0, wall = 0;
  size_t timed = 0;
  for (const Part& part : parts_) {
    sim += part.sim_seconds;
    if (!part.wall_seconds.has_value() || *part.wall_seconds <= 0) continue;
    ++timed;
    wall += *part.wall_seconds;
    speed += part.sim_seconds / *part.wall_seconds;
  }
  return absl::StrFormat(
      "speed: %.1f simulated seconds per wall second summed over %d timed shards (%.1f simulated s in "
      "total, %.1f shard-wall s)",
      speed, timed, sim, wall);
}

std::string ResultsMerge::MergedFile() const {
  Provenance merged;
  for (const Part& part : parts_) {
    if (part.provenance.has_value()) {
      merged = *part.provenance;
      break;
    }
  }
  merged.shard_index = 0;
  merged.shard_count = 1;
  merged.jobs = 0;
  merged.host = "merged";
  if (!first_result_.empty()) {
    merged.first_seed = first_result_.begin()->first;
    merged.last_seed = first_result_.rbegin()->first;
  }
  double wall = 0;
  bool stopped_early = false;
  for (const Part& part : parts_) {
    wall += part.wall_seconds.value_or(0);
    stopped_early = stopped_early || part.stopped_early;
  }
  std::string out = absl::StrCat(merged.ToJsonLine(), "\n");
  for (const auto& [seed, line] : first_line_) absl::StrAppend(&out, line, "\n");
  absl::StrAppend(&out, ShardDoneJsonLine(first_line_.size(), wall, stopped_early), "\n");
  return out;
}

}  // namespace keel::sim
