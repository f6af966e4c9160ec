// Simulated clients: each issues one etcd request at a time to a member of its choice
// (through server::Server, the same interface keeld's gRPC layer calls), with a client-side
// timeout, and records what it invoked and what came back. A request whose answer never
// came (member crashed, timeout) or came as kUnavailable is recorded with an UNKNOWN
// outcome: it may or may not have taken effect, and the checkers must allow both.
//
// Watchers keep one watch stream over the whole workload key space; when their member
// dies they resume on another from the last revision they saw + 1, as clientv3 does.
#ifndef KEEL_SIM_CLUSTER_WORKLOAD_H_
#define KEEL_SIM_CLUSTER_WORKLOAD_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "api/etcdserverpb/rpc.pb.h"
#include "env/rng.h"
#include "sim/cluster/cluster.h"
#include "sim/cluster/scenario.h"
#include "sim/world.h"

namespace keel::sim {

// The first six are the single-key operations the per-key linearizability checker models.
// The rest (workload_ext.cc, drawn from the stream "workload.ext") are checked by
// workload_checks.h against the committed log, never by the per-key search:
//   kAcctInit      Txn: if version(account 0) == 0, put every account at its opening balance;
//                  else range over the accounts (the client learns them)
//   kTransfer      Txn: if mod_revision(a) == ma && mod_revision(b) == mb, put a -= x, b += x;
//                  else range a, range b
//   kAudit         linearizable Range over every account (must sum to the conserved total)
//   kAuditTxn      Txn with no compares whose success branch gets every account, one by one
//   kCompact       Compact(R) at a revision the client observed (physical half the time)
//   kHistGet       linearizable Range(key) at a past revision: ErrCompacted below the
//                  compaction, the exact historical value at or above it
//   kWatchFrom     opens a short-lived watch from a past revision (compacted or not)
//   kLeaseKeep     LeaseGrant + Put of a key of its own under it; the client keeps it alive
//   kKeepAlive     one LeaseKeepAlive of the client's kept lease
//   kTimeToLive    LeaseTimeToLive(keys = true) of a lease the client granted
enum class OpKind {
  kPut, kGet, kSerializableGet, kDelete, kCas, kLeasePut,
  kAcctInit, kTransfer, kAudit, kAuditTxn, kCompact, kHistGet, kWatchFrom, kLeaseKeep,
  kKeepAlive, kTimeToLive,
};
inline constexpr int kOpKindCount = static_cast<int>(OpKind::kTimeToLive) + 1;
enum class Outcome { kPending, kOk, kFail, kUnknown };

const char* OpKindName(OpKind kind);

// One client operation and its result. Times are global simulated nanoseconds.
struct ClientOp {
  int client = 0;
  int member = 0;  // index of the member it was sent to
  OpKind kind = OpKind::kPut;
  std::string key;
  std::string value;           // put / cas: the new value
  std::string expected;        // cas: the value compared for equality ("" + expect_absent)
  bool expect_absent = false;  // cas: compare version == 0 instead
  int64_t lease_id = 0;        // lease put
  int64_t invoke_ns = 0;
  int64_t complete_ns = 0;
  Outcome outcome = Outcome::kPending;
  std::string error;
  // Results (kOk only).
  int64_t revision = 0;        // response header revision
  bool found = false;          // get: key present
  std::string read_value;      // get
  int64_t read_mod_revision = 0;
  bool cas_succeeded = false;  // cas: the compare held and the put happened
  int64_t deleted = 0;         // delete: keys deleted
  // Serializable get: the incarnation of the member that served it.
  uint64_t incarnation = 0;
  // ---- Extended operations (workload_ext.cc).
  int acct_from = 0, acct_to = 0;   // transfer: account indices
  int64_t amount = 0;               // transfer: moved from acct_from to acct_to
  int64_t expect_mod_from = 0, expect_mod_to = 0;  // transfer: compared mod_revisions
  int64_t balance_from = 0, balance_to = 0;        // transfer: balances the client believed
  // Audits, transfers' and inits' failure branches: the accounts read (key, value, mod_rev).
  struct Account {
    std::string key;
    std::string value;
    int64_t mod_revision = 0;
  };
  std::vector<Account> accounts;
  int64_t at_revision = 0;     // hist get: Range.revision; compact: the compaction revision;
                               // watch_from: the watch's start revision
  bool physical = false;       // compact
  int64_t ttl = 0;             // lease_keep: granted TTL; keep_alive / time_to_live: TTL answered
  int64_t granted_ttl = 0;     // time_to_live: grantedTTL answered
  int watch_filter = 0;        // watch_from: 0 none, 1 NOPUT, 2 NODELETE
  std::vector<std::string> lease_keys;  // time_to_live: keys answered
};

// One watch stream (one Watch RPC) as the client saw it: where it asked to start, over the
// key range ["k", "l") with prev_kv, and every response in arrival order.
struct WatchStreamLog {
  int member = 0;
  int64_t start_revision = 1;
  bool filter_put = false;     // etcd's NOPUT filter (one-shot watch_from streams only)
  bool filter_delete = false;  // NODELETE
  std::vector<etcdserverpb::WatchResponse> responses;
};

// What one watcher saw: its streams in order; streams[i + 1] resumed streams[i] from the
// last revision seen + 1 after streams[i]'s member died.
struct WatchLog {
  int watcher = 0;
  std::vector<WatchStreamLog> streams;
};

class Workload {
 public:
  Workload(World* world, SimCluster* cluster, const WorkloadMix& mix, env::Rng rng);
  ~Workload();
  Workload(const Workload&) = delete;
  Workload& operator=(const Workload&) = delete;

