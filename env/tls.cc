#include "env/tls.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/check.h"

namespace keel::env {
namespace {

// Go's crypto/tls names (etcd's pkg/tlsutil cipher map) -> OpenSSL names.
struct CipherName {
  const char* go;
  const char* openssl;
};
constexpr CipherName kCiphers[] = {
    {"TLS_RSA_WITH_RC4_128_SHA", "RC4-SHA"},
    {"TLS_RSA_WITH_3DES_EDE_CBC_SHA", "DES-CBC3-SHA"},
    {"TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA"},
    {"TLS_RSA_WITH_AES_256_CBC_SHA", "AES256-SHA"},
    {"TLS_RSA_WITH_AES_128_CBC_SHA256", "AES128-SHA256"},
    {"TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256"},
    {"TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384"},
    {"TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", "ECDHE-ECDSA-RC4-SHA"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA"},
    {"TLS_ECDHE_RSA_WITH_RC4_128_SHA", "ECDHE-RSA-RC4-SHA"},
    {"TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", "ECDHE-RSA-DES-CBC3-SHA"},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA"},
    {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "ECDHE-ECDSA-AES128-SHA256"},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "ECDHE-RSA-AES128-SHA256"},
    {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"},
    {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384"},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "ECDHE-RSA-CHACHA20-POLY1305"},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "ECDHE-ECDSA-CHACHA20-POLY1305"},
};

// Drains this thread's OpenSSL error queue into one line.
std::string OpenSslErrors() {
  std::vector<std::string> reasons;
  // Bounded by the queue's length (OpenSSL keeps at most 16 per thread).
  for (unsigned long e = ERR_get_error(); e != 0; e = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(e);
    reasons.push_back(reason != nullptr ? reason : absl::StrCat("error ", e));
  }
  return reasons.empty() ? "unknown TLS error" : absl::StrJoin(reasons, "; ");
}

absl::Status Failed(const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(what, ": ", OpenSslErrors()));
}

// SSL writes with write(2), not send(MSG_NOSIGNAL): a peer that resets the connection
// would kill the process with SIGPIPE. Every TLS user is a server process that never
// wants that signal.
void IgnoreSigpipeOnce() {
  static std::once_flag once;
  std::call_once(once, [] { ::signal(SIGPIPE, SIG_IGN); });
}

// ALPN: "http/1.1" when offered (curl, browsers; our HTTP side speaks 1.1 only), else
// "h2" (gRPC clients offer only h2); no overlap = no ALPN, as Go does.
int SelectAlpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void*) {
  static const unsigned char kPreferred[] = "\x08http/1.1\x02h2";
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kPreferred, sizeof(kPreferred) - 1, in, inlen) ==
      OPENSSL_NPN_NEGOTIATED) {
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

bool IsIpLiteral(const std::string& host) {
  unsigned char address[16];
  return ::inet_pton(AF_INET, host.c_str(), address) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), address) == 1;
}

// Go's wording for a file that cannot be opened ("open x.pem: no such file or
// directory"), before OpenSSL gets a less readable chance to say it.
absl::Status CheckReadable(const std::string& path) {
  if (path.empty() || ::access(path.c_str(), R_OK) == 0) return absl::OkStatus();
  std::string reason = std::strerror(errno);
  if (!reason.empty()) reason[0] = static_cast<char>(std::tolower(reason[0]));
  return absl::InvalidArgumentError(absl::StrCat("open ", path, ": ", reason));
}

}  // namespace

absl::StatusOr<std::string> GoCipherSuites(const std::vector<std::string>& go_names) {
  std::vector<std::string> names;
  for (const std::string& go : go_names) {
    const CipherName* found = nullptr;
    for (const CipherName& c : kCiphers) {
      if (go == c.go) found = &c;
    }
    if (found == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected TLS cipher suite \"", go, "\""));
    }
    names.push_back(found->openssl);
  }
  return absl::StrJoin(names, ":");
}

