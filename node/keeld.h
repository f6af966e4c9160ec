// Keeld: one running keeld process, assembled from its parts in dependency order:
//
//   PosixEnv (Loop, files, peer TCP transport on --listen-peer-urls)
//   LevelDbEnv (kThread) over the Env's FileSystem, for the MVCC backend
//   server::Server, opened and started on the Loop
//   ClientListener on --listen-client-urls (etcd's cmux: keeld owns the sockets)
//   gRPC server, fed connections by the listener (etcd's services; Auth deliberately absent)
//   HttpEndpoints (/health, /metrics): on --listen-metrics-urls and, through the listener,
//   on the client port
//
// Shutdown reverses it (see Shutdown). Every step that can fail returns the failing
// component's status, whose message keeld prints as its one-line error.
//
// Failpoints (etcd's gofail style: environment variables read once at start; unset means
// no behaviour change at all; each one prints a warning line on stderr when on):
//   KEEL_FAILPOINT_LOSE_UNSYNCED=<journal path>[:<seed>]
//       Power loss for a SIGKILLed keeld (env/unsynced_loss_fs.h): first replays the
//       journal left by the previous life, making the data directory look as after power
//       loss (unsynced bytes dropped; with a seed, a seeded random prefix of them kept:
//       torn writes), then journals what this life makes durable. Wraps the file system
//       of both the server core and LevelDbEnv. The journal must live outside the data dir.
//   KEEL_FAILPOINT_LEVELDB_POSIXENV_SYNC=1
//       LevelDbEnv uses LevelDB PosixEnv's sync rule (SyncRule::kPosixEnv), which loses
//       synced writes on power loss after a log switch. Only to prove a test sees that gap.
#ifndef KEEL_NODE_KEELD_H_
#define KEEL_NODE_KEELD_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "env/leveldb_env.h"
#include "env/posix_env.h"
#include "env/unsynced_loss_fs.h"
#include "grpcpp/grpcpp.h"
#include "node/client_listener.h"
#include "node/gateway/gateway.h"
#include "node/http_endpoints.h"
#include "node/keeld_flags.h"
#include "node/tls_setup.h"
#include "node/tls_terminator.h"
#include "server/server.h"

namespace keel::node {

// The one place flags become the server core's configuration.
server::ServerConfig MakeServerConfig(const KeeldConfig& config);

class Keeld {
 public:
  // Starts everything. `on_fatal` runs (on the Loop) if the server core hits an
  // unrecoverable storage error after start; keeld's main then shuts down and exits 1.
  static absl::StatusOr<std::unique_ptr<Keeld>> Start(
      const KeeldConfig& config, std::function<void(const absl::Status&)> on_fatal);
  // Calls Shutdown.
  ~Keeld();

  // Graceful stop: stop accepting HTTP; stop the server core (pending requests fail with
  // "etcdserver: server stopped"); shut gRPC down (streams are cancelled after a grace
  // period); destroy the core on its Loop; then the Envs. Idempotent. Not on the Loop.
  void Shutdown();

  // Bound ports, for logs and tests.
  const std::vector<int>& client_ports() const { return client_ports_; }

 private:
  Keeld() = default;
  absl::Status OpenServer(const KeeldConfig& config,
                          std::function<void(const absl::Status&)> on_fatal);
  absl::Status StartGrpc(const KeeldConfig& config);
  // Creates gateway_ (after StartGrpc) and returns how HttpEndpoints serves it.
  absl::StatusOr<HttpEndpoints::ClientPortExtension> StartGateway(const KeeldConfig& config);
  // --experimental-initial-corrupt-check, before Raft starts or a client is served.
  absl::Status CheckInitialCorruption(const KeeldConfig& config);
  // Answers a control query on the peer port (a joining member's membership question, a
  // restarting member's HashKV question).
  void AnswerQuery(std::string request, env::TcpTransport::QueryReply reply);
  // Runs `fn` on the Loop and waits for it.
  void RunOnLoop(absl::AnyInvocable<void() &&> fn);
  // KEEL_FAILPOINT_LOSE_UNSYNCED: recovers the data dir and wraps env_'s file system.
  absl::Status StartLoseUnsyncedFailpoint(const std::string& setting);
  // The Env the server core and LevelDB see: env_, or env_ with the failpoint's files.
  env::Env* core_env() { return core_env_ != nullptr ? core_env_.get() : env_.get(); }

  std::unique_ptr<env::PosixEnv> env_;
  // Failpoint only (null otherwise): destroyed after everything that writes files.
  std::unique_ptr<env::UnsyncedLossFileSystem> lose_unsynced_fs_;
  std::unique_ptr<env::Env> core_env_;
  std::unique_ptr<env::LevelDbEnv> leveldb_env_;
  std::unique_ptr<server::Server> server_;  // created, used and destroyed on the Loop
  NodeMetrics node_metrics_;  // outlives the gRPC server and the HTTP endpoints using it
  std::vector<std::unique_ptr<grpc::Service>> services_;
  std::unique_ptr<grpc::Server> grpc_server_;
  std::unique_ptr<HttpEndpoints> http_;
  // etcd's JSON gateway (node/gateway/): served by http_'s workers, through an in-process
  // channel to grpc_server_; destroyed once http_ has stopped.
  std::unique_ptr<gateway::Gateway> gateway_;
  std::unique_ptr<ClientListener> client_listener_;
  // TLS (tls_setup.h): contexts made at start; the terminator serves https client URLs.
  TlsContexts tls_;
  std::unique_ptr<TlsTerminator> tls_terminator_;
  std::vector<int> client_ports_;
  bool shut_down_ = false;
};

}  // namespace keel::node

#endif  // KEEL_NODE_KEELD_H_
