// Passwords and token randomness for the auth store: bcrypt (etcd's choice, default cost
// 10) through Debian's libxcrypt (crypt_gensalt_rn "$2b$", crypt_r), no crypto of our own.
//
// Hashing costs ~50-100 ms of CPU at cost 10, so the server core never runs it on its Loop:
// it asks an AuthCrypto, which calls back on the Loop when done. keeld's runs the work on a
// small bounded thread pool with the OS's randomness (node/auth_crypto_pool.h); keelsim and
// unit tests use InlineAuthCrypto, synchronous, its salts and tokens drawn from an env::Rng
// so a seed replays the same log. Either way the salt's randomness does not reach the apply
// path: a password is hashed before it is proposed and the hash travels in the Raft log,
// so every member applies the same bytes (etcd 3.5 does the same, for the same reason).
#ifndef KEEL_SERVER_AUTH_CRYPTO_H_
#define KEEL_SERVER_AUTH_CRYPTO_H_

#include <string>
#include <string_view>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "env/rng.h"

namespace keel::server {

// etcd's default bcrypt cost (auth.BcryptCost / --bcrypt-cost in later releases).
inline constexpr int kDefaultBcryptCost = 10;
// bcrypt's salt input: 16 random bytes.
inline constexpr size_t kBcryptSaltBytes = 16;
// etcd's simple-token prefix: 16 letters from [a-zA-Z].
inline constexpr size_t kSimpleTokenPrefixLength = 16;

// bcrypt of `password` with `cost` (4..31) and the given 16 salt bytes.
absl::StatusOr<std::string> BcryptHash(std::string_view password, int cost,
                                       std::string_view salt_bytes);
// True iff `hash` is a bcrypt hash of `password`; compares in constant time.
bool BcryptMatches(std::string_view hash, std::string_view password);
// Up to 16 letters chosen from `random_bytes`: each byte picks one letter, bytes that would
// bias the choice are skipped (so fewer letters may come out; callers draw more).
std::string TokenPrefixFromBytes(std::string_view random_bytes);

class AuthCrypto {
 public:
  using HashDone = absl::AnyInvocable<void(absl::StatusOr<std::string>) &&>;
  using CheckDone = absl::AnyInvocable<void(bool) &&>;
  virtual ~AuthCrypto() = default;
  // Hashes `password`; `done` runs on the member's Loop (possibly before Hash returns).
  // An error (e.g. the work queue is full) is passed to `done` as the request's answer.
  virtual void Hash(std::string password, HashDone done) = 0;
  // Checks `password` against `hash`; `done` runs on the Loop. Callers pass a dummy hash
  // for an unknown user, so that unknown user and wrong password take the same time.
  virtual void Check(std::string hash, std::string password, CheckDone done) = 0;
  // A fresh simple-token prefix (etcd's GenTokenPrefix). Called on the Loop.
  virtual std::string NewTokenPrefix() = 0;
};

// Synchronous, seeded (keelsim, unit tests): everything runs inside the call.
class InlineAuthCrypto final : public AuthCrypto {
 public:
  InlineAuthCrypto(env::Rng rng, int cost) : rng_(rng), cost_(cost) {}
  void Hash(std::string password, HashDone done) override;
  void Check(std::string hash, std::string password, CheckDone done) override;
  std::string NewTokenPrefix() override;

 private:
  std::string RandomBytes(size_t n);
  env::Rng rng_;
  const int cost_;
};

}  // namespace keel::server

#endif  // KEEL_SERVER_AUTH_CRYPTO_H_
