#include "client/testing/etcd_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/check.h"
#include "client/endpoint.h"
#include "grpcpp/client_context.h"

namespace keel::client::testing {

namespace {

bool CanConnect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

std::string TempRoot() {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string templ = absl::StrCat(base != nullptr ? base : "/tmp", "/etcd-cluster-XXXXXX");
  KEEL_CHECK(::mkdtemp(templ.data()) != nullptr);
  return templ;
}

}  // namespace

absl::StatusOr<std::unique_ptr<EtcdCluster>> EtcdCluster::Start(int size, std::string binary,
                                                                absl::Duration ready_timeout) {
  KEEL_CHECK(size >= 1 && size <= 7);
  std::unique_ptr<EtcdCluster> cluster(new EtcdCluster());
  // `bazel test --test_env=KEEL_CLIENT_TEST_SERVER=/abs/path/keeld` runs the same tests
  // against keeld (it takes etcd's flags).
  const char* override_binary = std::getenv("KEEL_CLIENT_TEST_SERVER");
  if (binary == "etcd" && override_binary != nullptr && *override_binary != '\0') binary = override_binary;
  cluster->binary_ = std::move(binary);
  cluster->root_dir_ = TempRoot();
  std::vector<std::string> peers;
  for (int i = 0; i < size; ++i) {
    Member m;
    m.name = absl::StrCat("m", i);
    m.client_port = PickFreePort();
    m.peer_port = PickFreePort();
    peers.push_back(absl::StrCat(m.name, "=http://127.0.0.1:", m.peer_port));
    cluster->members_.push_back(m);
  }
  cluster->initial_cluster_ = absl::StrJoin(peers, ",");
  for (int i = 0; i < size; ++i) {
    absl::Status s = cluster->Spawn(i, /*existing=*/false);
    if (!s.ok()) return s;
  }
  for (int i = 0; i < size; ++i) {
    absl::Status s = cluster->WaitListening(i, ready_timeout);
    if (s.ok()) s = cluster->WaitServing(i, ready_timeout);
    if (!s.ok()) return s;
  }
  return cluster;
}

absl::Status EtcdCluster::Spawn(int i, bool existing) {
  Member& m = members_[i];
  std::string client_url = absl::StrCat("http://127.0.0.1:", m.client_port);
  std::string peer_url = absl::StrCat("http://127.0.0.1:", m.peer_port);
  std::vector<std::string> args = {
      binary_,
      "--name", m.name,
      "--data-dir", absl::StrCat(root_dir_, "/", m.name),
      "--listen-client-urls", client_url,
      "--advertise-client-urls", client_url,
      "--listen-peer-urls", peer_url,
      "--initial-advertise-peer-urls", peer_url,
      "--initial-cluster", initial_cluster_,
      "--initial-cluster-state", existing ? "existing" : "new",
      "--heartbeat-interval", "50",
      "--election-timeout", "500",
  };
  std::string log_path = absl::StrCat(root_dir_, "/", m.name, ".log");
  pid_t pid = ::fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    std::_Exit(127);
  }
  m.pid = pid;
  return absl::OkStatus();
}

absl::Status EtcdCluster::WaitListening(int i, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    int status = 0;
    if (::waitpid(members_[i].pid, &status, WNOHANG) == members_[i].pid) {
      members_[i].pid = -1;
      return absl::FailedPreconditionError(absl::StrCat(
          binary_, " member ", i, " exited early (is it on PATH?); log in ", root_dir_));
    }
    if (CanConnect(members_[i].client_port)) return absl::OkStatus();
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::DeadlineExceededError(absl::StrCat("member ", i, " did not listen in time"));
}

namespace {
absl::StatusOr<etcdserverpb::StatusResponse> QueryStatus(const std::string& address) {
  auto endpoint = MakeEndpoint(address);
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
  etcdserverpb::StatusResponse response;
  grpc::Status s = endpoint->maintenance->Status(&ctx, {}, &response);
  if (!s.ok()) return absl::UnavailableError(s.error_message());
  return response;
}
}  // namespace

absl::Status EtcdCluster::WaitServing(int i, absl::Duration timeout) const {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    auto status = QueryStatus(ClientAddress(i));
    if (status.ok() && status->leader() != 0) return absl::OkStatus();
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::DeadlineExceededError(absl::StrCat("member ", i, " did not serve in time"));
}

uint64_t EtcdCluster::MemberIdOf(int i, absl::Duration timeout) const {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    auto status = QueryStatus(ClientAddress(i));
    if (status.ok()) return status->header().member_id();
    absl::SleepFor(absl::Milliseconds(50));
  }
  return 0;
}

absl::StatusOr<int> EtcdCluster::LeaderIndex(absl::Duration timeout) const {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    uint64_t agreed = 0;
    bool all_agree = true;
    for (int i = 0; i < size() && all_agree; ++i) {
      if (members_[i].pid <= 0) continue;
      auto status = QueryStatus(ClientAddress(i));
      if (!status.ok() || status->leader() == 0 || (agreed != 0 && status->leader() != agreed)) {
        all_agree = false;
      } else {
        agreed = status->leader();
      }
    }
    if (all_agree && agreed != 0) {
      for (int i = 0; i < size(); ++i) {
        if (members_[i].pid > 0 && MemberIdOf(i, absl::Seconds(1)) == agreed) return i;
      }
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::DeadlineExceededError("no agreed leader");
}

EtcdCluster::~EtcdCluster() {
  for (int i = 0; i < size(); ++i) Kill(i);
  std::error_code ignored;
  std::filesystem::remove_all(root_dir_, ignored);
}

std::string EtcdCluster::ClientAddress(int i) const {
  return absl::StrCat("127.0.0.1:", members_[i].client_port);
}

std::vector<std::string> EtcdCluster::ClientAddresses() const {
  std::vector<std::string> out;
  for (int i = 0; i < size(); ++i) out.push_back(ClientAddress(i));
  return out;
}

void EtcdCluster::Kill(int i) {
  if (members_[i].pid <= 0) return;
  ::kill(members_[i].pid, SIGKILL);
  ::kill(members_[i].pid, SIGCONT);  // a paused process must run to die
  ::waitpid(members_[i].pid, nullptr, 0);
  members_[i].pid = -1;
}

void EtcdCluster::Pause(int i) {
  if (members_[i].pid > 0) ::kill(members_[i].pid, SIGSTOP);
}

void EtcdCluster::Continue(int i) {
  if (members_[i].pid > 0) ::kill(members_[i].pid, SIGCONT);
}

absl::Status EtcdCluster::Restart(int i) {
  KEEL_CHECK(members_[i].pid <= 0);
  absl::Status s = Spawn(i, /*existing=*/true);
  if (s.ok()) s = WaitListening(i, absl::Seconds(30));
  if (s.ok()) s = WaitServing(i, absl::Seconds(30));
  return s;
}

}  // namespace keel::client::testing
