// Configuration of one member's server core, independent of how it was given (keeld's
// etcd-style flags, or the simulator's scenario).
#ifndef KEEL_SERVER_CONFIG_H_
#define KEEL_SERVER_CONFIG_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "env/bug_switches.h"
#include "leveldb/env.h"
#include "raft/config.h"
#include "raft/raftpb/raft.pb.h"

namespace keel::server {

class AuthCrypto;  // server/auth_crypto.h
class JwtTokens;   // server/auth_jwt.h

struct PeerConfig {
  std::string name;
  std::vector<std::string> peer_urls;
};

// A running cluster as one of its members describes it (etcd's GET /members on the peer
// port), for a member joining it.
struct ExistingCluster {
  struct Member {
    uint64_t id = 0;
    std::string name;  // empty until the member has started and published it
    std::vector<std::string> peer_urls;
    std::vector<std::string> client_urls;
    bool is_learner = false;
  };
  uint64_t cluster_id = 0;
  std::vector<Member> members;
};

struct ServerConfig {
  // --name: this member's name in --initial-cluster.
  std::string name = "default";
  // --data-dir: everything durable lives below it (member/wal, member/snap, member/db).
  std::string data_dir;
  std::vector<std::string> advertise_client_urls;
  std::vector<std::string> advertise_peer_urls;
  // --initial-cluster (name=url,...), --initial-cluster-token, --initial-cluster-state.
  std::vector<PeerConfig> initial_cluster;
  std::string initial_cluster_token = "etcd-cluster";
  bool initial_cluster_state_new = true;
  // --initial-cluster-state=existing with no WAL yet (joining after `member add`): asks the
  // members named in --initial-cluster (other than this one) for the running cluster.
  // Called once, during Server::Open, on the Loop; may block for a bounded time. keeld
  // queries the peers' transports; unset, joining fails with a clear error.
  std::function<absl::StatusOr<ExistingCluster>()> fetch_existing_cluster;
  // --auto-compaction-mode / --auto-compaction-retention (server/auto_compactor.h):
  // periodic keeps auto_compaction_retention_ns of history, revision mode the last
  // auto_compaction_retention_revisions revisions; the active one zero = off.
  bool auto_compaction_periodic = true;
  int64_t auto_compaction_retention_ns = 0;
  int64_t auto_compaction_retention_revisions = 0;
  // --wal-dir: a dedicated WAL directory (must exist or be creatable as one directory);
  // empty: <data_dir>/member/wal.
  std::string wal_dir;
  // --force-new-cluster: restarting from a WAL, become the only member of the cluster,
  // keeping the data (server/force_new_cluster.h). Ignored without a WAL, as in etcd.
  bool force_new_cluster = false;

  // --experimental-corrupt-check-time: how often the leader compares its HashKV with every
  // member's (server_corrupt.cc); a mismatch raises the CORRUPT alarm. 0 = off (etcd).
  int64_t corrupt_check_time_ms = 0;

  // --strict-reconfig-check (server/reconfig_check.h). keeld: true, etcd's default; off
  // here so that keelsim's membership changes are not refused for a peer it just restarted.
  bool strict_reconfig_check = false;

  // --heartbeat-interval and --election-timeout, in milliseconds, as etcd: Raft ticks once
  // per heartbeat interval; the election timeout is a multiple of it.
  int64_t heartbeat_interval_ms = 100;
  int64_t election_timeout_ms = 1000;
  bool pre_vote = true;
  bool check_quorum = true;

  // --snapshot-count: applied entries between two snapshots (etcd 3.4 default 100000).
  uint64_t snapshot_count = 100000;
  // --max-snapshots / --max-wals (etcd: 5 each, 0 = unlimited): snapshot files kept, and
  // WAL segments kept once a snapshot covers them (a segment the oldest kept snapshot
  // still needs is never removed, whatever the limit).
  size_t max_snapshots = 5;
  size_t max_wals = 5;
  // Entries kept in the log behind a snapshot for slow followers (etcd: 5000).
  uint64_t snapshot_catchup_entries = 5000;
  // InstallSnapshot streaming (server/snapshot_transfer.h): chunk size of the backend
  // image sent to a lagging follower, and how many such transfers a leader runs at once.
  size_t snapshot_chunk_bytes = size_t{1} << 20;
  size_t max_outgoing_snapshots = 2;
  // --quota-backend-bytes (0 = etcd's default 2 GiB).
  int64_t quota_backend_bytes = 0;
  // --max-request-bytes (etcd: 1.5 MiB) and --max-txn-ops (128).
  uint64_t max_request_bytes = 1572864;
  uint32_t max_txn_ops = 128;

