#include "node/jwt_tokens.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <ctime>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace keel::node {
namespace {

// etcd's (auth/store.go, auth/options.go) and golang-jwt's texts.
constexpr char kInvalidAuthOpts[] = "auth: invalid auth options";
constexpr char kMissingKey[] = "auth: missing key data";
constexpr char kVerifyOnly[] = "auth: token signing attempted with verify-only key";
constexpr char kKeyMustBePem[] = "invalid key: Key must be a PEM encoded PKCS1 or PKCS8 key";

enum class Family { kRsa, kRsaPss, kEcdsa, kHmac };

struct Method {
  Family family;
  const EVP_MD* (*digest)();
  int ec_bytes;  // ECDSA: bytes of R and of S in the signature
};

std::optional<Method> MethodByName(std::string_view name) {
  static const std::map<std::string_view, Method> kMethods = {
      {"RS256", {Family::kRsa, EVP_sha256, 0}},    {"RS384", {Family::kRsa, EVP_sha384, 0}},
      {"RS512", {Family::kRsa, EVP_sha512, 0}},    {"PS256", {Family::kRsaPss, EVP_sha256, 0}},
      {"PS384", {Family::kRsaPss, EVP_sha384, 0}}, {"PS512", {Family::kRsaPss, EVP_sha512, 0}},
      {"ES256", {Family::kEcdsa, EVP_sha256, 32}}, {"ES384", {Family::kEcdsa, EVP_sha384, 48}},
      {"ES512", {Family::kEcdsa, EVP_sha512, 66}}, {"HS256", {Family::kHmac, EVP_sha256, 0}},
      {"HS384", {Family::kHmac, EVP_sha384, 0}},   {"HS512", {Family::kHmac, EVP_sha512, 0}},
  };
  auto it = kMethods.find(name);
  if (it == kMethods.end()) return std::nullopt;
  return it->second;
}

struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

std::string Base64Url(std::string_view bytes) {
  return absl::WebSafeBase64Escape(absl::string_view(bytes.data(), bytes.size()));
}

std::optional<std::string> FromBase64Url(absl::string_view text) {
  std::string out;
  if (!absl::WebSafeBase64Unescape(text, &out)) {
    return std::nullopt;
  }
  return out;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("open ", path, ": no such file"));
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// A PEM private or public key of the method's family; golang-jwt's messages otherwise.
absl::StatusOr<Pkey> ParseKey(const std::string& pem, bool is_private, Family family) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), pem.size()),
                                                &BIO_free);
  Pkey key(is_private ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)
                      : PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  const bool ec = family == Family::kEcdsa;
  const std::string kind = absl::StrCat(ec ? "ECDSA" : "RSA", is_private ? " private" : " public");
  if (key == nullptr) {
    // golang-jwt: not PEM at all is ErrKeyMustBePEMEncoded; PEM of the wrong kind names it.
    if (pem.find("-----BEGIN") == std::string::npos) return absl::InvalidArgumentError(kKeyMustBePem);
    return absl::InvalidArgumentError(absl::StrCat("key is not a valid ", kind, " key"));
  }
  const int id = EVP_PKEY_base_id(key.get());
  if ((ec && id != EVP_PKEY_EC) || (!ec && id != EVP_PKEY_RSA && id != EVP_PKEY_RSA_PSS)) {
    return absl::InvalidArgumentError(absl::StrCat("key is not a valid ", kind, " key"));
  }
  return key;
}

// ECDSA: OpenSSL's DER signature <-> JWS's fixed-width R||S.
std::optional<std::string> DerToRaw(const std::string& der, int width) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(
      d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())), &ECDSA_SIG_free);
  if (sig == nullptr) return std::nullopt;
  std::string raw(2 * width, '\0');
  const BIGNUM* r = ECDSA_SIG_get0_r(sig.get());
  const BIGNUM* s = ECDSA_SIG_get0_s(sig.get());
  unsigned char* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(r, out, width) != width || BN_bn2binpad(s, out + width, width) != width) {
    return std::nullopt;
  }
  return raw;
}

std::optional<std::string> RawToDer(std::string_view raw, int width) {
  if (raw.size() != static_cast<size_t>(2 * width)) return std::nullopt;
  const unsigned char* in = reinterpret_cast<const unsigned char*>(raw.data());
  std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(ECDSA_SIG_new(), &ECDSA_SIG_free);
  BIGNUM* r = BN_bin2bn(in, width, nullptr);
  BIGNUM* s = BN_bin2bn(in + width, width, nullptr);
  if (sig == nullptr || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return std::nullopt;
  }
  int length = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (length <= 0) return std::nullopt;
  std::string der(length, '\0');
  unsigned char* out = reinterpret_cast<unsigned char*>(der.data());
  i2d_ECDSA_SIG(sig.get(), &out);
  return der;
}

