// etcd's TLS flags -> the OpenSSL contexts keeld's ports use (env/tls.h), in one place:
// --auto-tls / --peer-auto-tls certificates are made here (etcd's SelfCert, under
// <data-dir>/fixtures/{client,peer}), files are loaded and checked here, and etcd's
// "ClientTLS: ..." / "peerTLS: ..." info lines and auto-TLS warnings are printed here.
#ifndef KEEL_NODE_TLS_SETUP_H_
#define KEEL_NODE_TLS_SETUP_H_

#include <memory>

#include "absl/status/statusor.h"
#include "env/tls.h"
#include "node/keeld_flags.h"

namespace keel::node {

struct TlsContexts {
  // The client port's server side; null when no --listen-client-urls is https.
  std::shared_ptr<const env::TlsContext> client_server;
  // The peer port's server side; null when --listen-peer-urls is http.
  std::shared_ptr<const env::TlsContext> peer_server;
  // Dialling https peers (Raft stream, join query); null without peer TLS flags.
  std::shared_ptr<const env::TlsContext> peer_client;
};

// Fails with etcd's messages: `unexpected TLS cipher suite "X"`, or OpenSSL's reason for a
// file that cannot be loaded ("open <path>: ...").
absl::StatusOr<TlsContexts> MakeTlsContexts(const KeeldConfig& config);

}  // namespace keel::node

#endif  // KEEL_NODE_TLS_SETUP_H_
