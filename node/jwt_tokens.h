// etcd 3.4's JWT tokens (auth/jwt.go, auth/options.go) with OpenSSL: the provider the
// server core calls (server/auth_jwt.h) for --auth-token=jwt,...
//
// Flag syntax, as etcd's decomposeOpts: "jwt,pub-key=PATH,priv-key=PATH,sign-method=M,
// ttl=DURATION" (comma-separated key=value after the type; unknown keys are warned about
// and ignored). sign-method: RS256/384/512, PS256/384/512, ES256/384/512 (PEM keys, PKCS#1
// or PKCS#8 / PKIX), HS256/384/512 (priv-key's bytes are the secret). ttl: Go duration
// syntax, default 5m. Only a public key: tokens are verified but never signed (etcd's
// verify-only mode; Authenticate then fails).
//
// Tokens are what golang-jwt makes: base64url(header) "." base64url(claims) "."
// base64url(signature), header {"alg":M,"typ":"JWT"}, claims {"exp","revision",
// "username"}; ECDSA signatures are R||S, fixed width. Verification is jwt-go's Parse: the
// header's alg must be the configured one, the signature must hold, and "exp" (if
// present) must not be in the past. The clock is the host's wall clock (Unix time), as
// etcd's time.Now(): this lives in node/, outside the core's Env seam, like bcrypt's pool.
#ifndef KEEL_NODE_JWT_TOKENS_H_
#define KEEL_NODE_JWT_TOKENS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "server/auth_jwt.h"

namespace keel::node {

// Parses the value of --auth-token when it starts with "jwt" and loads the keys. Errors
// carry etcd's texts ("auth: invalid auth options", "auth: missing key data", golang-jwt's
// key messages). `warning` receives etcd's "unknown JWT options" line when there are some.
// `unix_now` (seconds) is the wall clock; tests pass their own.
absl::StatusOr<std::shared_ptr<server::JwtTokens>> MakeJwtTokens(
    std::string_view auth_token_flag, std::string* warning = nullptr,
    std::function<int64_t()> unix_now = {});

}  // namespace keel::node

#endif  // KEEL_NODE_JWT_TOKENS_H_
