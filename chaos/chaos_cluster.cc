#include "chaos/chaos_cluster.h"

#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <deque>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "chaos/supervisor.h"
#include "client/testing/free_port.h"
#include "grpcpp/client_context.h"
#include "base/check.h"

namespace keel::chaos {

absl::StatusOr<std::unique_ptr<ChaosCluster>> ChaosCluster::Start(ClusterOptions options) {
  KEEL_CHECK(options.nodes >= 1 && options.nodes <= 7);
  std::unique_ptr<ChaosCluster> cluster(new ChaosCluster(std::move(options)));
  std::error_code ec;
  std::filesystem::create_directories(cluster->options_.work_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", cluster->options_.work_dir));
  std::vector<std::string> peers;
  std::vector<int> listen_ports, target_ports;
  for (int i = 0; i < cluster->options_.nodes; ++i) {
    Member m;
    m.name = absl::StrCat("m", i);
    m.client_port = client::testing::PickFreePort();
    m.peer_port = client::testing::PickFreePort();
    m.proxy_port = client::testing::PickFreePort();
    m.client_proxy_port = client::testing::PickFreePort();
    peers.push_back(absl::StrCat(m.name, "=http://127.0.0.1:", m.proxy_port));
    listen_ports.push_back(m.proxy_port);
    target_ports.push_back(m.peer_port);
    cluster->members_.push_back(std::move(m));
  }
  cluster->initial_cluster_ = absl::StrJoin(peers, ",");
  absl::StatusOr<std::unique_ptr<PeerProxy>> proxy =
      PeerProxy::Start(std::move(listen_ports), std::move(target_ports));
  if (!proxy.ok()) return proxy.status();
  cluster->proxy_ = std::move(*proxy);
  std::vector<int> client_listen, client_targets;
  for (const Member& m : cluster->members_) {
    client_listen.push_back(m.client_proxy_port);
    client_targets.push_back(m.client_port);
  }
  absl::StatusOr<std::unique_ptr<PeerProxy>> client_proxy =
      PeerProxy::Start(std::move(client_listen), std::move(client_targets));
  if (!client_proxy.ok()) return client_proxy.status();
  cluster->client_proxy_ = std::move(*client_proxy);
  for (int i = 0; i < cluster->size(); ++i) {
    if (absl::Status s = cluster->Spawn(i, /*existing=*/false); !s.ok()) return s;
  }
  if (absl::StatusOr<int> leader = cluster->WaitLeader(absl::Seconds(30)); !leader.ok()) {
    return absl::UnavailableError(absl::StrCat("cluster did not elect a leader: ",
                                               leader.status().message(), "; logs in ",
                                               cluster->options_.work_dir));
  }
  return cluster;
}

ChaosCluster::~ChaosCluster() {
  for (int i = 0; i < size(); ++i) Kill(i);
  proxy_.reset();
  client_proxy_.reset();
}

std::vector<std::string> ChaosCluster::Flags(int i, bool existing) const {
  const Member& m = members_[i];
  return {
      options_.binary,
      "--name=" + m.name,
      absl::StrCat("--data-dir=", options_.work_dir, "/", m.name, ".data"),
      absl::StrCat("--listen-client-urls=http://127.0.0.1:", m.client_port),
      absl::StrCat("--advertise-client-urls=http://127.0.0.1:", m.client_proxy_port),
      absl::StrCat("--listen-peer-urls=http://127.0.0.1:", m.peer_port),
      absl::StrCat("--initial-advertise-peer-urls=http://127.0.0.1:", m.proxy_port),
      "--initial-cluster=" + initial_cluster_,
      "--initial-cluster-token=keelchaos",
      std::string("--initial-cluster-state=") + (existing ? "existing" : "new"),
      absl::StrCat("--heartbeat-interval=", options_.heartbeat_ms),
      absl::StrCat("--election-timeout=", options_.election_ms),
  };
}

absl::Status ChaosCluster::Spawn(int i, bool existing) {
  Member& m = members_[i];
  std::vector<std::string> env;
  if (options_.lose_unsynced) {
    env.push_back(absl::StrCat("KEEL_FAILPOINT_LOSE_UNSYNCED=", JournalPath(i)));
  }
  absl::StatusOr<pid_t> pid =
      chaos::Spawn(Flags(i, existing), absl::StrCat(options_.work_dir, "/", m.name, ".log"), env);
  if (!pid.ok()) return pid.status();
  m.pid = *pid;
  m.paused = false;
  proxy_->SetMemberPid(i, m.pid);
  return absl::OkStatus();
}

std::string ChaosCluster::ClientAddress(int i) const {
  return absl::StrCat("127.0.0.1:", members_[i].client_proxy_port);
}

std::vector<std::string> ChaosCluster::ClientAddresses() const {
  std::vector<std::string> out;
  for (int i = 0; i < size(); ++i) out.push_back(ClientAddress(i));
  return out;
}

std::string ChaosCluster::PeerUrl(int i) const {
  return absl::StrCat("http://127.0.0.1:", members_[i].proxy_port);
}

void ChaosCluster::WipeData(int i) {
  KEEL_CHECK(members_[i].pid <= 0);
  std::error_code ignored;
  std::filesystem::remove_all(absl::StrCat(options_.work_dir, "/", name(i), ".data"), ignored);
  std::filesystem::remove(JournalPath(i), ignored);  // it describes the wiped files
}

std::string ChaosCluster::JournalPath(int i) const {
  return absl::StrCat(options_.work_dir, "/", name(i), ".journal");  // outside the data dir
}

void ChaosCluster::Kill(int i) {
  Member& m = members_[i];
  if (m.pid <= 0) return;
  KillChild(m.pid);
  m.pid = -1;
  m.paused = false;
  proxy_->SetMemberPid(i, 0);
}

absl::Status ChaosCluster::Restart(int i) {
  KEEL_CHECK(members_[i].pid <= 0);
  return Spawn(i, /*existing=*/true);
}

void ChaosCluster::Pause(int i) {
  if (members_[i].pid > 0 && ::kill(members_[i].pid, SIGSTOP) == 0) members_[i].paused = true;
}

void ChaosCluster::Continue(int i) {
  if (members_[i].pid > 0) ::kill(members_[i].pid, SIGCONT);
  members_[i].paused = false;
}

// A new channel per call (as client/testing/etcd_cluster.cc does): a long-lived one that
// connected while the member was starting, or was killed, sits in gRPC's reconnect backoff
// (20 s connect timeout) and would make a healthy member look dead.
std::unique_ptr<client::Endpoint> ChaosCluster::FreshEndpoint(int i) const {
  return client::MakeEndpoint(absl::StrCat("127.0.0.1:", members_[i].client_port),
                              ++endpoint_generation_);
}

absl::StatusOr<etcdserverpb::StatusResponse> ChaosCluster::Status(int i) const {
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
  etcdserverpb::StatusResponse response;
  grpc::Status s = FreshEndpoint(i)->maintenance->Status(&ctx, {}, &response);
  if (!s.ok()) return absl::UnavailableError(s.error_message());
  return response;
}

absl::StatusOr<etcdserverpb::HashKVResponse> ChaosCluster::HashKV(int i, int64_t revision) const {
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  etcdserverpb::HashKVRequest request;
  request.set_revision(revision);
  etcdserverpb::HashKVResponse response;
  grpc::Status s = FreshEndpoint(i)->maintenance->HashKV(&ctx, request, &response);
  if (!s.ok()) return absl::UnavailableError(s.error_message());
  return response;
}

absl::StatusOr<int> ChaosCluster::WaitLeader(absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  std::string last = "no member answered";
  while (absl::Now() < deadline) {  // bounded by the deadline
    uint64_t agreed = 0;
    int leader_index = -1;
    bool all_agree = true;
    for (int i = 0; i < size() && all_agree; ++i) {
      if (!Running(i) || Paused(i)) continue;
      absl::StatusOr<etcdserverpb::StatusResponse> status = Status(i);
      if (!status.ok() || status->leader() == 0 || (agreed != 0 && status->leader() != agreed)) {
        last = status.ok() ? absl::StrCat(name(i), " names leader ", status->leader())
                           : absl::StrCat(name(i), ": ", status.status().message());
        all_agree = false;
        continue;
      }
      agreed = status->leader();
      if (status->header().member_id() == agreed) leader_index = i;
    }
    if (all_agree && leader_index >= 0) return leader_index;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::DeadlineExceededError(absl::StrCat("no agreed leader within ", absl::FormatDuration(timeout), " (", last, ")"));
}

std::vector<std::string> ChaosCluster::UnexpectedExits() {
  std::vector<std::string> out;
  for (int i = 0; i < size(); ++i) {
    int status = 0;
    if (members_[i].pid > 0 && ChildExited(members_[i].pid, &status)) {
      members_[i].pid = -1;
      proxy_->SetMemberPid(i, 0);
      out.push_back(absl::StrCat(name(i), " exited on its own (wait status ", status,
                                 "); log tail:\n", LogTail(i, 20)));
    }
  }
  return out;
}

std::string ChaosCluster::LogTail(int i, int lines) const {
  std::ifstream in(absl::StrCat(options_.work_dir, "/", name(i), ".log"));
  std::deque<std::string> tail;
  std::string line;
  for (int n = 0; n < 10'000'000 && std::getline(in, line); ++n) {
    tail.push_back(line);
    if (static_cast<int>(tail.size()) > lines) tail.pop_front();
  }
  return absl::StrJoin(tail, "\n");
}

}  // namespace keel::chaos
