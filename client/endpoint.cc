#include "client/endpoint.h"

#include "absl/strings/match.h"
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

std::unique_ptr<Endpoint> MakeEndpoint(std::string_view url, int channel_tag) {
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
      endpoint->address, grpc::InsecureChannelCredentials(), args);
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
