// The concurrent client load of a keelchaos run and what it records for the checkers.
//
//   register  `register_clients` threads; each op is a linearizable Get, a Put of a unique
//             value, or a CAS (Txn If(mod_revision(key) == last read) Then(Put)) on one of
//             `register_keys` keys. Keys are fresh each round (c/r/<round>/<k>), so a round's
//             history starts from an empty store and is checked on its own by
//             sim/checkers/linearizability. A read that fails is dropped (kFailed); a write
//             that fails in any way is kUnknown (it may have applied): never a failure.
//   bank      `bank_clients` threads move amounts between `bank_accounts` keys (c/b/<i>) with
//             a Txn guarded by both accounts' mod_revisions; every successful linearizable
//             read of all accounts must see the same total (anomaly "bank-total").
//   watch     `watchers` threads, each with its own client, watch prefix c/ from revision 1
//             through client::Watcher (which resumes across disconnects). A Watcher that gives
//             up is replaced by a new incarnation from its next revision (CheckWatchStream
//             judges the chain).
// Every acknowledged write (register put/CAS, bank transfer) is kept by revision: the
// watch checker's CommittedLog (complete = false) and the anomaly reports use it.
//
// Register and bank workers pause at Quiesce() (after finishing their current request) so
// the checks see a settled round; watchers keep running.
#ifndef KEEL_CHAOS_WORKLOADS_H_
#define KEEL_CHAOS_WORKLOADS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/client.h"
#include "client/watcher.h"
#include "sim/checkers/history.h"
#include "sim/checkers/watch_checker.h"

namespace keel::chaos {

namespace checkers = ::keel::sim::checkers;

struct WorkloadOptions {
  std::vector<std::string> endpoints;
  bool run_register = true;
  bool run_bank = true;
  bool run_watch = true;
  int register_clients = 3;
  int register_keys = 3;
  int bank_clients = 2;
  int bank_accounts = 5;
  int64_t bank_initial = 100;
  int watchers = 2;
  uint64_t seed = 1;
  // Test-only breakage proving the checker wiring: register Gets become serializable reads
  // of a random member, recorded as linearizable ones. A member cut off from the leader then
  // serves stale values, which linearizability must report.
  bool bug_serializable_reads = false;
};

struct WorkloadCounters {
  int64_t register_ops = 0;
  int64_t register_unknown = 0;
  int64_t register_failed = 0;
  int64_t bank_reads = 0;
  int64_t bank_transfers = 0;
  int64_t bank_unknown = 0;
  int64_t watch_events = 0;
  int64_t watch_resumes = 0;     // new incarnations after a Watcher gave up
  int64_t watch_reconnects = 0;  // resumes inside client::Watcher (another endpoint, next revision)
};

class Workloads {
 public:
  // Creates the clients, installs the bank accounts, starts every thread (paused until
  // BeginRound).
  static absl::StatusOr<std::unique_ptr<Workloads>> Start(WorkloadOptions options,
                                                          absl::Time epoch);
  ~Workloads();

  static std::string RegisterKey(int round, int k);
  static constexpr char kWatchPrefix[] = "c/";

  void BeginRound(int round);
  // Blocks until every register/bank worker is idle; false if one is still busy after
  // `timeout` (its request is still bounded by the client's command deadline).
  bool Quiesce(absl::Duration timeout);
  void Stop();
  // After Quiesce: one linearizable Get of every register key of `round`, recorded in that
  // round's history (Jepsen's final reads), so an acknowledged write lost by a crash or a
  // bad recovery is caught even if no worker read the key afterwards. Bounded retries.
  void FinalReads(int round);

  checkers::History RegisterHistory(int round) const;
  std::map<int64_t, std::vector<checkers::WatchEvent>> AckedWrites() const;
  std::vector<std::vector<checkers::WatcherHistory>> WatchStreams() const;
  // The highest revision every watcher has seen (events or progress), per watcher.
  std::vector<int64_t> WatcherRevisions() const;
  std::vector<std::string> TakeAnomalies();
  std::vector<std::string> TakeJsonLines();
  WorkloadCounters counters() const;

 private:
  explicit Workloads(WorkloadOptions options, absl::Time epoch);
  int64_t NowNs() const;
  // Waits while paused; false when stopping. Sets *round to the current round.
  bool WaitRunnable(int* round);
  bool AllIdle() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return idle_ == op_workers_; }
  void RegisterLoop(int id);
  void BankLoop(int id);
  void WatchLoop(int id);
  absl::Status InitBank();
  void RecordRegister(int round, checkers::Operation op);
  void RecordAcked(int64_t revision, std::vector<checkers::WatchEvent> events);
  void Anomaly(std::string text);

  const WorkloadOptions options_;
  const absl::Time epoch_;
  std::vector<std::unique_ptr<client::Client>> clients_;         // one per worker thread
  std::vector<std::unique_ptr<client::Client>> member_clients_;  // one per member, no failover
  std::vector<std::thread> threads_;
  int op_workers_ = 0;

  mutable absl::Mutex mu_;
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  int idle_ ABSL_GUARDED_BY(mu_) = 0;
  int round_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<int, checkers::History> register_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, std::vector<checkers::WatchEvent>> acked_ ABSL_GUARDED_BY(mu_);
  std::vector<std::vector<checkers::WatcherHistory>> streams_ ABSL_GUARDED_BY(mu_);
  std::vector<client::Watcher*> active_watchers_ ABSL_GUARDED_BY(mu_);
  std::vector<int64_t> reconnects_ ABSL_GUARDED_BY(mu_);  // per watcher, over incarnations
  std::vector<std::string> anomalies_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> json_ ABSL_GUARDED_BY(mu_);
  WorkloadCounters counters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace keel::chaos

#endif  // KEEL_CHAOS_WORKLOADS_H_
