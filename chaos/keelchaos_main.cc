// keelchaos: a real keeld (or etcd 3.4) cluster under real faults, judged by sim/checkers.
//
//   keelchaos run --target=keeld|etcd --nodes=3|5 --duration=60s --faults=LIST|all
//                 --workload=register,bank,watch|all --seed=N [--report=DIR]
//                 [--keeld=PATH] [--etcd=PATH] [--work-dir=DIR] [--keep-work-dir]
//                 [--election-ms=500] [--heartbeat-ms=50] [--bug=serializable-reads]
//                 [--lose-unsynced]   (keeld: every kill -9 is a power loss)
//
// Rounds of heal -> fault -> heal -> check until --duration has passed and every fault kind
// fired at least once. Prints one line per round, every anomaly with the operations
// involved and the command that replays the schedule, and finally "N passed, M failed".
// Exit status: 0 no anomaly, 1 anomalies, 2 usage or harness error.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "chaos/chaos_cluster.h"
#include "chaos/faults.h"
#include "chaos/round_checks.h"
#include "chaos/supervisor.h"
#include "chaos/workloads.h"
#include "client/client.h"

namespace keel::chaos {
namespace {

constexpr int kMaxRounds = 10000;
constexpr absl::Duration kLivenessBound = absl::Seconds(30);

struct Flags {
  std::string target = "keeld";
  std::string keeld;
  std::string etcd = "/usr/bin/etcd";
  int nodes = 3;
  absl::Duration duration = absl::Seconds(60);
  std::string faults = "all";
  std::string workload = "all";
  uint64_t seed = 1;
  std::string report;
  std::string work_dir;
  bool keep_work_dir = false;
  int election_ms = 500;
  int heartbeat_ms = 50;
  std::string bug;
  bool lose_unsynced = false;
  std::string duration_text = "60s";
};

int Usage(const std::string& why) {
  std::fprintf(stderr,
               "keelchaos: %s\nusage: keelchaos run --target=keeld|etcd --nodes=N --duration=60s "
               "--faults=LIST|all --workload=register,bank,watch|all --seed=N [--report=DIR] "
               "[--keeld=PATH] [--etcd=PATH] [--work-dir=DIR] [--keep-work-dir] "
               "[--election-ms=500] [--heartbeat-ms=50] [--bug=serializable-reads] [--lose-unsynced]\n",
               why.c_str());
  return 2;
}

// keeld from the flag, else from this binary's runfiles (bazel run / bazel test).
std::string FindKeeld(const std::string& flag, const char* argv0) {
  if (!flag.empty()) return flag;
  std::vector<std::string> candidates;
  for (const char* env : {"RUNFILES_DIR", "TEST_SRCDIR"}) {
    if (const char* dir = std::getenv(env)) candidates.push_back(absl::StrCat(dir, "/keel/node/keeld"));
  }
  candidates.push_back(absl::StrCat(argv0, ".runfiles/keel/node/keeld"));
  for (const std::string& c : candidates) {
    if (std::filesystem::exists(c)) return c;
  }
  return "";
}

class Output {
 public:
  explicit Output(const std::string& report_dir) {
    if (report_dir.empty()) return;
    std::filesystem::create_directories(report_dir);
    summary_.open(report_dir + "/summary.txt", std::ios::trunc);
    history_.open(report_dir + "/history.jsonl", std::ios::trunc);
  }
  void Line(const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
    if (summary_.is_open()) summary_ << line << "\n" << std::flush;
  }
  void History(const std::vector<std::string>& lines) {
    if (!history_.is_open()) return;
    for (const std::string& l : lines) history_ << l << "\n";
    history_.flush();
  }

