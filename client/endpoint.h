// One server address and the gRPC stubs that talk to it. Stubs are thread-safe and cheap
// to share; the channel reconnects by itself after a transport failure.
#ifndef KEEL_CLIENT_ENDPOINT_H_
#define KEEL_CLIENT_ENDPOINT_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "api/etcdserverpb/rpc.grpc.pb.h"
#include "api/v3electionpb/v3election.grpc.pb.h"
#include "api/v3lockpb/v3lock.grpc.pb.h"
#include "grpcpp/channel.h"
#include "grpcpp/security/credentials.h"

namespace keel::client {

// "http://127.0.0.1:2379" and "127.0.0.1:2379" name the same endpoint; gRPC wants the latter.
std::string NormalizeEndpoint(std::string_view url);

struct Endpoint {
  std::string address;  // host:port, normalized
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<etcdserverpb::KV::Stub> kv;
  std::unique_ptr<etcdserverpb::Watch::Stub> watch;
  std::unique_ptr<etcdserverpb::Lease::Stub> lease;
  std::unique_ptr<etcdserverpb::Cluster::Stub> cluster;
  std::unique_ptr<etcdserverpb::Maintenance::Stub> maintenance;
  std::unique_ptr<v3lockpb::Lock::Stub> lock;
  std::unique_ptr<v3electionpb::Election::Stub> election;

  // Blocks until the channel is READY or `deadline` passes. A request is only sent on a
  // READY channel, so a failure to connect proves nothing was sent and is safe to fail over.
  bool WaitConnected(absl::Time deadline) const;
};

// etcdctl's TLS flags: --cacert, --cert, --key, --insecure-skip-tls-verify. TLS is used for
// an https:// endpoint or when any of them is given, as etcdctl does.
struct ClientTls {
  std::string ca_file;    // PEM roots; empty = the system's
  std::string cert_file;  // client certificate (with key_file), for --client-cert-auth
  std::string key_file;
  bool insecure_skip_verify = false;
  bool Given() const {
    return !ca_file.empty() || !cert_file.empty() || !key_file.empty() || insecure_skip_verify;
  }
};

// gRPC channel credentials for `url`: insecure for http:// or bare endpoints without TLS
// flags; else TLS (files read now; INVALID_ARGUMENT "open <path>: ..." if unreadable).
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeCredentials(std::string_view url,
                                                                          const ClientTls& tls);

// `channel_tag` distinguishes otherwise identical channels: gRPC shares one TCP connection
// between channels with equal arguments, and keelbench wants N real connections.
std::unique_ptr<Endpoint> MakeEndpoint(std::string_view url, int channel_tag = 0,
                                       std::shared_ptr<grpc::ChannelCredentials> credentials =
                                           nullptr);

}  // namespace keel::client

#endif  // KEEL_CLIENT_ENDPOINT_H_
