// etcd 3.4's extra checks of the certificate a TLS peer presents (pkg/transport):
//   * --client-crl-file / --peer-crl-file (accepting side only, as etcd's TLS listener): a
//     certificate whose serial number is listed in the CRL is refused. As etcd, the file is
//     read again for every handshake (an updated CRL applies without a restart), only the
//     serial numbers count, and an unreadable or unparsable CRL refuses every certificate.
//   * --peer-cert-allowed-cn / --peer-cert-allowed-hostname /
//     --client-cert-allowed-hostname: the leaf certificate must carry exactly this Common
//     Name, or be valid for this host name / IP address (SANs, as Go's VerifyHostname);
//     etcd applies them on both sides of peer connections (its baseConfig).
// Installed as OpenSSL's verify callback on a context that verifies its peer, so a refused
// certificate fails the handshake (OpenSSL's "certificate revoked" /
// "application verification failure" alert).
#ifndef KEEL_ENV_TLS_PEER_CHECK_H_
#define KEEL_ENV_TLS_PEER_CHECK_H_

#include <string>

typedef struct ssl_ctx_st SSL_CTX;

namespace keel::env {

struct TlsPeerCheck {
  std::string crl_file;
  std::string allowed_cn;
  std::string allowed_hostname;
  bool Empty() const { return crl_file.empty() && allowed_cn.empty() && allowed_hostname.empty(); }
};

// Makes `ctx` apply `check` to every verified peer certificate. `check` must outlive
// `ctx` (TlsContext owns both).
void InstallTlsPeerCheck(SSL_CTX* ctx, const TlsPeerCheck* check);

}  // namespace keel::env

#endif  // KEEL_ENV_TLS_PEER_CHECK_H_
