// keeld: an etcd-compatible member. Flags are etcd 3.4's (see keeld_flags.h); exit codes:
// 0 after a graceful stop (SIGTERM/SIGINT), 1 for bad flags, a busy port, a locked or
// corrupt data directory, or a fatal storage error while running.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "node/keeld.h"
#include "node/keeld_flags.h"
#include "node/version_stamp.h"  // KEEL_GIT_SHA (genrule :version_stamp)

#if defined(__x86_64__)
#define KEEL_ARCH "amd64"  // Go's GOARCH names, as etcd prints them
#elif defined(__aarch64__)
#define KEEL_ARCH "arm64"
#else
#define KEEL_ARCH "unknown"
#endif

namespace {

// etcd's `--version` lines (etcd Version / Git SHA / Go Version / Go OS/Arch), for keeld.
constexpr char kVersion[] =
    "keeld Version: 0.1.0\n"
    "etcd API Version: 3.4\n"
    "Git SHA: " KEEL_GIT_SHA "\n"
    "C++ Compiler: " __VERSION__ "\n"
    "OS/Arch: linux/" KEEL_ARCH;

// The first fatal error reported by the server core (on its Loop); read by main.
absl::Mutex fatal_mu;
absl::Status fatal_status ABSL_GUARDED_BY(fatal_mu);

void OnFatal(const absl::Status& status) {
  {
    absl::MutexLock lock(&fatal_mu);
    if (fatal_status.ok()) fatal_status = status;
  }
  // Wakes main's sigwait; SIGUSR1 is blocked in every thread, so nothing else sees it.
  kill(getpid(), SIGUSR1);
}

// --config-file: the whole file (etcd reads it with ioutil.ReadFile; Go's error wording).
absl::StatusOr<std::string> ReadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("open ", path, ": no such file or directory"));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "keeld: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
#ifdef NDEBUG
  // Debian builds Abseil without NDEBUG, so every absl::Mutex operation also maintains a
  // global lock-order graph (3% of a -c opt leader's CPU under load). Debug and test builds
  // keep the check; an optimized server skips it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif
  std::vector<std::string> args(argv + 1, argv + argc);
  keel::node::FlagSources sources;
  for (char** entry = environ; *entry != nullptr; ++entry) sources.environ.emplace_back(*entry);
  sources.read_file = ReadConfigFile;
  absl::StatusOr<keel::node::KeeldConfig> config = keel::node::ParseKeeldFlags(args, sources);
  if (!config.ok()) return Fail(std::string(config.status().message()));
  for (const std::string& line : config->notices) std::fprintf(stderr, "keeld: %s\n", line.c_str());
  for (const std::string& line : config->warnings) {
    std::fprintf(stderr, "keeld: WARNING: %s\n", line.c_str());
  }
  if (config->help) {
    std::fputs(keel::node::KeeldUsage().c_str(), stdout);
    return 0;
  }
  if (config->version) {
    std::printf("%s\n", kVersion);
    return 0;
  }

  // Block the stop signals before any thread exists, so every thread inherits the mask and
  // only main's sigwait receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  // A peer or client closing a socket mid-write must not kill the process.
  std::signal(SIGPIPE, SIG_IGN);

  absl::StatusOr<std::unique_ptr<keel::node::Keeld>> keeld =
      keel::node::Keeld::Start(*config, OnFatal);
  if (!keeld.ok()) return Fail(std::string(keeld.status().message()));
  if (config->log_level <= keel::node::LogLevel::kInfo) {
    std::fprintf(stderr, "keeld: member %s serving clients on %s\n", config->server.name.c_str(),
                 config->listen_client_urls[0].ToString().c_str());
  }

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  (*keeld)->Shutdown();
  absl::MutexLock lock(&fatal_mu);
  if (!fatal_status.ok()) {
    return Fail("stopped after a fatal storage error: " + std::string(fatal_status.message()));
  }
  if (config->log_level <= keel::node::LogLevel::kInfo) {
    std::fprintf(stderr, "keeld: stopped on signal %d\n", signal_number);
  }
  return 0;
}
