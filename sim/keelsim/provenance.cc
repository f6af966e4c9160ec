#include "sim/keelsim/provenance.h"

#include <unistd.h>

#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "openssl/evp.h"
#include "sim/keelsim/build_stamp.h"

namespace keel::sim {
namespace {

// The flags that change the generated code, as the compiler saw them for this file (every
// file of keelsim is compiled with the same ones): -O level (GCC only says "optimized or
// not"), NDEBUG, the sanitizer configs (.bazelrc's asan/tsan define KEEL_SANITIZED).
std::string BuildFlags() {
#ifdef __OPTIMIZE__
  const int optimize = 1;
#else
  const int optimize = 0;
#endif
#ifdef NDEBUG
  const int ndebug = 1;
#else
  const int ndebug = 0;
#endif
#ifdef KEEL_SANITIZED
  const int sanitized = 1;
#else
  const int sanitized = 0;
#endif
  return absl::StrCat("mode=", KEEL_BUILD_COMPILATION_MODE, " optimize=", optimize, " ndebug=", ndebug,
                      " sanitized=", sanitized);
}

std::string HostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0) return "unknown";
  return name;
}

}  // namespace

Provenance BuildProvenance() {
  Provenance p;
  p.commit = KEEL_BUILD_COMMIT;
  p.tree = KEEL_BUILD_TREE;
  p.build = BuildFlags();
  p.host = HostName();
  return p;
}

absl::StatusOr<std::string> SelfSha256() {
  std::ifstream in("/proc/self/exe", std::ios::binary);
  if (!in) return absl::UnavailableError("cannot read /proc/self/exe");
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr || EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1) {
    EVP_MD_CTX_free(ctx);
    return absl::InternalError("OpenSSL SHA-256 init failed");
  }
  char buffer[1 << 16];
  // Bounded by the file's size: each pass consumes up to 64 KiB until end of file.
  while (in.read(buffer, sizeof(buffer)) || in.gcount() > 0) {
    EVP_DigestUpdate(ctx, buffer, static_cast<size_t>(in.gcount()));
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  const bool ok = EVP_DigestFinal_ex(ctx, digest, &length) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) return absl::InternalError("OpenSSL SHA-256 final failed");
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) absl::StrAppend(&hex, absl::Hex(digest[i], absl::kZeroPad2));
  return hex;
}

std::string Provenance::ToJsonLine() const {
  google::protobuf::Struct line;
  auto& f = *(*line.mutable_fields())["provenance"].mutable_struct_value()->mutable_fields();
  f["format"].set_number_value(1);
  f["commit"].set_string_value(commit);
  f["tree"].set_string_value(tree);
  f["binary_sha256"].set_string_value(binary_sha256);
  f["build"].set_string_value(build);
  // Seeds are 64-bit: strings keep them exact through JSON's doubles.
  f["seeds"].set_string_value(absl::StrCat(first_seed, "-", last_seed));
  f["shard"].set_string_value(absl::StrCat(shard_index, "/", shard_count));
  f["bug"].set_string_value(bug);
  f["jobs"].set_number_value(jobs);
  f["host"].set_string_value(host);
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(line, &out);
  return out;
}

absl::StatusOr<Provenance> Provenance::FromJsonLine(const std::string& text) {
  google::protobuf::Struct line;
  if (!google::protobuf::util::JsonStringToMessage(text, &line).ok() ||
      !line.fields().contains("provenance")) {
    return absl::InvalidArgumentError(absl::StrCat("not a provenance line: ", text.substr(0, 80)));
  }
  const auto& f = line.fields().at("provenance").struct_value().fields();
  const auto str = [&](const char* k) { return f.contains(k) ? f.at(k).string_value() : std::string(); };
  Provenance p;
  p.commit = str("commit");
  p.tree = str("tree");
  p.binary_sha256 = str("binary_sha256");
  p.build = str("build");
  p.bug = str("bug");
  p.host = str("host");
  p.jobs = f.contains("jobs") ? static_cast<int>(f.at("jobs").number_value()) : 0;
  const std::vector<std::string> seeds = absl::StrSplit(str("seeds"), '-');
  const std::vector<std::string> shard = absl::StrSplit(str("shard"), '/');
  if (seeds.size() != 2 || !absl::SimpleAtoi(seeds[0], &p.first_seed) ||
      !absl::SimpleAtoi(seeds[1], &p.last_seed) || p.first_seed > p.last_seed || shard.size() != 2 ||
      !absl::SimpleAtoi(shard[0], &p.shard_index) || !absl::SimpleAtoi(shard[1], &p.shard_count) ||
      p.shard_count == 0 || p.shard_index >= p.shard_count) {
    return absl::InvalidArgumentError(absl::StrCat("provenance line without a valid seeds/shard: ",
                                                   text.substr(0, 160)));
  }
  return p;
}

std::string ShardDoneJsonLine(uint64_t seeds_run, double wall_s, bool stopped_early) {
  google::protobuf::Struct line;
  auto& f = *(*line.mutable_fields())["shard_done"].mutable_struct_value()->mutable_fields();
  f["seeds_run"].set_number_value(static_cast<double>(seeds_run));
  f["wall_s"].set_number_value(wall_s);
  f["stopped_early"].set_bool_value(stopped_early);
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(line, &out);
  return out;
}

}  // namespace keel::sim
