#include "node/cluster_join.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "env/tcp_transport.h"

namespace keel::node {

absl::StatusOr<server::ExistingCluster> ParseMembersAnswer(std::string_view answer) {
  etcdserverpb::MemberListResponse response;
  if (answer.empty() || !response.ParseFromArray(answer.data(), static_cast<int>(answer.size()))) {
    return absl::UnavailableError("the member could not list the cluster's members");
  }
  if (response.header().cluster_id() == 0 || response.members().empty()) {
    return absl::UnavailableError("the member answered without a cluster ID or members");
  }
  server::ExistingCluster cluster;
  cluster.cluster_id = response.header().cluster_id();
  for (const etcdserverpb::Member& m : response.members()) {
    server::ExistingCluster::Member& member = cluster.members.emplace_back();
    member.id = m.id();
    member.name = m.name();
    member.peer_urls.assign(m.peerurls().begin(), m.peerurls().end());
    member.client_urls.assign(m.clienturls().begin(), m.clienturls().end());
    member.is_learner = m.islearner();
  }
  return cluster;
}

std::vector<std::string> RemotePeerUrls(const std::vector<server::PeerConfig>& initial_cluster,
                                        const std::string& self_name) {
  std::vector<std::string> urls;
  for (const server::PeerConfig& peer : initial_cluster) {
    if (peer.name == self_name) continue;
    for (const std::string& url : peer.peer_urls) {
      if (std::find(urls.begin(), urls.end(), url) == urls.end()) urls.push_back(url);
    }
  }
  return urls;
}

absl::StatusOr<server::ExistingCluster> FetchExistingCluster(
    const std::vector<server::PeerConfig>& initial_cluster, const std::string& self_name,
    int64_t per_peer_timeout_ms, const env::TlsContext* tls) {
  const std::vector<std::string> urls = RemotePeerUrls(initial_cluster, self_name);
  std::string last_error = "--initial-cluster names no other member";
  // Bounded: one query per URL, each bounded by per_peer_timeout_ms.
  for (const std::string& url : urls) {
    absl::StatusOr<std::string> answer =
        env::TcpTransport::Query(url, kMembersQuery, per_peer_timeout_ms,
                                 /*max_answer_bytes=*/size_t{64} << 20, tls);
    absl::StatusOr<server::ExistingCluster> cluster =
        answer.ok() ? ParseMembersAnswer(*answer)
                    : absl::StatusOr<server::ExistingCluster>(answer.status());
    if (cluster.ok()) return cluster;
    last_error = absl::StrCat(url, ": ", cluster.status().message());
  }
  return absl::UnavailableError(absl::StrCat(
      "cannot fetch cluster info from peer urls: could not retrieve cluster information "
      "from the given URLs (",
      last_error, ")"));
}

}  // namespace keel::node
