#include "server/auth_crypto.h"

#include <crypt.h>

#include <algorithm>
#include <memory>

#include "absl/status/status.h"

namespace keel::server {
namespace {

constexpr std::string_view kLetters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

}  // namespace

absl::StatusOr<std::string> BcryptHash(std::string_view password, int cost,
                                       std::string_view salt_bytes) {
  if (salt_bytes.size() != kBcryptSaltBytes) {
    return absl::InvalidArgumentError("bcrypt needs 16 salt bytes");
  }
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn("$2b$", static_cast<unsigned long>(cost), salt_bytes.data(),
                       static_cast<int>(salt_bytes.size()), setting, sizeof(setting)) == nullptr) {
    return absl::InvalidArgumentError("bcrypt: bad cost");
  }
  // crypt_data is ~32 KiB: on the heap, one per call (thread-safe, no shared state).
  auto data = std::make_unique<crypt_data>();
  const std::string pw(password);  // NUL-terminated copy
  const char* hash = crypt_r(pw.c_str(), setting, data.get());
  if (hash == nullptr || hash[0] == '*') return absl::InternalError("bcrypt: hashing failed");
  return std::string(hash);
}

bool BcryptMatches(std::string_view hash, std::string_view password) {
  if (hash.empty()) return false;
  auto data = std::make_unique<crypt_data>();
  const std::string pw(password);
  const std::string setting(hash);
  const char* out = crypt_r(pw.c_str(), setting.c_str(), data.get());
  if (out == nullptr || out[0] == '*') return false;
  const std::string_view got(out);
  if (got.size() != hash.size()) return false;
  unsigned char diff = 0;  // constant time over the hash's length
  for (size_t i = 0; i < got.size(); ++i) diff |= static_cast<unsigned char>(got[i] ^ hash[i]);
  return diff == 0;
}

std::string TokenPrefixFromBytes(std::string_view random_bytes) {
  std::string out;
  // 52 letters: bytes >= 208 (4 * 52) are skipped so that each letter has the same odds.
  for (char c : random_bytes) {
    const auto b = static_cast<unsigned char>(c);
    if (b >= 4 * kLetters.size()) continue;
    out.push_back(kLetters[b % kLetters.size()]);
    if (out.size() == kSimpleTokenPrefixLength) break;
  }
  return out;
}

std::string InlineAuthCrypto::RandomBytes(size_t n) {
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng_.Uniform(256));
  return out;
}

void InlineAuthCrypto::Hash(std::string password, HashDone done) {
  std::move(done)(BcryptHash(password, cost_, RandomBytes(kBcryptSaltBytes)));
}

void InlineAuthCrypto::Check(std::string hash, std::string password, CheckDone done) {
  std::move(done)(BcryptMatches(hash, password));
}

std::string InlineAuthCrypto::NewTokenPrefix() {
  std::string prefix;
  // Bounded: each round yields a letter with probability 208/256.
  for (int round = 0; round < 64 && prefix.size() < kSimpleTokenPrefixLength; ++round) {
    prefix += TokenPrefixFromBytes(RandomBytes(kSimpleTokenPrefixLength - prefix.size()));
  }
  prefix.resize(std::min(prefix.size(), kSimpleTokenPrefixLength));
  return prefix;
}

}  // namespace keel::server
