#include "server/member_id.h"

#include <openssl/sha.h>

#include <algorithm>

namespace keel::server {
namespace {

uint64_t FirstEightBytesOfSha1(const std::string& data) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  uint64_t id = 0;
  for (int i = 0; i < 8; ++i) id = (id << 8) | digest[i];
  return id;
}

}  // namespace

uint64_t ComputeMemberId(std::vector<std::string> peer_urls, const std::string& cluster_token,
                         std::optional<int64_t> added_unix_seconds) {
  std::sort(peer_urls.begin(), peer_urls.end());
  std::string bytes;
  for (const std::string& url : peer_urls) bytes += url;
  bytes += cluster_token;
  if (added_unix_seconds.has_value()) bytes += std::to_string(*added_unix_seconds);
  return FirstEightBytesOfSha1(bytes);
}

uint64_t ComputeClusterId(std::vector<uint64_t> member_ids) {
  std::sort(member_ids.begin(), member_ids.end());
  std::string bytes;
  bytes.reserve(8 * member_ids.size());
  for (uint64_t id : member_ids) {
    for (int shift = 56; shift >= 0; shift -= 8) bytes.push_back(static_cast<char>(id >> shift));
  }
  return FirstEightBytesOfSha1(bytes);
}

}  // namespace keel::server
