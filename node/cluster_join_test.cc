// The joining member's question and the checks on the answer: which peers are asked, how
// the answer is read, and etcd's validation of --initial-cluster against the running
// cluster (server/membership.h Membership::Join).
#include "node/cluster_join.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "env/posix_loop.h"
#include "env/tcp_transport.h"
#include "gtest/gtest.h"
#include "server/membership.h"

namespace keel::node {
namespace {

using server::ExistingCluster;
using server::Membership;
using server::PeerConfig;

std::vector<PeerConfig> FourMembers() {
  return {{"n1", {"http://127.0.0.1:1001"}},
          {"n2", {"http://127.0.0.1:1002"}},
          {"n3", {"http://127.0.0.1:1003"}},
          {"n4", {"http://127.0.0.1:1004"}}};
}

// What the running cluster says after `member add n4`: n4 has an ID, no name yet.
ExistingCluster RunningCluster() {
  ExistingCluster c;
  c.cluster_id = 0xc1;
  c.members = {{0x11, "n1", {"http://127.0.0.1:1001"}, {"http://127.0.0.1:2001"}, false},
               {0x22, "n2", {"http://127.0.0.1:1002"}, {"http://127.0.0.1:2002"}, false},
               {0x33, "n3", {"http://127.0.0.1:1003"}, {"http://127.0.0.1:2003"}, false},
               {0x44, "", {"http://127.0.0.1:1004"}, {}, false}};
  return c;
}

TEST(RemotePeerUrlsTest, EveryOtherMembersUrlsOnce) {
  std::vector<PeerConfig> cluster = FourMembers();
  cluster[1].peer_urls.push_back("http://127.0.0.1:1001");  // a duplicate
  EXPECT_EQ(RemotePeerUrls(cluster, "n4"),
            (std::vector<std::string>{"http://127.0.0.1:1001", "http://127.0.0.1:1002",
                                      "http://127.0.0.1:1003"}));
  EXPECT_TRUE(RemotePeerUrls({{"n4", {"http://127.0.0.1:1004"}}}, "n4").empty());
}

TEST(ParseMembersAnswerTest, ReadsAMemberListAndRefusesAnythingElse) {
  EXPECT_EQ(ParseMembersAnswer("").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ParseMembersAnswer("\xff\xff garbage").status().code(),
            absl::StatusCode::kUnavailable);
  etcdserverpb::MemberListResponse no_id;
  no_id.add_members()->set_id(1);
  EXPECT_FALSE(ParseMembersAnswer(no_id.SerializeAsString()).ok());
  etcdserverpb::MemberListResponse r;
  r.mutable_header()->set_cluster_id(0xc1);
  etcdserverpb::Member* m = r.add_members();
  m->set_id(0x44);
  m->add_peerurls("http://127.0.0.1:1004");
  m->set_islearner(true);
  absl::StatusOr<ExistingCluster> c = ParseMembersAnswer(r.SerializeAsString());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->cluster_id, 0xc1u);
  ASSERT_EQ(c->members.size(), 1u);
  EXPECT_EQ(c->members[0].id, 0x44u);
  EXPECT_TRUE(c->members[0].is_learner);
  EXPECT_EQ(c->members[0].peer_urls, std::vector<std::string>{"http://127.0.0.1:1004"});
}

// A port bound but not listening: connecting is refused.
struct DeadPort {
  DeadPort() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr = {};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    url = absl::StrCat("http://127.0.0.1:", ntohs(addr.sin_port));
  }
  ~DeadPort() { ::close(fd); }
  int fd;
  std::string url;
};

TEST(FetchExistingClusterTest, SkipsDeadPeersAndTakesTheFirstAnswer) {
  auto loop = *env::PosixLoop::Create();
  env::TcpTransport::Options options;
  options.self_id = 0x22;
  auto alive = env::TcpTransport::Create(loop.get(), options);
  ASSERT_TRUE(alive.ok()) << alive.status();
  (*alive)->SetQueryHandler([](std::string request, env::TcpTransport::QueryReply reply) {
    etcdserverpb::MemberListResponse r;
    r.mutable_header()->set_cluster_id(request == kMembersQuery ? 0xc1 : 0);
    r.add_members()->set_id(0x22);
    std::move(reply)(r.SerializeAsString());
  });
  DeadPort dead;
  std::vector<PeerConfig> cluster = {{"n1", {dead.url}},
                                     {"n2", {"http://" + (*alive)->listen_address()}},
                                     {"n4", {"http://127.0.0.1:1"}}};
  absl::StatusOr<ExistingCluster> got = FetchExistingCluster(cluster, "n4", 5000);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->cluster_id, 0xc1u);

  absl::StatusOr<ExistingCluster> none = FetchExistingCluster({cluster[0], cluster[2]}, "n4", 5000);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(none.status().message().find("cannot fetch cluster info from peer urls"),
            std::string::npos)
      << none.status();
}

TEST(MembershipJoinTest, TakesTheIdTheClusterGaveAndStartsWithNoMembers) {
  uint64_t id = 0;
  absl::StatusOr<Membership> m =
      Membership::Join(FourMembers(), "n4", {"http://127.0.0.1:1004"}, RunningCluster(), &id);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(id, 0x44u);
  EXPECT_EQ(m->cluster_id(), 0xc1u);
  EXPECT_TRUE(m->List().empty());  // the log or a snapshot brings the members
  EXPECT_TRUE(m->joining());
  ASSERT_EQ(m->join_remotes().size(), 3u);
  EXPECT_EQ(m->join_remotes()[0].id(), 0x11u);
}

TEST(MembershipJoinTest, RefusesWhatEtcdRefuses) {
  uint64_t id = 0;
  auto message = [](const absl::StatusOr<Membership>& m) {
    return std::string(m.status().message());
  };
  // Our name is not in --initial-cluster.
  auto no_name =
      Membership::Join(FourMembers(), "n9", {"http://127.0.0.1:1004"}, RunningCluster(), &id);
  EXPECT_NE(message(no_name).find("couldn't find local name \"n9\""), std::string::npos)
      << message(no_name);
  // Our advertised peer URLs differ from --initial-cluster's.
  auto wrong_url =
      Membership::Join(FourMembers(), "n4", {"http://127.0.0.1:9999"}, RunningCluster(), &id);
  EXPECT_NE(message(wrong_url).find("missing from --initial-advertise-peer-urls"),
            std::string::npos);
  // Joining before `member add`: the running cluster has one member fewer.
  ExistingCluster before_add = RunningCluster();
  before_add.members.pop_back();
  auto unequal =
      Membership::Join(FourMembers(), "n4", {"http://127.0.0.1:1004"}, before_add, &id);
  EXPECT_NE(message(unequal).find("member count is unequal"), std::string::npos)
      << message(unequal);
  // Same count, but a running member's URL is not in --initial-cluster.
  ExistingCluster moved = RunningCluster();
  moved.members[1].peer_urls = {"http://127.0.0.1:7777"};
  auto unmatched = Membership::Join(FourMembers(), "n4", {"http://127.0.0.1:1004"}, moved, &id);
  EXPECT_NE(message(unmatched).find("unmatched member while checking PeerURLs"),
            std::string::npos)
      << message(unmatched);
  // n4 already started once (published its name): a fresh data dir would reuse its ID.
  ExistingCluster started = RunningCluster();
  started.members[3].name = "n4";
  auto again = Membership::Join(FourMembers(), "n4", {"http://127.0.0.1:1004"}, started, &id);
  EXPECT_NE(message(again).find("has already been bootstrapped"), std::string::npos)
      << message(again);
}

}  // namespace
}  // namespace keel::node
