#include "sim/network.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace keel::sim {
namespace {

struct Received {
  uint64_t from;
  std::string payload;
  int64_t at_ns;
};

class Recorder : public env::TransportHandler {
 public:
  explicit Recorder(World* world) : world_(world) {}
  void OnMessage(uint64_t from, std::string payload) override {
    received.push_back({from, std::move(payload), world_->now_ns()});
  }
  void OnPeerUnreachable(uint64_t peer) override { unreachable.push_back(peer); }

  std::vector<Received> received;
  std::vector<uint64_t> unreachable;

 private:
  World* world_;
};

NetworkOptions Quiet() {
  NetworkOptions options;
  options.delay_min_ns = 1'000;
  options.delay_jitter_ns = 0;
  options.tail_probability = 0;
  return options;
}

// Nodes 1..n, each knowing every other as a peer.
class NetworkTest : public ::testing::Test {
 protected:
  void Build(int n, NetworkOptions options) {
    network_ = std::make_unique<SimNetwork>(&world_, options, world_.NewRng("net"));
    for (int i = 1; i <= n; ++i) {
      auto node = std::make_unique<Node>(&world_, i);
      node->transport = network_->Attach(&node->loop);
      node->transport->SetHandler(&node->recorder);
      for (int j = 1; j <= n; ++j) {
        if (j != i) node->transport->AddPeer(j, "sim");
      }
      nodes_.push_back(std::move(node));
    }
  }

  ~NetworkTest() override {
    for (auto& node : nodes_) node->transport.reset();
  }

  struct Node {
    Node(World* world, uint64_t id) : loop(world, id, ClockConfig{}), recorder(world) {}
    NodeLoop loop;
    Recorder recorder;
    std::unique_ptr<SimTransport> transport;
  };
  Node& node(int id) { return *nodes_[id - 1]; }
  void Send(int from, int to, std::string payload = "m") {
    node(from).transport->Send(to, std::move(payload));
  }
  size_t Got(int id) { return node(id).recorder.received.size(); }

