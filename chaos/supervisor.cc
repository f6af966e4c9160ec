#include "chaos/supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace keel::chaos {

namespace {

// Bounded: a 5-member cluster plus replacements uses a handful of slots.
constexpr int kMaxChildren = 64;
std::atomic<pid_t> g_children[kMaxChildren];

void OnFatalSignal(int signo) {
  KillAllChildren();
  ::_exit(128 + signo);
}

void KillAllAtExit() { KillAllChildren(); }

bool Track(pid_t pid) {
  for (auto& slot : g_children) {
    pid_t empty = 0;
    if (slot.compare_exchange_strong(empty, pid)) return true;
  }
  return false;
}

void Untrack(pid_t pid) {
  for (auto& slot : g_children) {
    pid_t expected = pid;
    slot.compare_exchange_strong(expected, 0);
  }
}

}  // namespace

void InstallChildReaper() {
  struct sigaction sa {};
  sa.sa_handler = OnFatalSignal;
  sigemptyset(&sa.sa_mask);
  for (int signo : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(signo, &sa, nullptr);
  std::atexit(KillAllAtExit);
}

absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv, const std::string& log_path,
                            const std::vector<std::string>& extra_env) {
  if (argv.empty()) return absl::InvalidArgumentError("empty argv");
  // Everything the child needs is prepared before fork: only async-signal-safe calls after.
  std::vector<std::string> args = argv;
  std::vector<char*> cargv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  std::vector<std::string> env = extra_env;
  std::vector<char*> cenv;
  for (auto& e : env) cenv.push_back(e.data());
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) cenv.push_back(*e);
  cenv.push_back(nullptr);  // getenv takes the first match: extra_env wins
  const pid_t parent = ::getpid();
  // Block the fatal signals across fork so a signal cannot land between fork and Track
  // (the child would then be missed by KillAllChildren).
  sigset_t block, old;
  sigemptyset(&block);
  for (int signo : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&block, signo);
  ::pthread_sigmask(SIG_BLOCK, &block, &old);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // keelchaos died before prctl took effect
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int signo : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(signo, &dfl, nullptr);
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    const int in = ::open("/dev/null", O_RDONLY);
    const int out = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in >= 0) ::dup2(in, 0);
    if (out >= 0) {
      ::dup2(out, 1);
      ::dup2(out, 2);
    }
    ::execve(cargv[0], cargv.data(), cenv.data());
    ::_exit(127);
  }
  if (pid < 0) {
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return absl::InternalError("fork failed");
  }
  const bool tracked = Track(pid);
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (!tracked) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return absl::ResourceExhaustedError(absl::StrCat("more than ", kMaxChildren, " children"));
  }
  return pid;
}

void KillChild(pid_t pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGKILL);
  ::kill(pid, SIGCONT);
  ::waitpid(pid, nullptr, 0);
  Untrack(pid);
}

bool ChildExited(pid_t pid, int* wait_status) {
  if (pid <= 0) return true;
  int status = 0;
  if (::waitpid(pid, &status, WNOHANG) != pid) return false;
  if (wait_status != nullptr) *wait_status = status;
  Untrack(pid);
  return true;
}

void KillAllChildren() {
  for (auto& slot : g_children) {
    const pid_t pid = slot.load();
    if (pid <= 0) continue;
    ::kill(pid, SIGKILL);
    ::kill(pid, SIGCONT);
  }
  for (auto& slot : g_children) {
    const pid_t pid = slot.exchange(0);
    if (pid > 0) ::waitpid(pid, nullptr, 0);
  }
}

}  // namespace keel::chaos
