#include "sim/keelsim/worker_pool.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

extern char** environ;

namespace keel::sim {
namespace {

absl::Status Errno(const char* what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

class Worker {
 public:
  Worker() = default;
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker() { Finish(); }

  bool running() const { return pid_ > 0; }
  bool busy() const { return item_.has_value(); }

  absl::Status Start(const std::vector<std::string>& argv) {
    int in[2], out[2], err[2];
    // O_CLOEXEC: later workers must not inherit these ends, or a worker's stdin would
    // never reach end-of-file and its stdout's end would not mean it died.
    if (pipe2(in, O_CLOEXEC) != 0) return Errno("pipe2");
    if (pipe2(out, O_CLOEXEC) != 0) return Errno("pipe2");
    if (pipe2(err, O_CLOEXEC) != 0) return Errno("pipe2");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t defaults;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);  // the parent ignores SIGPIPE; a worker must not
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, args[0], &actions, &attr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    ::close(in[0]);
    ::close(out[1]);
    ::close(err[1]);
    if (rc != 0) {
      ::close(in[1]);
      ::close(out[0]);
      ::close(err[0]);
      return absl::InternalError(absl::StrCat("cannot start worker ", argv[0], ": ", std::strerror(rc)));
    }
    pid_ = pid;
    in_fd_ = in[1];
    out_fd_ = out[0];
    err_fd_ = err[0];
    out_buffer_.clear();
    err_tail_.clear();
    return absl::OkStatus();
  }

  void Assign(size_t item, const std::string& text) {
    item_ = item;
    const std::string line = absl::StrCat(text, "\n");
    // A short line into an empty pipe: written whole, or the worker is gone (EPIPE), which
    // its stdout's end-of-file reports.
    (void)!::write(in_fd_, line.data(), line.size());
  }

  // Two entries: stdout, then stderr (fd -1 once closed, which poll skips).
  void AddPollFds(std::vector<pollfd>* fds) const {
    fds->push_back({out_fd_, POLLIN, 0});
    fds->push_back({err_fd_, POLLIN, 0});
  }

  // Consumes what poll reported ready. Returns the answered item and its line, or the
  // crashed item and why, once one is complete; nullopt otherwise. Sets *error on a
  // protocol violation.
  std::optional<std::pair<size_t, WorkerOutcome>> Read(bool out_ready, bool err_ready,
                                                       size_t stderr_tail_bytes,
                                                       absl::Status* error) {
    if (err_ready && err_fd_ >= 0) DrainStderr(stderr_tail_bytes, /*to_eof=*/false);
    if (!out_ready) return std::nullopt;
    char buf[65536];
    const ssize_t n = ::read(out_fd_, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) return std::nullopt;
      *error = Errno("read from worker");
      return std::nullopt;
    }
    if (n == 0) return Exited(stderr_tail_bytes);
    out_buffer_.append(buf, static_cast<size_t>(n));
    const size_t newline = out_buffer_.find('\n');
    if (newline == std::string::npos) {
      if (out_buffer_.size() > kMaxLineBytes) *error = absl::InternalError("worker answer too long");
      return std::nullopt;
    }
    if (!item_.has_value() || newline + 1 != out_buffer_.size()) {
      *error = absl::InternalError("worker answered an item it was not given");
      return std::nullopt;
    }
    WorkerOutcome outcome;
    outcome.line = out_buffer_.substr(0, newline);
    out_buffer_.clear();
    const size_t item = *item_;
    item_.reset();
    return std::make_pair(item, std::move(outcome));
  }

  // Idle workers exit on end-of-file; a busy one (when the pool is abandoned) is killed.
  void Finish() {
    if (!running()) return;
    if (busy()) ::kill(pid_, SIGKILL);
    CloseAll();
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    item_.reset();
  }

 private:
  void CloseAll() {
    for (int* fd : {&in_fd_, &out_fd_, &err_fd_}) {
      if (*fd >= 0) ::close(*fd);
      *fd = -1;
    }
  }

