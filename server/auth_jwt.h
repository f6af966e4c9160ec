// etcd's JWT token provider (auth/jwt.go), as the server core sees it: a token is signed
// when an Authenticate entry applies and verified on use, statelessly, so a token minted
// by one member is accepted by any member configured with the same key. The signing and
// the clock (the "exp" claim is Unix time) live outside the core: keeld passes an
// OpenSSL implementation (node/jwt_tokens.h); keelsim has none (simple tokens only).
#ifndef KEEL_SERVER_AUTH_JWT_H_
#define KEEL_SERVER_AUTH_JWT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "server/auth_store.h"

namespace keel::server {

class JwtTokens {
 public:
  virtual ~JwtTokens() = default;
  // etcd's tokenJWT.assign: claims {username, revision, exp = now + ttl}, signed. Fails
  // with etcd's "auth: token signing attempted with verify-only key" when only a public
  // key was given.
  virtual absl::StatusOr<std::string> Assign(std::string_view user, uint64_t revision) = 0;
  // etcd's tokenJWT.info: the claims' user and auth revision of a token whose signature
  // (with the configured method and key) and expiry hold; nullopt otherwise. Thread-safe.
  virtual std::optional<AuthInfo> Info(std::string_view token) = 0;
};

}  // namespace keel::server

#endif  // KEEL_SERVER_AUTH_JWT_H_