  // Clients start issuing operations now and stop issuing new ones at `stop_ns`.
  void Start(int64_t stop_ns);
  // Every client has finished its last operation.
  bool Done() const;
  // Re-opens watch streams whose member died (called after faults heal, and periodically).
  void ReviveWatchers();

  const std::vector<ClientOp>& history() const { return ops_; }
  // Per kind: operations issued, and acknowledged (kOk), for the run's coverage line.
  std::map<std::string, uint64_t> OpCounts() const;
  const std::vector<WatchLog>& watch_logs() const { return watch_logs_; }
  // Keys written under leases (not part of the linearizability model: a lease may expire
  // them at any time) and the lease of each.
  std::string KeyName(int k) const;
  static bool IsLeaseKey(const std::string& key);
  // Account keys "ka/00".."ka/NN" (the conserved-total transfers) and their range.
  static bool IsAccountKey(const std::string& key);
  static constexpr const char* kAccountPrefix = "ka/";
  static constexpr const char* kAccountEnd = "ka0";
  static std::string AccountKey(int i);
  int accounts() const { return accounts_; }
  static constexpr int64_t kOpeningBalance = 100;
  // Called right before a Compact request leaves a client (the runner archives the
  // committed log that the compaction is about to remove, for the checkers).
  std::function<void()> before_compact;

 private:
  struct Client {
    uint64_t token = 0;  // identifies the operation in flight; stale completions ignored
    size_t op_index = 0;
    bool busy = false;
    bool stopped = false;
    int64_t lease_id = 0;
    // Extended operations.
    std::map<int, ClientOp::Account> accounts;  // what it last learned of each account
    std::vector<int64_t> observed;   // header revisions it was told, newest last (bounded)
    int64_t kept_lease = 0;          // lease it keeps alive (0: none)
    int64_t kept_ttl = 0;
    int64_t last_keepalive_ns = 0;   // invoke time of its last successful keep-alive/grant
    bool abandoned = false;          // stopped keeping it alive: let it expire
    std::vector<int64_t> leases;     // every lease it granted (bounded)
    int leases_granted = 0;
  };
  class Watcher;

  void Issue(int client);
  // Fills `op` with an extended operation (all draws from ext_rng_); false: none fits now.
  bool DrawExtended(int client, ClientOp* op);
  // Sends an extended operation; `complete` / `fail` as for the basic ones.
  void SendExtended(server::ServerImpl* s, size_t index,
                    std::function<void(Outcome, std::string)> complete,
                    std::function<void(const absl::Status&)> fail);
  void LearnAccounts(int client, const std::vector<ClientOp::Account>& accounts);
  // Updates the client's view (accounts, kept lease) after an extended op completed.
  void OnExtendedDone(int client, size_t op_index);
  // Opens a new one-shot watcher on `member` from `start`, closed after `for_ns`.
  void OpenWatcherOnce(int member, int64_t start, int64_t for_ns, int filter);
  static constexpr size_t kMaxWatchers = 256;
  void Finish(size_t op_index, Outcome outcome, std::string error);
  int PickMember();
  int PickMember(env::Rng& rng);
  int64_t ClientTimeoutNs() const;

  World* const world_;
  SimCluster* const cluster_;
  const WorkloadMix mix_;
  env::Rng rng_;
  int64_t stop_ns_ = 0;
  std::vector<Client> clients_;
  std::vector<std::unique_ptr<Watcher>> watchers_;
  std::vector<ClientOp> ops_;
  std::vector<WatchLog> watch_logs_;
  uint64_t value_counter_ = 0;
  // Extended operations: their own stream, so the basic ones draw exactly as before.
  env::Rng ext_rng_;
  int ext_percent_ = 0;  // share of operations that are extended (drawn per run)
  int accounts_ = 4;
};

}  // namespace keel::sim

#endif  // KEEL_SIM_CLUSTER_WORKLOAD_H_
