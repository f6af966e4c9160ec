#include "server/auth_tokens.h"

#include <iterator>

#include "absl/strings/numbers.h"
#include <vector>


namespace keel::server {

std::optional<uint64_t> SimpleTokenIndex(std::string_view token) {
  size_t dot = token.find('.');
  if (dot == std::string_view::npos || token.find('.', dot + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  uint64_t index = 0;
  std::string_view digits = token.substr(dot + 1);
  if (!absl::SimpleAtoi(absl::string_view(digits.data(), digits.size()), &index)) {
    return std::nullopt;
  }
  return index;
}

std::string SimpleTokens::Assign(std::string_view prefix, uint64_t index, std::string_view user,
                                 int64_t now_ns) {
  SweepExpired(now_ns);
  if (tokens_.size() >= kMaxTokens) {
    // Drop the token closest to expiry to stay bounded (only reached under a flood of
    // Authenticate calls, each of which already cost a bcrypt check and a Raft round).
    auto oldest = tokens_.begin();
    for (auto it = tokens_.begin(); it != tokens_.end(); ++it) {
      if (it->second.expires_ns < oldest->second.expires_ns) oldest = it;
    }
    tokens_.erase(oldest);
  }
  std::string token = std::string(prefix) + "." + std::to_string(index);
  tokens_[token] = Entry{std::string(user), now_ns + ttl_ns_};
  return token;
}

std::optional<std::string> SimpleTokens::Lookup(std::string_view token, int64_t now_ns) {
  auto it = tokens_.find(token);
  if (it == tokens_.end()) return std::nullopt;
  if (it->second.expires_ns <= now_ns) {
    tokens_.erase(it);
    return std::nullopt;
  }
  it->second.expires_ns = now_ns + ttl_ns_;  // etcd's resetSimpleToken: each use renews
  return it->second.user;
}

void SimpleTokens::InvalidateUser(std::string_view user) {
  for (auto it = tokens_.begin(); it != tokens_.end();) {
    it = it->second.user == user ? tokens_.erase(it) : std::next(it);
  }
}

void SimpleTokens::Clear() { tokens_.clear(); }

void SimpleTokens::SweepExpired(int64_t now_ns) {
  for (auto it = tokens_.begin(); it != tokens_.end();) {
    it = it->second.expires_ns <= now_ns ? tokens_.erase(it) : std::next(it);
  }
}

}  // namespace keel::server