  void DrainStderr(size_t tail_bytes, bool to_eof) {
    char buf[4096];
    for (;;) {
      pollfd p{err_fd_, POLLIN, 0};
      if (!to_eof && ::poll(&p, 1, 0) <= 0) return;
      const ssize_t n = ::read(err_fd_, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ::close(err_fd_);
        err_fd_ = -1;
        return;
      }
      err_tail_.append(buf, static_cast<size_t>(n));
      if (err_tail_.size() > tail_bytes) err_tail_.erase(0, err_tail_.size() - tail_bytes);
    }
  }

  std::optional<std::pair<size_t, WorkerOutcome>> Exited(size_t tail_bytes) {
    if (err_fd_ >= 0) DrainStderr(tail_bytes, /*to_eof=*/true);  // the worker is gone
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    CloseAll();
    if (!item_.has_value()) return std::nullopt;  // exited between items: just replace it
    WorkerOutcome outcome;
    outcome.crashed = true;
    if (WIFSIGNALED(status)) {
      outcome.crash = absl::StrCat("killed by signal ", WTERMSIG(status), " (",
                                   strsignal(WTERMSIG(status)), ")");
    } else {
      outcome.crash = absl::StrCat("exited with status ", WEXITSTATUS(status), " without a result");
    }
    // The last non-empty line of stderr: where an aborting check says what it found.
    std::vector<absl::string_view> lines = absl::StrSplit(err_tail_, '\n', absl::SkipWhitespace());
    if (!lines.empty()) absl::StrAppend(&outcome.crash, ": ", absl::StripAsciiWhitespace(lines.back()));
    const size_t item = *item_;
    item_.reset();
    return std::make_pair(item, std::move(outcome));
  }

  pid_t pid_ = -1;
  int in_fd_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::optional<size_t> item_;
  std::string out_buffer_;
  std::string err_tail_;
};

}  // namespace

absl::Status RunInWorkers(const WorkerPoolOptions& options, const std::vector<std::string>& items,
                          absl::FunctionRef<bool(const std::string& item, const WorkerOutcome&)>
                              on_outcome) {
  if (options.argv.empty() || options.workers < 1) {
    return absl::InvalidArgumentError("a worker pool needs a command and at least one worker");
  }
  // Writing an item to a worker that just died must not kill the sweep.
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction previous {};
  sigaction(SIGPIPE, &ignore, &previous);

  std::vector<Worker> workers(static_cast<size_t>(options.workers));
  size_t next = 0;
  bool handing_out = true;
  absl::Status status;
  // Bounded: every pass either hands out an item, or waits for and consumes output from a
  // busy worker (an answer or a death, each finishing one item); it ends when no worker
  // is busy and nothing is left to hand out.
  while (status.ok()) {
    for (Worker& w : workers) {
      if (!handing_out || next >= items.size() || w.busy()) continue;
      if (!w.running()) {
        status = w.Start(options.argv);
        if (!status.ok()) break;
      }
      w.Assign(next, items[next]);
      ++next;
    }
    if (!status.ok()) break;
    std::vector<pollfd> fds;
    std::vector<Worker*> owner;  // owner[k] polls fds[2k] (stdout) and fds[2k+1] (stderr)
    for (Worker& w : workers) {
      if (!w.busy()) continue;
      w.AddPollFds(&fds);
      owner.push_back(&w);
    }
    if (owner.empty()) break;
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      status = Errno("poll");
      break;
    }
    for (size_t k = 0; k < owner.size() && status.ok(); ++k) {
      const bool out_ready = fds[2 * k].revents != 0;
      const bool err_ready = fds[2 * k + 1].revents != 0;
      if (!out_ready && !err_ready) continue;
      std::optional<std::pair<size_t, WorkerOutcome>> done =
          owner[k]->Read(out_ready, err_ready, options.stderr_tail_bytes, &status);
      if (done.has_value() && !on_outcome(items[done->first], done->second)) handing_out = false;
    }
  }
  for (Worker& w : workers) w.Finish();
  sigaction(SIGPIPE, &previous, nullptr);
  return status;
}

}  // namespace keel::sim