  // Auth (server/auth_store.h). --auth-token-ttl: a simple token's life since its last use
  // (etcd: 300 s). bcrypt_cost: etcd's bcrypt cost (10); keelsim lowers it. auth_crypto
  // hashes and checks passwords off the Loop (keeld: a thread pool with the OS's
  // randomness); unset = synchronous, salts and tokens from env->NewRng("auth").
  int64_t auth_token_ttl_ms = 300000;
  int bcrypt_cost = 10;
  std::shared_ptr<AuthCrypto> auth_crypto;
  // --auth-token=jwt,...: tokens are JWTs made and checked by this (server/auth_jwt.h);
  // unset = etcd's simple tokens.
  std::shared_ptr<JwtTokens> jwt_tokens;

  // How long a request may wait for commit + apply before failing with the unknown-outcome
  // "etcdserver: request timed out" (etcd: 5s + 2 * election timeout).
  int64_t request_timeout_ms = 7000;

  // LevelDB under the Env seam: keeld passes the adapter over the real FileSystem, keelsim
  // one over the simulated disk with queued background work, run when these hooks say
  // (kv/backend.h: drained after every call, or deferred like keeld's thread).
  leveldb::Env* leveldb_env = nullptr;
  std::function<void()> after_db_call;
  std::function<void()> run_queued_db_work;
  // LevelDB's write_buffer_size (memtable) for the backend; 0 = the default, 4 MiB.
  // keelsim draws small ones so memtable switches and flushes happen within a run.
  size_t backend_write_buffer_bytes = 0;

  // Called once, on the Loop, when the member cannot go on safely (a failed WAL fsync or
  // write, a failed backend commit): keeld exits non-zero, keelsim records a crash. The
  // server has already stopped serving when it runs. Never retried: after a failed fsync
  // the kernel may have dropped the dirty pages, so "try again" could report lost data as
  // durable.
  std::function<void(const absl::Status&)> on_fatal;

  // Operator warnings that are always on (a corruption check's findings), one line per
  // call without a newline, on the Loop. Unset = dropped (keeld prints them on stderr).
  std::function<void(std::string_view)> warn_log;

  // Observation only: called after each committed entry is applied (the simulator's
  // state-machine-safety checker compares what every member applied at each index).
  std::function<void(const raftpb::Entry&)> on_apply;

  // Observation only: Raft's and the core's debug lines (elections, leader changes,
  // forwarded proposals dropped and why), one line per call without a newline, on the
  // Loop. Unset = off (keeld sets it for --log-level=debug).
  std::function<void(std::string_view)> debug_log;
  // Observation only: called on the Loop each time a Ready's HardState and entries are
  // durable and visible in raft_log(), before the votes and acks that depend on them leave.
  // What raft_log() holds then is what the member may never forget across a restart (the
  // simulator's restart-amnesia check).
  std::function<void()> on_persisted;

  // keelsim's bug zoo (env/bug_switches.h): deliberate Raft and etcd-class bugs the
  // simulator must catch, raft's included (handed on to raft::Config::bugs). All off
  // unless sim/ turned one on (sim::BugSwitchSetter); keeld has no flag for them.
  env::BugSwitches bugs;
  // Swarm knob (legal behaviour, not a bug): Raft's max_size_per_msg; 0 = the default.
  // keelsim sets it; keeld has no flag for it.
  uint64_t sim_max_size_per_msg = 0;
};

}  // namespace keel::server

#endif  // KEEL_SERVER_CONFIG_H_