// JSON string escaping as Go's encoding/json (quotes, backslash, control characters and
// <, >, & as \u00XX).
std::string JsonString(std::string_view text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
      absl::StrAppend(&out, "\\u00", absl::Hex(c, absl::kZeroPad2));
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

class OpenSslJwtTokens final : public server::JwtTokens {
 public:
  OpenSslJwtTokens(std::string name, Method method, Pkey private_key, Pkey public_key,
                   std::string hmac_secret, int64_t ttl_s, std::function<int64_t()> unix_now)
      : name_(std::move(name)),
        method_(method),
        private_key_(std::move(private_key)),
        public_key_(std::move(public_key)),
        hmac_secret_(std::move(hmac_secret)),
        ttl_s_(ttl_s),
        unix_now_(std::move(unix_now)) {}

  absl::StatusOr<std::string> Assign(std::string_view user, uint64_t revision) override {
    if (method_.family != Family::kHmac && private_key_ == nullptr) {
      return absl::FailedPreconditionError(kVerifyOnly);
    }
    // golang-jwt's encoding/json output: header fields, then claims in sorted key order.
    std::string signing_input = absl::StrCat(
        Base64Url(absl::StrCat("{\"alg\":\"", name_, "\",\"typ\":\"JWT\"}")), ".",
        Base64Url(absl::StrCat("{\"exp\":", unix_now_() + ttl_s_, ",\"revision\":", revision,
                               ",\"username\":", JsonString(user), "}")));
    std::optional<std::string> signature = Sign(signing_input);
    if (!signature.has_value()) return absl::InternalError("failed to sign a JWT token");
    return absl::StrCat(signing_input, ".", Base64Url(*signature));
  }

  std::optional<server::AuthInfo> Info(std::string_view token) override {
    // Debian's Abseil has its own string_view (not std's): split as absl's.
    std::vector<absl::string_view> parts =
        absl::StrSplit(absl::string_view(token.data(), token.size()), '.');
    if (parts.size() != 3) return std::nullopt;
    std::optional<google::protobuf::Struct> header = JsonPart(parts[0]);
    std::optional<google::protobuf::Struct> claims = JsonPart(parts[1]);
    std::optional<std::string> signature = FromBase64Url(parts[2]);
    if (!header || !claims || !signature) return std::nullopt;
    // etcd's keyfunc: "invalid signing method" unless the header names ours.
    auto alg = header->fields().find("alg");
    if (alg == header->fields().end() || alg->second.string_value() != name_) return std::nullopt;
    const std::string_view signed_part(token.data(), parts[0].size() + 1 + parts[1].size());
    if (!Verify(signed_part, *signature)) return std::nullopt;
    // jwt-go's MapClaims.Valid: exp, iat and nbf, each only when present.
    const int64_t now = unix_now_();
    const auto& f = claims->fields();
    auto number = [&f](const char* key) -> std::optional<double> {
      auto it = f.find(key);
      if (it == f.end()) return std::nullopt;
      return it->second.number_value();
    };
    if (auto exp = number("exp"); exp && now > *exp) return std::nullopt;
    if (auto iat = number("iat"); iat && now < *iat) return std::nullopt;
    if (auto nbf = number("nbf"); nbf && now < *nbf) return std::nullopt;
    auto user = f.find("username");
    auto revision = f.find("revision");
    if (user == f.end() || !user->second.has_string_value() || revision == f.end() ||
        !revision->second.has_number_value() || revision->second.number_value() < 0) {
      return std::nullopt;  // etcd's type assertions would panic here
    }
    return server::AuthInfo{user->second.string_value(),
                            static_cast<uint64_t>(revision->second.number_value())};
  }

 private:
  static std::optional<google::protobuf::Struct> JsonPart(absl::string_view part) {
    std::optional<std::string> json = FromBase64Url(part);
    if (!json.has_value()) return std::nullopt;
    google::protobuf::Struct parsed;
    if (!google::protobuf::util::JsonStringToMessage(*json, &parsed).ok()) return std::nullopt;
    return parsed;
  }

  std::optional<std::string> Hmac(std::string_view input) const {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (HMAC(method_.digest(), hmac_secret_.data(), static_cast<int>(hmac_secret_.size()),
             reinterpret_cast<const unsigned char*>(input.data()), input.size(), out,
             &length) == nullptr) {
      return std::nullopt;
    }
    return std::string(reinterpret_cast<char*>(out), length);
  }

  // PSS: salt as long as the digest when signing (golang-jwt), any length when verifying.
  bool SetPadding(EVP_PKEY_CTX* pctx, bool signing) const {
    if (method_.family != Family::kRsaPss) return true;
    return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
           EVP_PKEY_CTX_set_rsa_pss_saltlen(
               pctx, signing ? RSA_PSS_SALTLEN_DIGEST : RSA_PSS_SALTLEN_AUTO) > 0;
  }

  std::optional<std::string> Sign(std::string_view input) const {
    if (method_.family == Family::kHmac) return Hmac(input);
    MdCtx ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;
    size_t length = 0;
    if (ctx == nullptr ||
        EVP_DigestSignInit(ctx.get(), &pctx, method_.digest(), nullptr, private_key_.get()) !=
            1 ||
        !SetPadding(pctx, true) ||
        EVP_DigestSign(ctx.get(), nullptr, &length,
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
      return std::nullopt;
    }
    std::string signature(length, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
      return std::nullopt;
    }
    signature.resize(length);
    if (method_.family == Family::kEcdsa) return DerToRaw(signature, method_.ec_bytes);
    return signature;
  }

  bool Verify(std::string_view input, const std::string& signature) const {
    if (method_.family == Family::kHmac) {
      std::optional<std::string> expected = Hmac(input);
      return expected.has_value() && expected->size() == signature.size() &&
             CRYPTO_memcmp(expected->data(), signature.data(), signature.size()) == 0;
    }
    std::string der = signature;
    if (method_.family == Family::kEcdsa) {
      std::optional<std::string> converted = RawToDer(signature, method_.ec_bytes);
      if (!converted.has_value()) return false;
      der = *std::move(converted);
    }
    EVP_PKEY* key = public_key_ != nullptr ? public_key_.get() : private_key_.get();
    MdCtx ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;
    return ctx != nullptr &&
           EVP_DigestVerifyInit(ctx.get(), &pctx, method_.digest(), nullptr, key) == 1 &&
           SetPadding(pctx, false) &&
           EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(der.data()),
                            der.size(), reinterpret_cast<const unsigned char*>(input.data()),
                            input.size()) == 1;
  }

  const std::string name_;
  const Method method_;
  const Pkey private_key_;  // null: verify-only
  const Pkey public_key_;   // null: verify with the private key's public half
  const std::string hmac_secret_;
  const int64_t ttl_s_;
  const std::function<int64_t()> unix_now_;
};

}  // namespace

