#include "node/tls_setup.h"

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace keel::node {
namespace {

bool AnyHttps(const std::vector<Url>& urls) {
  for (const Url& url : urls) {
    if (url.scheme == "https") return true;
  }
  return false;
}

void Info(const std::string& line) {
  const std::string out = absl::StrCat("keeld: ", line, "\n");
  std::fwrite(out.data(), 1, out.size(), stderr);
}

// The files one port uses: the flags', or etcd's self-signed ones under `fixtures`.
absl::StatusOr<env::TlsConfig> PortConfig(const TlsFlags& flags, const std::vector<Url>& listen,
                                          const std::string& fixtures, const char* which,
                                          const std::vector<std::string>& cipher_suites) {
  env::TlsConfig config;
  if (flags.auto_tls && flags.Empty()) {
    std::vector<std::string> hosts;
    for (const Url& url : listen) hosts.push_back(url.host);
    absl::StatusOr<env::TlsConfig> self = env::SelfSignedCert(fixtures, hosts);
    if (!self.ok()) return self.status();
    config = *self;
  } else {
    if (flags.auto_tls) {
      Info(absl::StrCat("WARNING: ignoring ", which, " auto TLS since certs given"));
    }
    config.cert_file = flags.cert_file;
    config.key_file = flags.key_file;
  }
  config.trusted_ca_file = flags.trusted_ca_file;
  config.client_cert_auth = flags.client_cert_auth;
  config.cipher_suites = cipher_suites;
  config.peer_check.crl_file = flags.crl_file;
  config.peer_check.allowed_cn = flags.allowed_cn;
  config.peer_check.allowed_hostname = flags.allowed_hostname;
  return config;
}

}  // namespace

absl::StatusOr<TlsContexts> MakeTlsContexts(const KeeldConfig& config) {
  // etcd checks the names at start even when no port uses TLS.
  absl::StatusOr<std::string> ciphers = env::GoCipherSuites(config.cipher_suites);
  if (!ciphers.ok()) return ciphers.status();
  TlsContexts contexts;
  const std::string fixtures = config.server.data_dir + "/fixtures/";
  const bool peer_tls = !config.peer_tls.Empty() || config.peer_tls.auto_tls;
  if (peer_tls) {
    absl::StatusOr<env::TlsConfig> peer = PortConfig(config.peer_tls, config.listen_peer_urls,
                                                     fixtures + "peer", "peer",
                                                     config.cipher_suites);
    if (!peer.ok()) return peer.status();
    Info(absl::StrCat("peerTLS: cert = ", peer->cert_file, ", key = ", peer->key_file,
                      ", trusted-ca = ", peer->trusted_ca_file,
                      ", client-cert-auth = ", peer->client_cert_auth ? "true" : "false",
                      ", crl-file = ", peer->peer_check.crl_file));
    if (AnyHttps(config.listen_peer_urls)) {
      absl::StatusOr<std::shared_ptr<env::TlsContext>> server =
          env::TlsContext::Create(*peer, env::TlsContext::Role::kServer);
      if (!server.ok()) return server.status();
      contexts.peer_server = *std::move(server);
    }
    absl::StatusOr<std::shared_ptr<env::TlsContext>> client =
        env::TlsContext::Create(*peer, env::TlsContext::Role::kClient);
    if (!client.ok()) return client.status();
    contexts.peer_client = *std::move(client);
  }
  if (AnyHttps(config.listen_client_urls)) {
    absl::StatusOr<env::TlsConfig> client =
        PortConfig(config.client_tls, config.listen_client_urls, fixtures + "client", "client",
                   config.cipher_suites);
    if (!client.ok()) return client.status();
    client->alpn_h2_http11 = true;
    Info(absl::StrCat("ClientTLS: cert = ", client->cert_file, ", key = ", client->key_file,
                      ", trusted-ca = ", client->trusted_ca_file,
                      ", client-cert-auth = ", client->client_cert_auth ? "true" : "false",
                      ", crl-file = ", client->peer_check.crl_file));
    absl::StatusOr<std::shared_ptr<env::TlsContext>> server =
        env::TlsContext::Create(*client, env::TlsContext::Role::kServer);
    if (!server.ok()) return server.status();
    contexts.client_server = *std::move(server);
  }
  return contexts;
}

}  // namespace keel::node