absl::StatusOr<std::shared_ptr<TlsContext>> TlsContext::Create(const TlsConfig& config,
                                                               Role role) {
  IgnoreSigpipeOnce();
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(role == Role::kServer ? TLS_server_method() : TLS_client_method());
  if (ctx == nullptr) return Failed("SSL_CTX_new");
  // Owned by `context` from here: every early return frees it.
  bool verifies = false;
  std::shared_ptr<TlsContext> context;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // No renegotiation, no compression: neither exists in Go's TLS.
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  // A peer that closes without close_notify (Go's clients, our control query) has simply
  // closed: EOF, not an error to log.
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
  auto fail = [ctx](absl::Status status) {
    SSL_CTX_free(ctx);
    return status;
  };
  if (!config.cipher_suites.empty()) {
    absl::StatusOr<std::string> ciphers = GoCipherSuites(config.cipher_suites);
    if (!ciphers.ok()) return fail(ciphers.status());
    if (SSL_CTX_set_cipher_list(ctx, ciphers->c_str()) != 1) {
      return fail(Failed(absl::StrCat("cipher suites ", *ciphers)));
    }
  }
  for (const std::string* path : {&config.cert_file, &config.key_file, &config.trusted_ca_file}) {
    absl::Status readable = CheckReadable(*path);
    if (!readable.ok()) return fail(readable);
  }
  if (!config.cert_file.empty() || !config.key_file.empty()) {
    if (config.cert_file.empty() || config.key_file.empty()) {
      return fail(absl::InvalidArgumentError(absl::StrCat(
          "open ", config.cert_file.empty() ? config.cert_file : config.key_file,
          ": no such file or directory")));
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, config.cert_file.c_str()) != 1) {
      return fail(Failed(absl::StrCat("open ", config.cert_file)));
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, config.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      return fail(Failed(absl::StrCat("open ", config.key_file)));
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
      return fail(Failed("tls: private key does not match public key"));
    }
  } else if (role == Role::kServer) {
    return fail(absl::InvalidArgumentError("KeyFile and CertFile are not presented"));
  }
  if (!config.trusted_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, config.trusted_ca_file.c_str(), nullptr) != 1) {
      return fail(Failed(absl::StrCat("open ", config.trusted_ca_file)));
    }
  }
  if (role == Role::kServer) {
    verifies = !config.trusted_ca_file.empty() || config.client_cert_auth;
    if (verifies) {
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
      if (!config.trusted_ca_file.empty()) {
        STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(config.trusted_ca_file.c_str());
        if (names != nullptr) SSL_CTX_set_client_CA_list(ctx, names);
      }
    }
    if (config.alpn_h2_http11) SSL_CTX_set_alpn_select_cb(ctx, SelectAlpn, nullptr);
    // TLS 1.3 session tickets would cost a write per connection for nothing: no resumption.
    SSL_CTX_set_num_tickets(ctx, 0);
  } else {
    verifies = !config.insecure_skip_verify;
    if (verifies && config.trusted_ca_file.empty()) SSL_CTX_set_default_verify_paths(ctx);
    SSL_CTX_set_verify(ctx, verifies ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  }
  // etcd checks the CRL on accepted connections only (its TLS listener); the allowed
  // CN/hostname on both sides (its baseConfig).
  TlsPeerCheck peer_check = config.peer_check;
  if (role == Role::kClient) peer_check.crl_file.clear();
  context.reset(new TlsContext(ctx, role, verifies, std::move(peer_check)));
  if (verifies && !context->peer_check_->Empty()) {
    InstallTlsPeerCheck(ctx, context->peer_check_.get());
  }
  return context;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

absl::StatusOr<std::unique_ptr<TlsStream>> TlsStream::Create(const TlsContext& context, int fd,
                                                             std::string_view verify_host) {
  ERR_clear_error();
  SSL* ssl = SSL_new(context.ctx());
  if (ssl == nullptr) return Failed("SSL_new");
  std::unique_ptr<TlsStream> stream(new TlsStream(ssl));
  if (SSL_set_fd(ssl, fd) != 1) return Failed("SSL_set_fd");
  if (context.role() == TlsContext::Role::kServer) {
    SSL_set_accept_state(ssl);
  } else {
    SSL_set_connect_state(ssl);
    const std::string host(verify_host);
    if (!host.empty() && !IsIpLiteral(host)) SSL_set_tlsext_host_name(ssl, host.c_str());
    if (context.verifies_peer() && !host.empty()) {
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
      const int ok = IsIpLiteral(host) ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                                       : X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
      if (ok != 1) return Failed(absl::StrCat("verify host ", host));
    }
  }
  return stream;
}

TlsStream::~TlsStream() { SSL_free(ssl_); }

TlsStream::Io TlsStream::Map(int rc) {
  const int err = SSL_get_error(ssl_, rc);
  switch (err) {
    case SSL_ERROR_WANT_READ:
      return Io::kWantRead;
    case SSL_ERROR_WANT_WRITE:
      return Io::kWantWrite;
    case SSL_ERROR_ZERO_RETURN:
      return Io::kClosed;
    case SSL_ERROR_SYSCALL: {
      const int saved = errno;
      std::string queued = ERR_peek_error() != 0 ? OpenSslErrors() : "";
      if (!queued.empty()) {
        error_ = queued;
      } else {
        error_ = saved != 0 ? std::strerror(saved) : "connection closed";
      }
      // EOF without close_notify: a closed connection (Go's clients do this too).
      return saved == 0 && queued.empty() ? Io::kClosed : Io::kError;
    }
    default: {
      error_ = OpenSslErrors();
      const long verify = SSL_get_verify_result(ssl_);
      if (verify != X509_V_OK) {
        absl::StrAppend(&error_, " (", X509_verify_cert_error_string(verify), ")");
      }
      return Io::kError;
    }
  }
}

TlsStream::Io TlsStream::Handshake() {
  ERR_clear_error();
  errno = 0;
  const int rc = SSL_do_handshake(ssl_);
  return rc == 1 ? Io::kOk : Map(rc);
}

TlsStream::Io TlsStream::Read(char* buffer, size_t capacity, size_t* n) {
  ERR_clear_error();
  errno = 0;
  *n = 0;
  const int rc = SSL_read_ex(ssl_, buffer, capacity, n);
  return rc == 1 ? Io::kOk : Map(rc);
}

TlsStream::Io TlsStream::Write(const char* data, size_t size, size_t* n) {
  KEEL_CHECK(size > 0);
  ERR_clear_error();
  errno = 0;
  *n = 0;
  const int rc = SSL_write_ex(ssl_, data, size, n);
  return rc == 1 ? Io::kOk : Map(rc);
}

bool TlsStream::HasBuffered() const { return SSL_pending(ssl_) > 0; }

std::string TlsStream::PeerCommonName() const {
  if (SSL_get_verify_result(ssl_) != X509_V_OK) return "";
  X509* cert = SSL_get1_peer_certificate(ssl_);
  if (cert == nullptr) return "";
  std::string cn;
  X509_NAME* subject = X509_get_subject_name(cert);
  const int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (index >= 0) {
    ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
    unsigned char* utf8 = nullptr;
    const int len = ASN1_STRING_to_UTF8(&utf8, data);
    if (len >= 0) cn.assign(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
    OPENSSL_free(utf8);
  }
  X509_free(cert);
  return cn;
}

// ---------------------------------------------------------------------------------------
// Self-signed certificates (--auto-tls, --peer-auto-tls).
// ---------------------------------------------------------------------------------------
namespace {

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

absl::Status MakeDirs(const std::string& dir) {
  std::string prefix;
  for (size_t pos = 0; pos != std::string::npos;) {
    pos = dir.find('/', pos + 1);
    prefix = dir.substr(0, pos);
    if (prefix.empty()) continue;
    if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) {
      return absl::InternalError(absl::StrCat("mkdir ", prefix, ": ", std::strerror(errno)));
    }
  }
  return absl::OkStatus();
}

// Writes with `write_pem` to `path`, created with `mode`.
template <typename Fn>
absl::Status WritePem(const std::string& path, mode_t mode, Fn write_pem) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return absl::InternalError(absl::StrCat("open ", path, ": ", std::strerror(errno)));
  FILE* file = ::fdopen(fd, "w");
  if (file == nullptr) {
    ::close(fd);
    return absl::InternalError(absl::StrCat("fdopen ", path));
  }
  const bool ok = write_pem(file) == 1;
  const bool closed = std::fclose(file) == 0;
  if (!ok || !closed) return Failed(absl::StrCat("write ", path));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TlsConfig> SelfSignedCert(const std::string& dir,
                                         const std::vector<std::string>& hosts,
                                         int validity_years) {
  TlsConfig config;
  config.cert_file = dir + "/cert.pem";
  config.key_file = dir + "/key.pem";
  config.insecure_skip_verify = true;
  if (Exists(config.cert_file) && Exists(config.key_file)) return config;  // etcd reuses them
  absl::Status made = MakeDirs(dir);
  if (!made.ok()) return made;
  ERR_clear_error();
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (key == nullptr) return Failed("generate key");
  X509* cert = X509_new();
  auto cleanup = [&] {
    X509_free(cert);
    EVP_PKEY_free(key);
  };
  unsigned char serial_bytes[16];
  BIGNUM* serial = nullptr;
  bool ok = cert != nullptr && RAND_bytes(serial_bytes, sizeof(serial_bytes)) == 1;
  if (ok) {
    serial_bytes[0] &= 0x7f;  // positive
    serial = BN_bin2bn(serial_bytes, sizeof(serial_bytes), nullptr);
    ok = serial != nullptr && BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert)) != nullptr;
    BN_free(serial);
  }
  ok = ok && X509_set_version(cert, X509_VERSION_3) == 1 &&
       X509_gmtime_adj(X509_getm_notBefore(cert), 0) != nullptr &&
       X509_gmtime_adj(X509_getm_notAfter(cert), int64_t{validity_years} * 365 * 24 * 3600) !=
           nullptr &&
       X509_set_pubkey(cert, key) == 1;
  X509_NAME* name = ok ? X509_get_subject_name(cert) : nullptr;
  ok = ok && X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                        reinterpret_cast<const unsigned char*>("etcd"), -1, -1,
                                        0) == 1 &&
       X509_set_issuer_name(cert, name) == 1;
  std::vector<std::string> sans;
  for (const std::string& host : hosts) {
    sans.push_back(absl::StrCat(IsIpLiteral(host) ? "IP:" : "DNS:", host));
  }
  const std::string san = absl::StrJoin(sans, ",");
  const std::pair<int, std::string> extensions[] = {
      {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
      {NID_ext_key_usage, "serverAuth,clientAuth"},
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_subject_alt_name, san},
  };
  for (const auto& [nid, value] : extensions) {
    if (!ok || value.empty()) continue;
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, cert, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str());
    ok = ext != nullptr && X509_add_ext(cert, ext, -1) == 1;
    X509_EXTENSION_free(ext);
  }
  ok = ok && X509_sign(cert, key, EVP_sha256()) > 0;
  if (!ok) {
    cleanup();
    return Failed("generate self-signed certificate");
  }
  absl::Status written = WritePem(config.key_file, 0600, [key](FILE* f) {
    return PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  });
  if (written.ok()) {
    written = WritePem(config.cert_file, 0644, [cert](FILE* f) { return PEM_write_X509(f, cert); });
  }
  cleanup();
  if (!written.ok()) return written;
  return config;
}

}  // namespace keel::env
