#include "sim/keelsim/sweep_report.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace keel::sim {

void SweepReport::Record(const RunResult& r) {
  if (!seen_.insert(r.seed).second) return;
  ++seeds_;
  sim_seconds_ += r.sim_seconds;
  for (const auto& [name, count] : r.coverage) {
    coverage_[name].first += count;
    coverage_[name].second += count > 0 ? 1 : 0;
  }
  if (r.ok) {
    ++passed_;
  } else {
    failures_.insert({r.seed, absl::StrCat("FAIL seed=", r.seed, " checker=", r.checker, ": ", r.message)});
    ++failures_by_checker_[r.checker];
  }
}

void SweepReport::Add(const RunResult& r) { Record(r); }

std::string SweepReport::CoverageTable() const {
  if (seeds_ == 0) return "";
  // Rows that must show even at zero: what a sweep is expected to exercise.
  static const char* const kExpected[] = {
      "raft.elections_started", "raft.elections_won", "raft.prevote_campaigns",
      "raft.snapshots_sent", "raft.snapshots_installed", "raft.joint_entered",
      "raft.leader_transfers", "raft.read_index_batches", "raft.read_index_forwarded",
      "raft.append_rejected", "raft.log_truncations",
      "fault.crash", "fault.pause", "fault.isolate", "fault.split", "fault.asymmetric",
      "fault.flap", "fault.clock_drift", "fault.clock_jump", "fault.wall_step", "fault.disk_slow",
      "fault.vote_crash", "fault.churn",
      "net.dropped_random", "net.dropped_partition", "net.duplicated", "net.tail_delayed",
      "disk.eio_read", "disk.eio_write", "disk.eio_sync", "disk.eio_dir_sync", "disk.enospc",
      "disk.bit_flip", "disk.misdirected_write", "disk.torn_write",
  };
  absl::btree_map<std::string, std::pair<uint64_t, size_t>> rows = coverage_;
  for (const char* name : kExpected) rows.try_emplace(name, 0, 0);
  // Group order: Raft paths first, then faults, then the code's answers and BUGGIFY.
  static const char* const kGroups[] = {"raft.", "fault.", "net.", "disk.", "server.", "buggify.", ""};
  std::string out = absl::StrCat("coverage over ", seeds_, " seeds:\n",
                                 "| what | total | seeds where it fired |\n|---|---:|---:|\n");
  absl::btree_set<std::string> printed;
  for (const char* group : kGroups) {
    for (const auto& [name, c] : rows) {
      if (printed.contains(name) || name.rfind(group, 0) != 0) continue;
      printed.insert(name);
      absl::StrAppend(&out, "| ", name, " | ", c.first, " | ", c.second, " |\n");
    }
  }
  return out;
}

std::string SweepReport::ToJsonLine(const RunResult& r, const std::string& bug) {
  google::protobuf::Struct s;
  auto& f = *s.mutable_fields();
  // Seeds are 64-bit: a string keeps them exact through JSON's doubles.
  f["seed"].set_string_value(absl::StrCat(r.seed));
  f["ok"].set_bool_value(r.ok);
  f["checker"].set_string_value(r.checker);
  f["message"].set_string_value(r.message.substr(0, 2000));
  f["trace_hash"].set_string_value(r.trace_hash);
  f["sim_s"].set_number_value(r.sim_seconds);
  f["events"].set_number_value(static_cast<double>(r.events));
  f["bug"].set_string_value(bug);
  if (!r.coverage.empty()) {
    auto& coverage = *f["coverage"].mutable_struct_value()->mutable_fields();
    for (const auto& [name, count] : r.coverage) coverage[name].set_number_value(static_cast<double>(count));
  }
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(s, &out);
  return out;
}

absl::StatusOr<RunResult> SweepReport::FromJsonLine(const std::string& line) {
  google::protobuf::Struct s;
  if (!google::protobuf::util::JsonStringToMessage(line, &s).ok()) {
    return absl::InvalidArgumentError(absl::StrCat("not a result line: ", line.substr(0, 80)));
  }
  const auto& f = s.fields();
  RunResult r;
  if (!f.contains("seed") || !f.contains("ok") ||
      !absl::SimpleAtoi(f.at("seed").string_value(), &r.seed)) {
    return absl::InvalidArgumentError(absl::StrCat("result line without seed/ok: ", line.substr(0, 80)));
  }
  const auto text = [&](const char* k) { return f.contains(k) ? f.at(k).string_value() : std::string(); };
  const auto number = [&](const char* k) { return f.contains(k) ? f.at(k).number_value() : 0.0; };
  r.ok = f.at("ok").bool_value();
  r.checker = text("checker");
  r.message = text("message");
  r.trace_hash = text("trace_hash");
  r.sim_seconds = number("sim_s");
  r.events = static_cast<uint64_t>(number("events"));
  if (f.contains("coverage")) {
    for (const auto& [name, count] : f.at("coverage").struct_value().fields()) {
      r.coverage[name] = static_cast<uint64_t>(count.number_value());
    }
  }
  return r;
}

absl::Status SweepReport::AddJsonLine(const std::string& line) {
  absl::StatusOr<RunResult> r = FromJsonLine(line);
  if (!r.ok()) return r.status();
  Add(*r);
  return absl::OkStatus();
}

std::string SweepReport::FailuresByChecker() const {
  if (failures_by_checker_.empty()) return "";
  std::string out = "failures by checker:";
  for (const auto& [checker, count] : failures_by_checker_) absl::StrAppend(&out, " ", checker, "=", count);
  return out;
}

std::vector<std::string> SweepReport::failures() const {
  std::vector<std::string> out;
  for (const auto& [seed, line] : failures_) out.push_back(line);
  return out;
}

}  // namespace keel::sim
