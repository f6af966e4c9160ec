// TLS for real sockets, with OpenSSL (Debian's libssl 3): one configured context per role
// (TlsContext) and one non-blocking TLS stream per connection (TlsStream). Used by the
// peer transport (TcpTransport, its control query) and by keeld's client port; keelsim
// never links it (sim/ has its own Transport, which carries no bytes over sockets).
//
// Semantics follow etcd 3.4's pkg/transport.TLSInfo:
//   * TLS 1.2 is the minimum; TLS 1.3 cipher suites are OpenSSL's defaults (Go's are not
//     configurable either); `cipher_suites` restricts TLS 1.2 (Go names, GoCipherSuites).
//   * server: presents cert_file/key_file; requires and verifies a client certificate
//     signed by trusted_ca_file when trusted_ca_file is set or client_cert_auth is on
//     (etcd's ServerConfig: RequireAndVerifyClientCert).
//   * client: presents cert_file/key_file when given; verifies the server's certificate
//     against trusted_ca_file (system roots when empty) and the host it dialled (SAN IP or
//     DNS name), unless insecure_skip_verify (etcd sets it for self-signed --peer-auto-tls).
#ifndef KEEL_ENV_TLS_H_
#define KEEL_ENV_TLS_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "env/tls_peer_check.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace keel::env {

struct TlsConfig {
  std::string cert_file;
  std::string key_file;
  std::string trusted_ca_file;
  bool client_cert_auth = false;
  bool insecure_skip_verify = false;  // client side only
  std::vector<std::string> cipher_suites;  // Go names; empty = OpenSSL's defaults
  // Server side: when the client offers ALPN, choose "http/1.1" if offered (curl speaks
  // HTTP/1.1 to /health then), else "h2" (gRPC). Off for the peer port (no ALPN).
  bool alpn_h2_http11 = false;
  // etcd's CRL and allowed CN/hostname checks of the peer's certificate
  // (env/tls_peer_check.h); only on a context that verifies its peer.
  TlsPeerCheck peer_check;
};

// Go's crypto/tls cipher suite names -> OpenSSL's, joined with ':'. Error text is etcd's:
// `unexpected TLS cipher suite "FOO"`.
absl::StatusOr<std::string> GoCipherSuites(const std::vector<std::string>& go_names);

class TlsContext {
 public:
  enum class Role { kServer, kClient };
  // Loads and checks the files now, so a bad path or a key that does not match the
  // certificate fails keeld's start, with OpenSSL's reason.
  static absl::StatusOr<std::shared_ptr<TlsContext>> Create(const TlsConfig& config, Role role);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  SSL_CTX* ctx() const { return ctx_; }
  Role role() const { return role_; }
  bool verifies_peer() const { return verifies_peer_; }

 private:
  TlsContext(SSL_CTX* ctx, Role role, bool verifies_peer, TlsPeerCheck peer_check)
      : ctx_(ctx),
        role_(role),
        verifies_peer_(verifies_peer),
        peer_check_(std::make_unique<const TlsPeerCheck>(std::move(peer_check))) {}
  SSL_CTX* const ctx_;
  const Role role_;
  const bool verifies_peer_;
  // Read by ctx_'s verify callback: lives as long as ctx_ (freed after it).
  const std::unique_ptr<const TlsPeerCheck> peer_check_;
};

// One TLS session over a non-blocking socket the caller owns (and closes, after destroying
// the stream). Not thread-safe; one thread drives it. Every call returns at once.
class TlsStream {
 public:
  enum class Io { kOk, kWantRead, kWantWrite, kClosed, kError };
  // `verify_host`: client side, the host dialled (name or IP literal), checked against the
  // server certificate when the context verifies; ignored on the server side.
  static absl::StatusOr<std::unique_ptr<TlsStream>> Create(const TlsContext& context, int fd,
                                                           std::string_view verify_host = "");
  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  // kOk once the handshake is complete; kWantRead/kWantWrite: poll for that and call again.
  Io Handshake();
  // kOk with *n > 0 bytes, kClosed at the peer's close_notify or EOF, kWant*: nothing now.
  Io Read(char* buffer, size_t capacity, size_t* n);
  // kOk with *n > 0 bytes taken. After kWant*, call again with the same bytes first (more
  // may follow them: the buffer may move and grow, never shrink).
  Io Write(const char* data, size_t size, size_t* n);
  // Decrypted bytes OpenSSL holds that poll(2) cannot see.
  bool HasBuffered() const;

  // The verified peer certificate's subject Common Name; empty without a verified one.
  std::string PeerCommonName() const;
  // Why the last call failed (OpenSSL's reasons and the verification result), for logs.
  const std::string& error() const { return error_; }

 private:
  explicit TlsStream(SSL* ssl) : ssl_(ssl) {}
  Io Map(int rc);
  SSL* const ssl_;
  std::string error_;
};

// etcd's transport.SelfCert (--auto-tls, --peer-auto-tls): an ECDSA P-256 key and a
// self-signed certificate valid for `hosts` (IP literals and DNS names) for `validity_years`,
// written as <dir>/cert.pem and <dir>/key.pem (0600). Existing files are reused, as etcd
// does. Returns the config naming them.
absl::StatusOr<TlsConfig> SelfSignedCert(const std::string& dir,
                                         const std::vector<std::string>& hosts,
                                         int validity_years = 1);

}  // namespace keel::env

#endif  // KEEL_ENV_TLS_H_
