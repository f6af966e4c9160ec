#include "node/client_identity.h"

#include <map>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/server_context.h"

namespace keel::node {
namespace {

struct Registry {
  absl::Mutex mu;
  // Bounded by the number of open TLS relays (TlsTerminator::Options::max_connections).
  std::map<int, std::pair<uint64_t, std::string>> names ABSL_GUARDED_BY(mu);
};

Registry& TheRegistry() {
  static Registry* const registry = new Registry();  // never destroyed: relays may outlive main
  return *registry;
}

}  // namespace

void PublishCommonName(int fd, uint64_t token, std::string common_name) {
  Registry& r = TheRegistry();
  absl::MutexLock lock(&r.mu);
  r.names[fd] = {token, std::move(common_name)};
}

void ForgetCommonName(int fd, uint64_t token) {
  Registry& r = TheRegistry();
  absl::MutexLock lock(&r.mu);
  auto it = r.names.find(fd);
  if (it != r.names.end() && it->second.first == token) r.names.erase(it);
}

std::string VerifiedCommonNameOfPeer(std::string_view grpc_peer) {
  absl::string_view peer(grpc_peer.data(), grpc_peer.size());
  int fd = -1;
  if (!absl::ConsumePrefix(&peer, "fd:") || !absl::SimpleAtoi(peer, &fd)) return "";
  Registry& r = TheRegistry();
  absl::MutexLock lock(&r.mu);
  auto it = r.names.find(fd);
  return it == r.names.end() ? "" : it->second.second;
}

std::string VerifiedCommonName(const grpc::ServerContextBase& context) {
  return VerifiedCommonNameOfPeer(context.peer());
}

}  // namespace keel::node
