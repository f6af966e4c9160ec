#include "node/initial_corrupt_check.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "env/tcp_transport.h"

namespace keel::node {

std::string HashKvQuery(int64_t revision) {
  return absl::StrCat(std::string(kHashKvQueryPrefix), revision);
}

std::optional<int64_t> ParseHashKvQuery(std::string_view request) {
  if (request.substr(0, kHashKvQueryPrefix.size()) != kHashKvQueryPrefix) return std::nullopt;
  int64_t revision = 0;
  const std::string_view rest = request.substr(kHashKvQueryPrefix.size());
  if (!absl::SimpleAtoi(absl::string_view(rest.data(), rest.size()), &revision) || revision < 0) {
    return std::nullopt;
  }
  return revision;
}

std::string HashKvAnswer(const absl::StatusOr<etcdserverpb::HashKVResponse>& response) {
  if (response.ok()) return absl::StrCat("O", response->SerializeAsString());
  return absl::StrCat("E", static_cast<int>(response.status().code()), ":",
                      std::string(response.status().message()));
}

server::PeerHash ParseHashKvAnswer(uint64_t member_id, std::string_view answer) {
  server::PeerHash peer;
  peer.member_id = member_id;
  etcdserverpb::HashKVResponse response;
  if (!answer.empty() && answer[0] == 'O' &&
      response.ParseFromArray(answer.data() + 1, static_cast<int>(answer.size() - 1))) {
    return server::ToPeerHash(member_id, response);
  }
  int code = 0;
  const size_t colon = answer.find(':');
  if (!answer.empty() && answer[0] == 'E' && colon != std::string_view::npos &&
      absl::SimpleAtoi(absl::string_view(answer.data() + 1, colon - 1), &code) && code != 0) {
    peer.error = absl::Status(static_cast<absl::StatusCode>(code),
                              absl::string_view(answer.data() + colon + 1, answer.size() - colon - 1));
  } else {
    peer.error = absl::UnavailableError("the member could not answer the HashKV query");
  }
  return peer;
}

absl::Status CheckInitialHashKv(uint64_t self_id, const server::KvHash& local,
                                const std::vector<etcdserverpb::Member>& members,
                                int64_t per_url_timeout_ms, const env::TlsContext* tls,
                                const std::function<void(const std::string&)>& warn) {
  const std::string self = server::MemberIdHex(self_id);
  std::vector<server::PeerHash> peers;
  // Bounded: one query per peer URL, each bounded by per_url_timeout_ms.
  for (const etcdserverpb::Member& m : members) {
    if (m.id() == self_id) continue;
    server::PeerHash peer;
    peer.member_id = m.id();
    peer.error = absl::UnavailableError("the member has no peer URLs");
    for (const std::string& url : m.peerurls()) {
      absl::StatusOr<std::string> answer = env::TcpTransport::Query(
          url, HashKvQuery(local.revision), per_url_timeout_ms, size_t{1} << 20, tls);
      peer = answer.ok() ? ParseHashKvAnswer(m.id(), *answer) : server::PeerHash{m.id(), {}, answer.status()};
      if (peer.hash.has_value()) break;
      warn(absl::StrFormat("%s hash-kv error %s on peer %s with revision %d", self,
                           peer.error.ToString(), url, local.revision));
    }
    peers.push_back(std::move(peer));
  }
  const std::vector<server::HashMismatch> found = server::InitialMismatches(local, peers);
  for (const server::HashMismatch& m : found) {
    warn(absl::StrFormat("initial corruption check: local-member-id %s: %s", self, m.reason));
  }
  if (!found.empty()) {
    return absl::DataLossError(absl::StrCat(self, " found data inconsistency with peers"));
  }
  return absl::OkStatus();
}

}  // namespace keel::node