  World world_{7};
  std::unique_ptr<SimNetwork> network_;
  std::vector<std::unique_ptr<Node>> nodes_;
};

TEST_F(NetworkTest, DeliversPayloadAfterLatencyWithinBounds) {
  NetworkOptions options = Quiet();
  options.delay_min_ns = 100;
  options.delay_jitter_ns = 50;
  Build(2, options);
  for (int i = 0; i < 100; ++i) Send(1, 2, "hello" + std::to_string(i));
  world_.RunUntilIdle(10'000);
  ASSERT_EQ(Got(2), 100u);
  for (const Received& r : node(2).recorder.received) {
    EXPECT_EQ(r.from, 1u);
    EXPECT_GE(r.at_ns, 100);
    EXPECT_LE(r.at_ns, 150);
  }
  EXPECT_EQ(network_->counters().delivered, 100u);
  EXPECT_EQ(network_->in_flight(1, 2), 0u);
}

TEST_F(NetworkTest, RandomDelayReordersMessages) {
  NetworkOptions options = Quiet();
  options.delay_jitter_ns = 10'000;
  Build(2, options);
  for (int i = 0; i < 100; ++i) Send(1, 2, std::to_string(i));
  world_.RunUntilIdle(10'000);
  ASSERT_EQ(Got(2), 100u);
  int inversions = 0;
  for (size_t i = 1; i < 100; ++i) {
    inversions += std::stoi(node(2).recorder.received[i].payload) <
                  std::stoi(node(2).recorder.received[i - 1].payload);
  }
  EXPECT_GT(inversions, 10);
}

TEST_F(NetworkTest, TailLatencyStaysWithinItsCap) {
  NetworkOptions options = Quiet();
  options.tail_probability = 1.0;
  options.tail_base_ns = 1'000;
  Build(2, options);
  for (int i = 0; i < 1000; ++i) Send(1, 2);
  world_.RunUntilIdle(10'000);
  int64_t slowest = 0;
  for (const Received& r : node(2).recorder.received) slowest = std::max(slowest, r.at_ns);
  EXPECT_GT(slowest, 1'000 + 1'000 * 16);  // some doubled several times
  EXPECT_LE(slowest, 1'000 + (int64_t{1'000} << 10));
}

TEST_F(NetworkTest, DropRateIsRoughlyAsConfigured) {
  NetworkOptions options = Quiet();
  options.drop_probability = 0.3;
  options.max_in_flight_per_link = 100'000;
  Build(2, options);
  for (int i = 0; i < 10'000; ++i) Send(1, 2);
  world_.RunUntilIdle(100'000);
  EXPECT_GT(Got(2), 6'700u);
  EXPECT_LT(Got(2), 7'300u);
  EXPECT_EQ(Got(2) + network_->counters().dropped_random, 10'000u);
}

TEST_F(NetworkTest, DuplicatesAreDeliveredTwice) {
  NetworkOptions options = Quiet();
  options.duplicate_probability = 1.0;
  Build(2, options);
  Send(1, 2, "once");
  world_.RunUntilIdle(100);
  ASSERT_EQ(Got(2), 2u);
  EXPECT_EQ(node(2).recorder.received[1].payload, "once");
  EXPECT_EQ(network_->counters().duplicated, 1u);
}

TEST_F(NetworkTest, IsolateBlocksEveryLinkOfOneNodeOnly) {
  Build(3, Quiet());
  network_->Isolate(1);
  Send(1, 2);
  Send(2, 1);
  Send(3, 1);
  Send(2, 3);
  Send(3, 2);
  world_.RunUntilIdle(100);
  EXPECT_EQ(Got(1), 0u);
  EXPECT_EQ(Got(2), 1u);
  EXPECT_EQ(Got(3), 1u);
  EXPECT_EQ(network_->counters().dropped_partition, 3u);
}

TEST_F(NetworkTest, SplitBlocksExactlyTheLinksAcrossTheCut) {
  Build(5, Quiet());
  network_->Split({1, 2});
  for (int from = 1; from <= 5; ++from) {
    for (int to = 1; to <= 5; ++to) {
      const bool across = (from <= 2) != (to <= 2);
      if (from != to) {
        EXPECT_EQ(network_->IsBlocked(from, to), across) << from << "->" << to;
      }
    }
  }
  for (int from = 1; from <= 5; ++from) {
    for (int to = 1; to <= 5; ++to) {
      if (from != to) Send(from, to);
    }
  }
  world_.RunUntilIdle(1'000);
  EXPECT_EQ(Got(1), 1u);  // from 2
  EXPECT_EQ(Got(2), 1u);  // from 1
  for (int id = 3; id <= 5; ++id) EXPECT_EQ(Got(id), 2u);
}

TEST_F(NetworkTest, AsymmetricPartitionBlocksOneDirection) {
  Build(2, Quiet());
  network_->Block(1, 2);
  Send(1, 2, "lost");
  Send(2, 1, "arrives");
  world_.RunUntilIdle(100);
  EXPECT_EQ(Got(2), 0u);
  ASSERT_EQ(Got(1), 1u);
  EXPECT_EQ(node(1).recorder.received[0].payload, "arrives");
}

TEST_F(NetworkTest, HealRestoresEveryLinkAndMessagesInFlightAcrossAPartitionAreLost) {
  Build(2, Quiet());
  Send(1, 2, "in-flight");
  world_.RunUntil(500);  // latency is 1'000
  network_->Isolate(2);
  world_.RunUntilIdle(100);
  EXPECT_EQ(Got(2), 0u);
  network_->Heal();
  Send(1, 2, "after-heal");
  Send(2, 1, "after-heal");
  world_.RunUntilIdle(100);
  EXPECT_EQ(Got(1), 1u);
  EXPECT_EQ(Got(2), 1u);
}

TEST_F(NetworkTest, FlappingPartitionTogglesOnSchedule) {
  Build(2, Quiet());  // 1'000 ns latency
  network_->StartFlapping({{1, 2}}, /*blocked_ns=*/10'000, /*open_ns=*/10'000);
  // Blocked in [0, 10'000), open in [10'000, 20'000), blocked in [20'000, 30'000), open
  // in [30'000, 40'000).
  for (int64_t t = 0; t < 40'000; t += 2'000) {
    world_.RunUntil(t);
    Send(1, 2, std::to_string(t));
  }
  world_.RunUntil(45'000);
  std::vector<std::string> got;
  for (const Received& r : node(2).recorder.received) got.push_back(r.payload);
  // Sent at t, arrives at t + 1'000: it needs the link open at both ends of the trip.
  EXPECT_EQ(got, (std::vector<std::string>{"10000", "12000", "14000", "16000", "18000",
                                           "30000", "32000", "34000", "36000", "38000"}));
  network_->Heal();
  world_.RunUntil(100'000);
  EXPECT_FALSE(network_->IsBlocked(1, 2));
  EXPECT_EQ(world_.pending_events(), 0u);
}

TEST_F(NetworkTest, MessagesToACrashedNodeAreDroppedAndToAPausedNodeDeferred) {
  Build(3, Quiet());
  node(2).loop.Crash();
  node(2).transport->ClearHandler();
  node(3).loop.Pause();
  Send(1, 2);
  Send(1, 3, "held");
  world_.RunUntil(1'000'000);
  EXPECT_EQ(Got(2), 0u);
  EXPECT_EQ(Got(3), 0u);
  EXPECT_EQ(network_->counters().dropped_down, 1u);
  EXPECT_EQ(network_->in_flight(1, 3), 1u);  // still holds its link slot
  node(3).loop.Resume();
  world_.RunUntilIdle(100);
  ASSERT_EQ(Got(3), 1u);
  EXPECT_EQ(node(3).recorder.received[0].at_ns, 1'000'000);
  EXPECT_EQ(network_->in_flight(1, 3), 0u);
}

TEST_F(NetworkTest, InFlightIsBoundedPerLinkAndOverflowReportsUnreachable) {
  NetworkOptions options = Quiet();
  options.max_in_flight_per_link = 4;
  Build(3, options);
  for (int i = 0; i < 10; ++i) Send(1, 2);
  Send(1, 3);  // another link is unaffected
  world_.RunUntilIdle(100);
  EXPECT_EQ(Got(2), 4u);
  EXPECT_EQ(Got(3), 1u);
  EXPECT_EQ(network_->counters().dropped_overflow, 6u);
  EXPECT_EQ(node(1).recorder.unreachable, std::vector<uint64_t>(6, 2));
  // Slots are released when messages are handled, or discarded by a crash.
  node(2).loop.Pause();
  for (int i = 0; i < 4; ++i) Send(1, 2);
  world_.RunUntil(world_.now_ns() + 10'000);
  EXPECT_EQ(network_->in_flight(1, 2), 4u);
  node(2).loop.Crash();
  EXPECT_EQ(network_->in_flight(1, 2), 0u);
}

TEST_F(NetworkTest, UnknownPeersAreNotSentTo) {
  Build(2, Quiet());
  node(1).transport->RemovePeer(2);
  Send(1, 2);
  world_.RunUntilIdle(100);
  EXPECT_EQ(Got(2), 0u);
  EXPECT_EQ(network_->counters().sent, 0u);
}

}  // namespace
}  // namespace keel::sim
