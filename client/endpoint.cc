#include "client/endpoint.h"

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_certificate_verifier.h"
#include "grpcpp/security/tls_credentials_options.h"
#include "absl/strings/strip.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace keel::client {

std::string NormalizeEndpoint(std::string_view url_view) {
  absl::string_view url(url_view.data(), url_view.size());
  absl::ConsumePrefix(&url, "http://");
  absl::ConsumePrefix(&url, "https://");
  absl::ConsumeSuffix(&url, "/");
  return std::string(url);
}

bool Endpoint::WaitConnected(absl::Time deadline) const {
  // Bounded: each iteration waits on a state change that ends by `deadline`.
  for (;;) {
    grpc_connectivity_state state = channel->GetState(/*try_to_connect=*/true);
    if (state == GRPC_CHANNEL_READY) return true;
    if (absl::Now() >= deadline) return false;
    if (!channel->WaitForStateChange(state, absl::ToChronoTime(deadline))) return false;
  }
}

namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path) {
  if (path.empty()) return std::string();
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("open ", path, ": no such file or directory"));
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeCredentials(std::string_view url,
                                                                          const ClientTls& tls) {
  if (!absl::StartsWith(absl::string_view(url.data(), url.size()), "https://") && !tls.Given()) {
    return grpc::InsecureChannelCredentials();
  }
  absl::StatusOr<std::string> roots = ReadPem(tls.ca_file);
  if (!roots.ok()) return roots.status();
  absl::StatusOr<std::string> cert = ReadPem(tls.cert_file);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadPem(tls.key_file);
  if (!key.ok()) return key.status();
  if (!tls.insecure_skip_verify) {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = *roots;
    options.pem_cert_chain = *cert;
    options.pem_private_key = *key;
    return grpc::SslCredentials(options);
  }
  // --insecure-skip-tls-verify: no server certificate check at all (etcdctl's meaning).
  std::vector<grpc::experimental::IdentityKeyCertPair> identity;
  if (!cert->empty()) identity.push_back({*key, *cert});
  auto provider =
      std::make_shared<grpc::experimental::StaticDataCertificateProvider>(*roots, identity);
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(provider);
  if (!roots->empty()) options.watch_root_certs();
  if (!identity.empty()) options.watch_identity_key_cert_pairs();
  options.set_verify_server_certs(false);
  options.set_check_call_host(false);
  options.set_certificate_verifier(
      std::make_shared<grpc::experimental::NoOpCertificateVerifier>());
  return grpc::experimental::TlsCredentials(options);
}

std::unique_ptr<Endpoint> MakeEndpoint(std::string_view url, int channel_tag,
                                       std::shared_ptr<grpc::ChannelCredentials> credentials) {
  auto endpoint = std::make_unique<Endpoint>();
  endpoint->address = NormalizeEndpoint(url);
  grpc::ChannelArguments args;
  args.SetInt("keel.channel_tag", channel_tag);
  // Detect a silently dead peer (SIGSTOP, cable pulled) on long-lived watch/keep-alive
  // streams. etcd's server rejects pings more often than every 5s, hence 10s.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  // Reconnect quickly after a restarted member comes back.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetMaxReceiveMessageSize(-1);
  endpoint->channel = grpc::CreateCustomChannel(
      endpoint->address,
      credentials != nullptr ? credentials : grpc::InsecureChannelCredentials(), args);
  endpoint->kv = etcdserverpb::KV::NewStub(endpoint->channel);
  endpoint->watch = etcdserverpb::Watch::NewStub(endpoint->channel);
  endpoint->lease = etcdserverpb::Lease::NewStub(endpoint->channel);
  endpoint->cluster = etcdserverpb::Cluster::NewStub(endpoint->channel);
  endpoint->maintenance = etcdserverpb::Maintenance::NewStub(endpoint->channel);
  endpoint->lock = v3lockpb::Lock::NewStub(endpoint->channel);
  endpoint->election = v3electionpb::Election::NewStub(endpoint->channel);
  return endpoint;
}

}  // namespace keel::client
