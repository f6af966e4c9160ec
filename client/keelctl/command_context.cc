#include "client/keelctl/command_context.h"

#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/txn.h"

namespace keel::client::keelctl {

void Fail(int code, absl::string_view message) {
  std::fflush(stdout);
  std::cerr << "Error: " << message << "\n";
  std::exit(code);
}

void FailOn(const absl::Status& s) {
  if (s.ok()) return;
  Fail(s.code() == absl::StatusCode::kUnimplemented ? kExitBadFeature : kExitError, s.message());
}

namespace {
absl::Duration ParseDurationOrDie(const std::string& text) {
  absl::Duration d;
  if (!absl::ParseDuration(text, &d)) Fail(kExitBadArgs, absl::StrCat("invalid duration ", text));
  return d;
}
}  // namespace

Format Context::format() const {
  if (globals_.write_out == "simple") return Format::kSimple;
  if (globals_.write_out == "json") return Format::kJson;
  if (globals_.write_out == "table") return Format::kTable;
  Fail(kExitBadFeature, absl::StrCat("unsupported output format ", globals_.write_out));
}

std::vector<std::string> Context::Endpoints() const {
  return absl::StrSplit(globals_.endpoints, ',', absl::SkipEmpty());
}

ClientOptions Context::Options(bool discover) const {
  return {.endpoints = Endpoints(),
          .dial_timeout = ParseDurationOrDie(globals_.dial_timeout),
          .command_timeout = ParseDurationOrDie(globals_.command_timeout),
          .discover_leader = discover,
          .tls = {.ca_file = globals_.cacert,
                  .cert_file = globals_.cert,
                  .key_file = globals_.key,
                  .insecure_skip_verify = globals_.insecure_skip_tls_verify}};
}

Client* Context::client() {
  if (client_ == nullptr) {
    auto c = Client::Create(Options(/*discover=*/true));
    // etcdctl's dial does not block; its first call then times out with this message.
    if (!c.ok() && c.status().code() == absl::StatusCode::kInvalidArgument) {
      Fail(kExitError, c.status().message());  // an unreadable --cacert/--cert/--key
    }
    if (!c.ok()) Fail(kExitError, "context deadline exceeded");
    client_ = std::move(*c);
  }
  return client_.get();
}

int64_t ParseLeaseId(const std::string& text) {
  int64_t id = 0;
  if (!absl::SimpleHexAtoi(text, &id)) Fail(kExitBadArgs, absl::StrCat("bad lease ID (", text, "), expecting ID in Hex"));
  return id;
}

uint64_t ParseMemberId(const std::string& text) {
  uint64_t id = 0;
  if (!absl::SimpleHexAtoi(text, &id)) Fail(kExitBadArgs, absl::StrCat("bad member ID arg (", text, "), expecting ID in Hex"));
  return id;
}

std::string ReadAllStdin() {
  std::string all, line;
  while (std::getline(std::cin, line)) all += line + "\n";
  if (!all.empty()) all.pop_back();
  return all;
}

// Blocks until SIGINT or SIGTERM (for lock/elect holders and watch).
void WaitForInterrupt() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  sigwait(&set, &sig);
}

void ApplyRange(const KeyRange& kr, std::string* key, std::string* end) {
  *key = kr.args.empty() ? "" : kr.args[0];
  if (kr.prefix) {
    if (key->empty()) {
      *key = std::string(1, '\0');
      *end = std::string(1, '\0');
    } else {
      *end = PrefixRangeEnd(*key);
    }
  } else if (kr.from_key) {
    if (key->empty()) *key = std::string(1, '\0');
    *end = std::string(1, '\0');
  } else if (kr.args.size() > 1) {
    *end = kr.args[1];
  }
}

}  // namespace keel::client::keelctl
