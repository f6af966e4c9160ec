#include "env/tls_peer_check.h"

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

namespace keel::env {
namespace {

int CheckIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// etcd's checkCRL: PEM or DER, read now; true if `cert`'s serial is listed. A CRL that
// cannot be read or parsed revokes everything (etcd returns the read/parse error).
bool Revoked(const std::string& crl_file, X509* cert) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_file(crl_file.c_str(), "rb"), &BIO_free);
  if (bio == nullptr) return true;
  X509_CRL* crl = PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr);
  if (crl == nullptr) {
    BIO_reset(bio.get());
    crl = d2i_X509_CRL_bio(bio.get(), nullptr);
  }
  if (crl == nullptr) return true;
  X509_REVOKED* entry = nullptr;
  const bool revoked =
      X509_CRL_get0_by_serial(crl, &entry, X509_get_serialNumber(cert)) == 1;
  X509_CRL_free(crl);
  return revoked;
}

bool CommonNameIs(X509* cert, const std::string& want) {
  char cn[256] = {0};
  int length = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn,
                                         sizeof(cn));
  return length >= 0 && static_cast<size_t>(length) == want.size() && want == cn;
}

// Go's Certificate.VerifyHostname: an IP literal against the IP SANs, a name against the
// DNS SANs (no Common Name fallback).
bool ValidFor(X509* cert, const std::string& host) {
  if (X509_check_ip_asc(cert, host.c_str(), 0) == 1) return true;
  return X509_check_host(cert, host.data(), host.size(), X509_CHECK_FLAG_NEVER_CHECK_SUBJECT,
                         nullptr) == 1;
}

int VerifyCallback(int preverified, X509_STORE_CTX* store) {
  if (preverified != 1) return preverified;
  SSL* ssl = static_cast<SSL*>(
      X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  if (ssl == nullptr) return preverified;
  const auto* check =
      static_cast<const TlsPeerCheck*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), CheckIndex()));
  if (check == nullptr) return preverified;
  X509* cert = X509_STORE_CTX_get_current_cert(store);
  if (!check->crl_file.empty() && Revoked(check->crl_file, cert)) {
    X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REVOKED);
    return 0;
  }
  if (X509_STORE_CTX_get_error_depth(store) != 0) return 1;  // names: the leaf only
  if (!check->allowed_cn.empty() && !CommonNameIs(cert, check->allowed_cn)) {
    X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
  }
  if (!check->allowed_hostname.empty() && !ValidFor(cert, check->allowed_hostname)) {
    X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
  }
  return 1;
}

}  // namespace

void InstallTlsPeerCheck(SSL_CTX* ctx, const TlsPeerCheck* check) {
  SSL_CTX_set_ex_data(ctx, CheckIndex(), const_cast<TlsPeerCheck*>(check));
  SSL_CTX_set_verify(ctx, SSL_CTX_get_verify_mode(ctx), VerifyCallback);
}

}  // namespace keel::env