absl::StatusOr<std::shared_ptr<server::JwtTokens>> MakeJwtTokens(
    std::string_view auth_token_flag, std::string* warning, std::function<int64_t()> unix_now) {
  // etcd's decomposeOpts: "<type>,k=v,...". Each option must be k=v; the type must be jwt.
  std::vector<absl::string_view> items =
      absl::StrSplit(absl::string_view(auth_token_flag.data(), auth_token_flag.size()), ',');
  if (items.empty() || items[0] != "jwt") return absl::InvalidArgumentError(kInvalidAuthOpts);
  std::map<std::string, std::string> options;
  for (size_t i = 1; i < items.size(); ++i) {
    std::vector<absl::string_view> kv = absl::StrSplit(items[i], absl::MaxSplits('=', 1));
    if (kv.size() != 2) return absl::InvalidArgumentError(kInvalidAuthOpts);
    options[std::string(kv[0])] = std::string(kv[1]);
  }
  std::vector<std::string> unknown;
  for (const auto& [key, value] : options) {
    if (key != "sign-method" && key != "pub-key" && key != "priv-key" && key != "ttl") {
      unknown.push_back(key);
    }
  }
  if (warning != nullptr && !unknown.empty()) {
    *warning = absl::StrCat("unknown JWT options: [", absl::StrJoin(unknown, " "), "]");
  }
  // auth/options.go: ttl (Go duration, default 5m), key files, sign-method (required).
  int64_t ttl_s = 300;
  if (!options["ttl"].empty()) {
    absl::Duration ttl;
    if (!absl::ParseDuration(options["ttl"], &ttl)) {
      return absl::InvalidArgumentError(kInvalidAuthOpts);
    }
    ttl_s = absl::ToInt64Seconds(ttl);
  }
  std::string public_pem, private_pem;
  for (auto [key, out] : {std::pair{"pub-key", &public_pem}, std::pair{"priv-key", &private_pem}}) {
    if (options[key].empty()) continue;
    absl::StatusOr<std::string> bytes = ReadFile(options[key]);
    if (!bytes.ok()) return absl::InvalidArgumentError(kInvalidAuthOpts);
    *out = *std::move(bytes);
  }
  const std::string name = options["sign-method"];
  std::optional<Method> method = MethodByName(name);
  if (!method.has_value()) return absl::InvalidArgumentError(kInvalidAuthOpts);
  if (!unix_now) unix_now = [] { return static_cast<int64_t>(std::time(nullptr)); };

  if (method->family == Family::kHmac) {
    if (private_pem.empty()) return absl::InvalidArgumentError(kMissingKey);
    return std::make_shared<OpenSslJwtTokens>(name, *method, nullptr, nullptr, private_pem, ttl_s,
                                              std::move(unix_now));
  }
  Pkey private_key, public_key;
  if (!private_pem.empty()) {
    absl::StatusOr<Pkey> key = ParseKey(private_pem, true, method->family);
    if (!key.ok()) return key.status();
    private_key = *std::move(key);
  }
  if (!public_pem.empty()) {
    absl::StatusOr<Pkey> key = ParseKey(public_pem, false, method->family);
    if (!key.ok()) return key.status();
    public_key = *std::move(key);
  }
  if (private_key == nullptr && public_key == nullptr) {
    return absl::InvalidArgumentError(kMissingKey);
  }
  // As etcd: with a private key, tokens are verified with its own public half (etcd's
  // keyfunc), so a mismatching pub-key does not matter once priv-key is given.
  if (private_key != nullptr) public_key.reset();
  return std::make_shared<OpenSslJwtTokens>(name, *method, std::move(private_key),
                                            std::move(public_key), "", ttl_s,
                                            std::move(unix_now));
}

}  // namespace keel::node
