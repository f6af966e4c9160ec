#include "node/jwt_tokens.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace keel::node {
namespace {

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/", name);
}

// Writes a fresh key pair ("rsa" or "ec") as PEM files; returns {private, public} paths.
std::pair<std::string, std::string> MakeKeys(const std::string& name, bool ec) {
  EVP_PKEY* key = ec ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048);
  EXPECT_NE(key, nullptr);
  std::string priv = TempPath(name + ".key"), pub = TempPath(name + ".pub");
  FILE* f = std::fopen(priv.c_str(), "w");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  f = std::fopen(pub.c_str(), "w");
  PEM_write_PUBKEY(f, key);
  std::fclose(f);
  EVP_PKEY_free(key);
  return {priv, pub};
}

std::shared_ptr<server::JwtTokens> Make(const std::string& flag, int64_t* now) {
  absl::StatusOr<std::shared_ptr<server::JwtTokens>> jwt =
      MakeJwtTokens(flag, nullptr, [now] { return *now; });
  EXPECT_TRUE(jwt.ok()) << jwt.status();
  return jwt.ok() ? *jwt : nullptr;
}

std::string Decoded(const std::string& part) {
  std::string out;
  EXPECT_TRUE(absl::WebSafeBase64Unescape(part, &out));
  return out;
}

TEST(JwtTokens, SignsEtcdsClaimsAndVerifiesThemUntilExpiry) {
  auto [priv, pub] = MakeKeys("rs", false);
  int64_t now = 1'700'000'000;
  auto jwt = Make(absl::StrCat("jwt,pub-key=", pub, ",priv-key=", priv,
                               ",sign-method=RS256,ttl=5m"),
                  &now);
  absl::StatusOr<std::string> token = jwt->Assign("u", 7);
  ASSERT_TRUE(token.ok()) << token.status();
  std::vector<std::string> parts = absl::StrSplit(*token, '.');
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(Decoded(parts[0]), R"({"alg":"RS256","typ":"JWT"})");
  EXPECT_EQ(Decoded(parts[1]), R"({"exp":1700000300,"revision":7,"username":"u"})");
  std::optional<server::AuthInfo> info = jwt->Info(*token);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->username, "u");
  EXPECT_EQ(info->revision, 7u);
  now += 300;  // exp == now is still valid (jwt-go: now <= exp)
  EXPECT_TRUE(jwt->Info(*token).has_value());
  now += 1;
  EXPECT_FALSE(jwt->Info(*token).has_value()) << "expired";
}

TEST(JwtTokens, RefusesAnotherKeysTokenATamperedTokenAndAnotherMethod) {
  auto [priv, pub] = MakeKeys("a", false);
  auto [other_priv, other_pub] = MakeKeys("b", false);
  int64_t now = 1'700'000'000;
  auto jwt = Make(absl::StrCat("jwt,priv-key=", priv, ",sign-method=RS256"), &now);
  auto other = Make(absl::StrCat("jwt,priv-key=", other_priv, ",sign-method=RS256"), &now);
  std::string token = *other->Assign("root", 1);
  EXPECT_TRUE(other->Info(token).has_value());
  EXPECT_FALSE(jwt->Info(token).has_value());
  // The same claims with another user name but the original signature.
  std::string mine = *jwt->Assign("u", 1);
  std::vector<std::string> parts = absl::StrSplit(mine, '.');
  std::string forged = absl::StrCat(
      parts[0], ".",
      absl::WebSafeBase64Escape(R"({"exp":1700000300,"revision":1,"username":"root"})"), ".",
      parts[2]);
  EXPECT_FALSE(jwt->Info(forged).has_value());
  // RS512 with the same key: the header's alg is not the configured method.
  auto rs512 = Make(absl::StrCat("jwt,priv-key=", priv, ",sign-method=RS512"), &now);
  EXPECT_FALSE(jwt->Info(*rs512->Assign("u", 1)).has_value());
  EXPECT_FALSE(jwt->Info("abcdefghijklmnop.12").has_value()) << "a simple token";
  EXPECT_FALSE(jwt->Info("a.b.c").has_value());
}

TEST(JwtTokens, EcdsaPssAndHmacRoundTrip) {
  auto [ec_priv, ec_pub] = MakeKeys("ec", true);
  auto [rs_priv, rs_pub] = MakeKeys("ps", false);
  int64_t now = 1'700'000'000;
  for (const std::string& flag :
       {absl::StrCat("jwt,priv-key=", ec_priv, ",sign-method=ES256"),
        absl::StrCat("jwt,priv-key=", rs_priv, ",sign-method=PS256"),
        absl::StrCat("jwt,priv-key=", rs_priv, ",sign-method=HS512")}) {
    auto jwt = Make(flag, &now);
    std::string token = *jwt->Assign("u", 3);
    std::optional<server::AuthInfo> info = jwt->Info(token);
    ASSERT_TRUE(info.has_value()) << flag;
    EXPECT_EQ(info->username, "u");
  }
  // ES256's signature is R||S, 64 bytes (JWS), not DER.
  auto es = Make(absl::StrCat("jwt,priv-key=", ec_priv, ",sign-method=ES256"), &now);
  std::vector<std::string> parts = absl::StrSplit(*es->Assign("u", 3), '.');
  EXPECT_EQ(Decoded(parts[2]).size(), 64u);
}

TEST(JwtTokens, PublicKeyOnlyVerifiesButCannotSign) {
  auto [priv, pub] = MakeKeys("v", false);
  int64_t now = 1'700'000'000;
  auto signer = Make(absl::StrCat("jwt,priv-key=", priv, ",sign-method=RS256"), &now);
  auto verifier = Make(absl::StrCat("jwt,pub-key=", pub, ",sign-method=RS256"), &now);
  EXPECT_TRUE(verifier->Info(*signer->Assign("u", 2)).has_value());
  absl::StatusOr<std::string> refused = verifier->Assign("u", 2);
  EXPECT_EQ(refused.status().message(), "auth: token signing attempted with verify-only key");
}

TEST(JwtTokens, EtcdsOptionErrors) {
  auto [priv, pub] = MakeKeys("o", false);
  auto message = [](const std::string& flag) {
    return std::string(MakeJwtTokens(flag).status().message());
  };
  EXPECT_EQ(message(absl::StrCat("jwt,priv-key=", priv, ",sign-method=XX")),
            "auth: invalid auth options");
  EXPECT_EQ(message("jwt,priv-key=/nonexistent,sign-method=RS256"), "auth: invalid auth options");
  EXPECT_EQ(message(absl::StrCat("jwt,priv-key=", priv, ",sign-method=RS256,ttl=abc")),
            "auth: invalid auth options");
  EXPECT_EQ(message("jwt,sign-method=RS256"), "auth: missing key data");
  EXPECT_EQ(message(absl::StrCat("jwt,priv-key=", priv, ",sign-method=ES256")),
            "key is not a valid ECDSA private key");
  EXPECT_EQ(message("jwt,novalue"), "auth: invalid auth options");
  std::string warning;
  EXPECT_TRUE(MakeJwtTokens(absl::StrCat("jwt,priv-key=", priv, ",sign-method=RS256,x=1"),
                            &warning)
                  .ok());
  EXPECT_EQ(warning, "unknown JWT options: [x]");
}

}  // namespace
}  // namespace keel::node
