// The client against real etcd 3.4 processes: KV and Txn, watch resume across a member's
// death, compaction during a resume, lease keep-alive, failover, and outcome-unknown writes.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "client/error_kind.h"
#include "client/lease_keep_alive.h"
#include "client/testing/etcd_cluster.h"
#include "client/watcher.h"
#include "gtest/gtest.h"

namespace keel::client {
namespace {

using testing::EtcdCluster;

std::unique_ptr<EtcdCluster> StartCluster(int size) {
  auto cluster = EtcdCluster::Start(size);
  EXPECT_TRUE(cluster.ok()) << cluster.status();
  return cluster.ok() ? std::move(*cluster) : nullptr;
}

std::unique_ptr<Client> Connect(std::vector<std::string> endpoints, bool discover_leader = true,
                                absl::Duration command_timeout = absl::Seconds(5)) {
  auto client = Client::Create({.endpoints = std::move(endpoints),
                                .dial_timeout = absl::Seconds(2),
                                .command_timeout = command_timeout,
                                .discover_leader = discover_leader});
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? std::move(*client) : nullptr;
}

TEST(ClientEtcd, PutGetDeleteAndTxnBranches) {
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  auto client = Connect(cluster->ClientAddresses());
  ASSERT_NE(client, nullptr);

  auto put = client->Put("k", "v1");
  ASSERT_TRUE(put.ok()) << put.status();
  auto get = client->Get("k");
  ASSERT_TRUE(get.ok()) << get.status();
  ASSERT_EQ(get->kvs_size(), 1);
  EXPECT_EQ(get->kvs(0).value(), "v1");
  EXPECT_EQ(get->kvs(0).mod_revision(), put->header().revision());

  auto txn = client->Txn()
                 .If(Compare::Value("k") == "v1")
                 .Then(Op::Put("k", "v2"))
                 .Else(Op::Get("k"))
                 .Commit();
  ASSERT_TRUE(txn.ok()) << txn.status();
  EXPECT_TRUE(txn->succeeded());
  auto failed = client->Txn()
                    .If(Compare::Value("k") == "v1")
                    .Then(Op::Put("k", "never"))
                    .Else(Op::Get("k"))
                    .Commit();
  ASSERT_TRUE(failed.ok()) << failed.status();
  EXPECT_FALSE(failed->succeeded());
  ASSERT_EQ(failed->responses_size(), 1);
  EXPECT_EQ(failed->responses(0).response_range().kvs(0).value(), "v2");

  auto del = client->Delete("k");
  ASSERT_TRUE(del.ok()) << del.status();
  EXPECT_EQ(del->deleted(), 1);
  auto gone = client->Get("k");
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(gone->kvs_size(), 0);

  // Server errors arrive with etcd's code and message.
  auto dup = client->Txn().Then({Op::Put("d", "1"), Op::Put("d", "2")}).Commit();
  EXPECT_EQ(dup.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(dup.status().message(), "etcdserver: duplicate key given in txn request");
}

TEST(ClientEtcd, WatchResumesAfterWatchedMemberIsKilledAndRestarted) {
  auto cluster = StartCluster(3);
  ASSERT_NE(cluster, nullptr);
  // The watcher's client prefers a follower (no discovery); the writer talks to the leader,
  // so killing the watched member never makes a write's outcome unknown.
  auto leader = cluster->LeaderIndex();
  ASSERT_TRUE(leader.ok()) << leader.status();
  const int watched = (*leader + 1) % 3;
  std::vector<std::string> order = {cluster->ClientAddress(watched), cluster->ClientAddress(*leader)};
  auto watch_client = Connect(order, /*discover_leader=*/false);
  auto writer = Connect({cluster->ClientAddress(*leader)}, /*discover_leader=*/false);
  ASSERT_NE(watch_client, nullptr);
  ASSERT_NE(writer, nullptr);
  ASSERT_EQ(watch_client->PreferredEndpoint()->address, cluster->ClientAddress(watched));

  auto watcher = Watcher::Create(watch_client.get(), {.key = "w/", .range_end = PrefixRangeEnd("w/")});
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  constexpr int kBefore = 3, kWhileDown = 5;
  for (int i = 0; i < kBefore; ++i) ASSERT_TRUE(writer->Put(absl::StrCat("w/", i), "x").ok());
  std::vector<std::string> seen;
  int64_t last_revision = 0;
  // Bounded: each Next() returns at least one event.
  while (static_cast<int>(seen.size()) < kBefore) {
    auto r = (*watcher)->Next();
    ASSERT_TRUE(r.ok()) << r.status();
    for (const auto& e : r->events()) seen.push_back(e.kv().key());
  }
  cluster->Kill(watched);
  for (int i = kBefore; i < kBefore + kWhileDown; ++i) {
    auto put = writer->Put(absl::StrCat("w/", i), "x");
    ASSERT_TRUE(put.ok()) << put.status();
    last_revision = put->header().revision();
  }
  ASSERT_TRUE(cluster->Restart(watched).ok());
  while (static_cast<int>(seen.size()) < kBefore + kWhileDown) {
    auto r = (*watcher)->Next();
    ASSERT_TRUE(r.ok()) << r.status();
    for (const auto& e : r->events()) seen.push_back(e.kv().key());
  }
  // Every event exactly once, in order, and the watch really did reconnect.
  ASSERT_EQ(seen.size(), static_cast<size_t>(kBefore + kWhileDown));
  for (int i = 0; i < kBefore + kWhileDown; ++i) EXPECT_EQ(seen[i], absl::StrCat("w/", i));
  EXPECT_GE((*watcher)->resume_count(), 1);
  EXPECT_EQ((*watcher)->next_revision(), last_revision + 1);
}

TEST(ClientEtcd, WatchResumeIntoCompactedHistoryFailsClearly) {
  auto cluster = StartCluster(3);
  ASSERT_NE(cluster, nullptr);
  auto leader = cluster->LeaderIndex();
  ASSERT_TRUE(leader.ok()) << leader.status();
  const int watched = (*leader + 1) % 3;
  auto watch_client = Connect({cluster->ClientAddress(watched), cluster->ClientAddress(*leader)},
                              /*discover_leader=*/false);
  auto writer = Connect({cluster->ClientAddress(*leader)}, /*discover_leader=*/false);
  ASSERT_NE(watch_client, nullptr);
  ASSERT_NE(writer, nullptr);
  auto watcher = Watcher::Create(watch_client.get(), {.key = "c"});
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  ASSERT_TRUE(writer->Put("c", "1").ok());
  ASSERT_TRUE((*watcher)->Next().ok());
  cluster->Kill(watched);
  ASSERT_TRUE(writer->Put("c", "2").ok());
  auto last = writer->Put("c", "3");
  ASSERT_TRUE(last.ok());
  ASSERT_TRUE(writer->Compact(last->header().revision()).ok());
  auto r = (*watcher)->Next();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kOutOfRange) << r.status();
  EXPECT_NE(r.status().message().find("required revision has been compacted"), std::string::npos);

  // The same error for a watch created on a compacted revision (etcd confirms the creation,
  // then cancels with the compact revision).
  auto old = Watcher::Create(writer.get(), {.key = "c", .start_revision = 1});
  ASSERT_TRUE(old.ok()) << old.status();
  auto first = (*old)->Next();
  EXPECT_EQ(first.status().code(), absl::StatusCode::kOutOfRange) << first.status();
}

TEST(ClientEtcd, LeaseKeepAliveHoldsTheKeyUntilStopped) {
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  auto client = Connect(cluster->ClientAddresses());
  ASSERT_NE(client, nullptr);
  auto grant = client->LeaseGrant(2);
  ASSERT_TRUE(grant.ok()) << grant.status();
  ASSERT_TRUE(client->Put("leased", "v", grant->id()).ok());
  {
    auto keeper = LeaseKeepAlive::Start(client.get(), grant->id(), grant->ttl());
    // Three TTLs: without refreshes the key would be gone.
    EXPECT_TRUE(keeper->WaitDone(absl::Seconds(6)).ok());
    EXPECT_TRUE(keeper->status().ok()) << keeper->status();
    EXPECT_GE(keeper->responses(), 3);
    auto still = client->Get("leased");
    ASSERT_TRUE(still.ok());
    EXPECT_EQ(still->kvs_size(), 1);
  }
  auto ttl = client->LeaseTimeToLive(grant->id(), /*keys=*/true);
  ASSERT_TRUE(ttl.ok()) << ttl.status();
  EXPECT_EQ(ttl->keys_size(), 1);
  // A revoked lease stops its keep-alive with NOT_FOUND.
  auto keeper = LeaseKeepAlive::Start(client.get(), grant->id(), grant->ttl());
  ASSERT_TRUE(client->LeaseRevoke(grant->id()).ok());
  absl::Status done = keeper->WaitDone(absl::Seconds(5));
  EXPECT_EQ(done.code(), absl::StatusCode::kNotFound) << done;
  auto gone = client->Get("leased");
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(gone->kvs_size(), 0);
  EXPECT_EQ(client->LeaseKeepAliveOnce(grant->id()).status().code(), absl::StatusCode::kNotFound);
}

TEST(ClientEtcd, FailsOverWhenAnEndpointIsDown) {
  auto cluster = StartCluster(3);
  ASSERT_NE(cluster, nullptr);
  auto leader = cluster->LeaderIndex();
  ASSERT_TRUE(leader.ok()) << leader.status();
  const int first = (*leader + 1) % 3, second = (*leader + 2) % 3;
  cluster->Kill(first);
  // The first endpoint listed is dead: Create and every call must move on.
  auto client = Connect({cluster->ClientAddress(first), cluster->ClientAddress(second),
                         cluster->ClientAddress(*leader)},
                        /*discover_leader=*/false);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Put("f", "1").ok());
  // Now kill the (follower) member the client is using; reads and writes continue elsewhere.
  std::string used = client->PreferredEndpoint()->address;
  ASSERT_EQ(used, cluster->ClientAddress(second));
  ASSERT_TRUE(cluster->Restart(first).ok());
  cluster->Kill(second);
  auto get = client->Get("f");
  ASSERT_TRUE(get.ok()) << get.status();
  EXPECT_EQ(get->kvs(0).value(), "1");
  EXPECT_NE(client->PreferredEndpoint()->address, used);
  auto put = client->Put("f", "2");
  ASSERT_TRUE(put.ok()) << put.status();
}

TEST(ClientEtcd, DiscoversTheLeaderListedOrNot) {
  auto cluster = StartCluster(3);
  ASSERT_NE(cluster, nullptr);
  auto leader = cluster->LeaderIndex();
  ASSERT_TRUE(leader.ok()) << leader.status();
  const int follower = (*leader + 1) % 3;
  // Listed: the leader's endpoint becomes preferred although it is listed last.
  auto all = Connect({cluster->ClientAddress(follower), cluster->ClientAddress(*leader)});
  ASSERT_NE(all, nullptr);
  EXPECT_EQ(all->PreferredEndpoint()->address, cluster->ClientAddress(*leader));
  // Unlisted: found through MemberList's client URLs and added to the rotation.
  auto one = Connect({cluster->ClientAddress(follower)});
  ASSERT_NE(one, nullptr);
  EXPECT_EQ(one->PreferredEndpoint()->address, cluster->ClientAddress(*leader));
  EXPECT_EQ(one->EndpointAddresses().size(), 2u);
}

TEST(ClientEtcd, WriteWithoutQuorumIsOutcomeUnknownNotRetried) {
  auto cluster = StartCluster(3);
  ASSERT_NE(cluster, nullptr);
  auto client = Connect({cluster->ClientAddress(0)}, /*discover_leader=*/false,
                        /*command_timeout=*/absl::Seconds(2));
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Put("u", "0").ok());
  cluster->Pause(1);
  cluster->Pause(2);
  auto put = client->Put("u", "1");
  EXPECT_TRUE(IsOutcomeUnknown(put.status())) << put.status();
  // A read that cannot complete is a plain failure, not "unknown".
  auto get = client->Get("u");
  EXPECT_FALSE(get.ok());
  EXPECT_FALSE(IsOutcomeUnknown(get.status())) << get.status();
  cluster->Continue(1);
  cluster->Continue(2);
  // Once quorum is back the value is whatever the cluster decided: one write at most.
  absl::StatusOr<etcdserverpb::RangeResponse> after;
  for (int i = 0; i < 50; ++i) {
    after = client->Get("u");
    if (after.ok()) break;
  }
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_LE(after->kvs(0).version(), 2);
}

}  // namespace
}  // namespace keel::client
