// etcd's simple tokens (auth/simple_token.go): "<16 letters>.<raft index>", mapped to a
// user on every member when the Authenticate entry applies, valid for a TTL (default
// 300 s) that each use renews. Per member and volatile, as in etcd: a restart forgets
// every token (clients re-authenticate), and the TTL runs on the member's Loop clock.
//
// Bounded: at most kMaxTokens live tokens; the oldest-expiring are dropped beyond that,
// and expired ones are swept whenever a token is assigned.
#ifndef KEEL_SERVER_AUTH_TOKENS_H_
#define KEEL_SERVER_AUTH_TOKENS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>


namespace keel::server {

// The raft index a simple token names ("<letters>.<index>"), as etcd's isValidSimpleToken
// splits it; nullopt for anything else (never a simple token).
std::optional<uint64_t> SimpleTokenIndex(std::string_view token);

class SimpleTokens {
 public:
  static constexpr size_t kMaxTokens = 100000;
  explicit SimpleTokens(int64_t ttl_ns) : ttl_ns_(ttl_ns) {}

  // etcd's assign: `prefix.index` now names `user` until now + TTL. Returns the token.
  std::string Assign(std::string_view prefix, uint64_t index, std::string_view user,
                     int64_t now_ns);
  // The token's user, renewing its TTL; nullopt for an unknown or expired token.
  std::optional<std::string> Lookup(std::string_view token, int64_t now_ns);
  // etcd's invalidateUser (user deleted or password changed).
  void InvalidateUser(std::string_view user);
  // etcd's disable: auth turned off forgets every token.
  void Clear();
  size_t size() const { return tokens_.size(); }

 private:
  struct Entry {
    std::string user;
    int64_t expires_ns = 0;
  };
  void SweepExpired(int64_t now_ns);
  const int64_t ttl_ns_;
  std::map<std::string, Entry, std::less<>> tokens_;
};

}  // namespace keel::server

#endif  // KEEL_SERVER_AUTH_TOKENS_H_