 private:
  std::ofstream summary_;
  std::ofstream history_;
};

// The first successful write after a heal: election + commit, as a client sees it.
absl::StatusOr<absl::Duration> ProbeWrite(client::Client* admin, int round) {
  const absl::Time start = absl::Now();
  for (int attempt = 0; absl::Now() - start < kLivenessBound; ++attempt) {
    if (admin->Put("p/probe", absl::StrCat(round, ".", attempt)).ok()) return absl::Now() - start;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError("no successful write");
}

int Run(const Flags& f, const std::string& binary, const std::string& replay) {
  Output out(f.report);
  std::string work_dir = f.work_dir;
  if (work_dir.empty()) {
    const char* base = std::getenv("TEST_TMPDIR");
    std::string templ = absl::StrCat(base != nullptr ? base : "/tmp", "/keelchaos-XXXXXX");
    if (::mkdtemp(templ.data()) == nullptr) return Usage("cannot create a work dir");
    work_dir = templ;
  }
  absl::StatusOr<std::vector<FaultKind>> kinds = ParseFaults(f.faults);
  if (!kinds.ok()) return Usage(std::string(kinds.status().message()));

  absl::StatusOr<std::unique_ptr<ChaosCluster>> cluster = ChaosCluster::Start(
      {.binary = binary, .nodes = f.nodes, .work_dir = work_dir,
       .heartbeat_ms = f.heartbeat_ms, .election_ms = f.election_ms,
       .lose_unsynced = f.lose_unsynced});
  if (!cluster.ok()) {
    std::fprintf(stderr, "keelchaos: %s\n", std::string(cluster.status().message()).c_str());
    return 2;
  }
  ChaosCluster& c = **cluster;
  std::vector<std::string> pids;
  for (int i = 0; i < c.size(); ++i) pids.push_back(absl::StrCat(c.pid(i)));
  out.Line(absl::StrCat("keelchaos: cluster up: target=", f.target, " binary=", binary,
                        " nodes=", f.nodes, " pids=", absl::StrJoin(pids, ","), " work_dir=", work_dir));

  absl::StatusOr<std::unique_ptr<client::Client>> admin = client::Client::Create(
      {.endpoints = c.ClientAddresses(), .dial_timeout = absl::Seconds(5),
       .command_timeout = absl::Seconds(1)});
  if (!admin.ok()) {
    std::fprintf(stderr, "keelchaos: admin client: %s\n", std::string(admin.status().message()).c_str());
    return 2;
  }
  WorkloadOptions wo{.endpoints = c.ClientAddresses(), .seed = f.seed,
                     .bug_serializable_reads = f.bug == "serializable-reads"};
  if (f.workload != "all") {
    wo.run_register = wo.run_bank = wo.run_watch = false;
    for (absl::string_view w : absl::StrSplit(f.workload, ',', absl::SkipEmpty())) {
      if (w == "register") wo.run_register = true;
      else if (w == "bank") wo.run_bank = true;
      else if (w == "watch") wo.run_watch = true;
      else return Usage(absl::StrCat("unknown workload '", w, "' (register, bank, watch, all)"));
    }
  }
  const absl::Time epoch = absl::Now();
  absl::StatusOr<std::unique_ptr<Workloads>> workloads = Workloads::Start(wo, epoch);
  if (!workloads.ok()) {
    std::fprintf(stderr, "keelchaos: workloads: %s\n", std::string(workloads.status().message()).c_str());
    return 2;
  }
  Workloads& w = **workloads;

  FaultSchedule schedule(*kinds, f.seed, f.election_ms);
  FaultInjector injector(&c, admin->get());
  std::map<std::string, std::vector<absl::Duration>> recovery;  // per fault kind
  std::map<std::string, int> fired;
  int passed = 0, failed = 0, inconclusive_rounds = 0;
  size_t planned = 0;
  WorkloadCounters before;
  for (int round = 1; round <= kMaxRounds; ++round) {
    if (absl::Now() - epoch >= f.duration && planned >= kinds->size()) break;
    std::vector<std::string> anomalies;
    w.BeginRound(round);
    absl::StatusOr<int> leader = c.WaitLeader(kLivenessBound);
    if (!leader.ok()) anomalies.push_back(absl::StrCat("liveness: before the fault: ", leader.status().message()));
    absl::SleepFor(absl::Milliseconds(200));  // some load on a healthy cluster
    const FaultPlan plan = schedule.Next(c.size(), leader.ok() ? *leader : 0);
    ++planned;
    const std::string fault = plan.Describe(c);
    ++fired[FaultName(plan.kind)];
    absl::StatusOr<std::string> note = injector.Apply(plan);
    if (!note.ok()) {
      std::fprintf(stderr, "keelchaos: fault: %s\n", std::string(note.status().message()).c_str());
      return 2;
    }
    const absl::Time fault_end = absl::Now() + plan.duration;
    while (absl::Now() < fault_end) {  // bounded by the plan's duration
      injector.Tick();
      absl::SleepFor(absl::Milliseconds(20));
    }
    if (absl::Status s = injector.Heal(); !s.ok()) {
      std::fprintf(stderr, "keelchaos: heal: %s\n", std::string(s.message()).c_str());
      return 2;
    }
    if (!injector.heal_problem().empty()) anomalies.push_back(injector.heal_problem());
    std::string recovered = "recovery n/a";
    absl::StatusOr<absl::Duration> rec = ProbeWrite(admin->get(), round);
    if (rec.ok()) {
      recovery[FaultName(plan.kind)].push_back(*rec);
      recovered = absl::StrCat("recovery ", absl::FormatDuration(absl::Trunc(*rec, absl::Milliseconds(1))));
    } else {
      anomalies.push_back(absl::StrCat("liveness: no successful write within ",
                                       absl::FormatDuration(kLivenessBound), " after the heal"));
    }
    if (absl::StatusOr<int> l = c.WaitLeader(kLivenessBound); !l.ok()) {
      anomalies.push_back(absl::StrCat("liveness: after the heal: ", l.status().message()));
    }
    absl::SleepFor(absl::Milliseconds(200));  // load on the healed cluster
    if (!w.Quiesce(absl::Seconds(15))) anomalies.push_back("harness: workers did not go idle in 15s");
    w.FinalReads(round);

    for (std::string& e : c.UnexpectedExits()) anomalies.push_back("member-exit: " + e);
    std::string hash_summary = "hashkv n/a";
    for (std::string& a : CheckReplicaHashes(c, absl::Seconds(10), &hash_summary)) anomalies.push_back(a);
    bool inconclusive = false;
    for (std::string& a : CheckRegisterRound(w.RegisterHistory(round), &inconclusive)) anomalies.push_back(a);
    if (inconclusive) ++inconclusive_rounds;
    for (std::string& a : CheckWatches(w.AckedWrites(), w.WatchStreams())) anomalies.push_back(a);
    for (std::string& a : w.TakeAnomalies()) anomalies.push_back(a);
    out.History(w.TakeJsonLines());

    const WorkloadCounters now = w.counters();
    out.Line(absl::StrFormat(
        "round %d %s%s: %s; register %d ops (%d unknown)%s; bank %d reads %d transfers; "
        "watch %d events; %s -> %s",
        round, fault, note->empty() ? "" : " [" + *note + "]", recovered,
        now.register_ops - before.register_ops, now.register_unknown - before.register_unknown,
        inconclusive ? " INCONCLUSIVE" : "", now.bank_reads - before.bank_reads,
        now.bank_transfers - before.bank_transfers, now.watch_events - before.watch_events,
        hash_summary, anomalies.empty() ? "PASS" : "FAIL"));
    before = now;
    for (const std::string& a : anomalies) out.Line(absl::StrCat("ANOMALY round ", round, ": ", a));
    if (!anomalies.empty()) out.Line("  replay: " + replay);
    (anomalies.empty() ? passed : failed) += 1;
  }

  // After the last heal (workers idle since the last round's Quiesce) every watcher must
  // catch up with every acknowledged write.
  std::vector<std::string> final_anomalies;
  int64_t last_acked = 0;
  for (const auto& [rev, events] : w.AckedWrites()) last_acked = std::max(last_acked, rev);
  const absl::Time catch_up = absl::Now() + absl::Seconds(20);
  std::vector<int64_t> seen = w.WatcherRevisions();
  while (absl::Now() < catch_up &&
         std::any_of(seen.begin(), seen.end(), [&](int64_t s) { return s < last_acked; })) {
    absl::SleepFor(absl::Milliseconds(100));
    seen = w.WatcherRevisions();
  }
  for (size_t i = 0; i < seen.size(); ++i) {
    if (seen[i] < last_acked) {
      final_anomalies.push_back(absl::StrCat("watch-stalled: watcher ", i, " saw up to revision ", seen[i],
                                             " but revision ", last_acked, " was acknowledged"));
    }
  }
  for (std::string& a : CheckWatches(w.AckedWrites(), w.WatchStreams())) final_anomalies.push_back(a);
  for (std::string& a : w.TakeAnomalies()) final_anomalies.push_back(a);
  w.Stop();
  out.History(w.TakeJsonLines());
  const WorkloadCounters total = w.counters();
  out.Line(absl::StrFormat("final: watchers at %s (last acknowledged revision %d), %d reconnects, "
                           "%d new incarnations -> %s",
                           absl::StrJoin(seen, ","), last_acked, total.watch_reconnects, total.watch_resumes,
                           final_anomalies.empty() ? "PASS" : "FAIL"));
  for (const std::string& a : final_anomalies) out.Line("ANOMALY final: " + a);
  if (!final_anomalies.empty()) {
    out.Line("  replay: " + replay);
    ++failed;
  }
  for (const auto& [kind, count] : fired) {
    const auto& r = recovery[kind];
    absl::Duration sum, worst;
    for (absl::Duration d : r) {
      sum += d;
      worst = std::max(worst, d);
    }
    out.Line(absl::StrCat("fault ", kind, ": fired ", count, ", recovery (heal -> first write) mean ",
                          r.empty() ? "n/a" : absl::FormatDuration(absl::Trunc(sum / r.size(), absl::Milliseconds(1))),
                          " max ", r.empty() ? "n/a" : absl::FormatDuration(absl::Trunc(worst, absl::Milliseconds(1)))));
  }
  const PeerProxy::Stats ps = c.proxy().stats();
  const PeerProxy::Stats cs = c.client_proxy().stats();
  out.Line(absl::StrCat("totals: register ", total.register_ops, " ops (", total.register_unknown,
                        " unknown, ", total.register_failed, " failed reads); bank ", total.bank_reads,
                        " reads, ", total.bank_transfers, " transfers (", total.bank_unknown,
                        " unknown); watch ", total.watch_events, " events; proxy ", ps.accepted,
                        " connections, ", ps.refused, " refused, ", ps.cut, " cut, ",
                        ps.unattributed, " unattributed; client proxy ", cs.accepted,
                        " connections, ", cs.cut, " cut; ", inconclusive_rounds,
                        " rounds inconclusive"));
  out.Line(absl::StrCat(passed, " passed, ", failed, " failed"));
  if (!f.keep_work_dir && f.work_dir.empty() && failed == 0) {
    cluster->reset();
    std::error_code ignored;
    std::filesystem::remove_all(work_dir, ignored);
  }
  return failed == 0 ? 0 : 1;
}

int Main(int argc, char** argv) {
  InstallChildReaper();
  if (argc < 2 || std::string(argv[1]) != "run") return Usage("expected the subcommand 'run'");
  Flags f;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    const size_t eq = arg.find('=');
    const std::string name = arg.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : arg.substr(eq + 1);
    bool ok = true;
    if (name == "--target") f.target = value;
    else if (name == "--keeld") f.keeld = value;
    else if (name == "--etcd") f.etcd = value;
    else if (name == "--nodes") ok = absl::SimpleAtoi(value, &f.nodes) && f.nodes >= 1 && f.nodes <= 7;
    else if (name == "--duration") ok = absl::ParseDuration(value, &f.duration), f.duration_text = value;
    else if (name == "--faults") f.faults = value;
    else if (name == "--workload") f.workload = value;
    else if (name == "--seed") ok = absl::SimpleAtoi(value, &f.seed);
    else if (name == "--report") f.report = value;
    else if (name == "--work-dir") f.work_dir = value;
    else if (name == "--keep-work-dir") f.keep_work_dir = true;
    else if (name == "--lose-unsynced") f.lose_unsynced = true;
    else if (name == "--election-ms") ok = absl::SimpleAtoi(value, &f.election_ms) && f.election_ms > 0;
    else if (name == "--heartbeat-ms") ok = absl::SimpleAtoi(value, &f.heartbeat_ms) && f.heartbeat_ms > 0;
    else if (name == "--bug") ok = value == "serializable-reads", f.bug = value;
    else return Usage("unknown flag " + arg);
    if (!ok) return Usage("bad value in " + arg);
  }
  std::string binary;
  if (f.target == "keeld") {
    binary = FindKeeld(f.keeld, argv[0]);
    if (binary.empty()) return Usage("keeld not found: pass --keeld=PATH (or bazel run //chaos:keelchaos)");
  } else if (f.target == "etcd") {
    if (f.lose_unsynced) return Usage("--lose-unsynced is a keeld failpoint");
    binary = f.etcd;
  } else {
    return Usage("--target must be keeld or etcd");
  }
  const std::string replay = absl::StrCat(
      "keelchaos run --target=", f.target, " --nodes=", f.nodes, " --duration=", f.duration_text,
      " --faults=", f.faults, " --workload=", f.workload, " --seed=", f.seed,
      f.bug.empty() ? "" : " --bug=" + f.bug, f.lose_unsynced ? " --lose-unsynced" : "");
  return Run(f, binary, replay);
}

}  // namespace
}  // namespace keel::chaos

int main(int argc, char** argv) { return keel::chaos::Main(argc, argv); }
