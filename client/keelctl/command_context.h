// What every keelctl command shares: exit codes, the "Error: <message>" exit, the global
// flags, the lazily created Client, and argument helpers.
#ifndef KEEL_CLIENT_KEELCTL_COMMAND_CONTEXT_H_
#define KEEL_CLIENT_KEELCTL_COMMAND_CONTEXT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "client/client.h"
#include "client/keelctl/printer.h"

namespace keel::client::keelctl {

// etcdctl's exit codes.
inline constexpr int kExitError = 1;
inline constexpr int kExitBadConnection = 2;
inline constexpr int kExitInvalidInput = 3;
inline constexpr int kExitBadFeature = 4;
inline constexpr int kExitBadArgs = 128;

// Prints "Error: <message>" to stderr (after flushing stdout) and exits with `code`.
[[noreturn]] void Fail(int code, absl::string_view message);
// Fail(kExitError | kExitBadFeature for kUnimplemented, message) unless OK.
void FailOn(const absl::Status& s);

struct Globals {
  std::string endpoints = "127.0.0.1:2379";
  std::string dial_timeout = "2s";
  std::string command_timeout = "5s";
  std::string write_out = "simple";
  // etcdctl's TLS flags.
  std::string cacert;
  std::string cert;
  std::string key;
  bool insecure_skip_tls_verify = false;
};

class Context {
 public:
  // Reads `g` only inside command callbacks, after the flags are parsed.
  explicit Context(const Globals& g) : globals_(g) {}
  Format format() const;
  std::vector<std::string> Endpoints() const;
  ClientOptions Options(bool discover) const;
  // The shared client, created on first use; exits like etcdctl when nothing answers.
  Client* client();
  Printer printer(bool value_only = false) const { return Printer(format(), value_only); }

 private:
  const Globals& globals_;
  std::unique_ptr<Client> client_;
};

int64_t ParseLeaseId(const std::string& text);    // hex, as etcdctl prints them
uint64_t ParseMemberId(const std::string& text);  // hex
std::string ReadAllStdin();
// Blocks until SIGINT or SIGTERM (which main blocks for lock/elect).
void WaitForInterrupt();

// A key argument with etcdctl's --prefix / --from-key / [range_end] conventions.
struct KeyRange {
  std::vector<std::string> args;
  bool prefix = false;
  bool from_key = false;
};
void ApplyRange(const KeyRange& kr, std::string* key, std::string* end);

// Command registration, one group per file.
void AddKvCommands(CLI::App& app, Context& ctx);          // get put del txn compaction watch
void AddLeaseCommands(CLI::App& app, Context& ctx);       // lease ...
void AddClusterCommands(CLI::App& app, Context& ctx);     // member, endpoint, move-leader, snapshot
void AddConcurrencyCommands(CLI::App& app, Context& ctx); // lock, elect

}  // namespace keel::client::keelctl

#endif  // KEEL_CLIENT_KEELCTL_COMMAND_CONTEXT_H_
