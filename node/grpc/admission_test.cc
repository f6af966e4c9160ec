#include "node/grpc/admission.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace keel::node {
namespace {

TEST(UnaryAdmissionTest, RefusesPastTheBoundAndAdmitsAgainOnceAnswered) {
  UnaryAdmission admission(/*max_in_flight=*/2);
  std::optional<UnaryAdmission::Ticket> a = admission.TryAdmit();
  std::optional<UnaryAdmission::Ticket> b = admission.TryAdmit();
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_FALSE(admission.TryAdmit().has_value());
  EXPECT_EQ(admission.refused(), 1u);
  EXPECT_EQ(admission.in_flight(), 2);
  a.reset();  // answered
  EXPECT_EQ(admission.in_flight(), 1);
  EXPECT_TRUE(admission.TryAdmit().has_value());
  EXPECT_EQ(admission.in_flight(), 1);  // that ticket was dropped at once
}

TEST(UnaryAdmissionTest, AMovedTicketReleasesOnce) {
  UnaryAdmission admission(1);
  std::optional<UnaryAdmission::Ticket> a = admission.TryAdmit();
  ASSERT_TRUE(a.has_value());
  {
    UnaryAdmission::Ticket moved = std::move(*a);
    a.reset();  // the moved-from ticket gives nothing back
    EXPECT_EQ(admission.in_flight(), 1);
  }
  EXPECT_EQ(admission.in_flight(), 0);
}

TEST(UnaryAdmissionTest, NeverAdmitsMoreThanTheBoundAcrossThreads) {
  UnaryAdmission admission(8);
  // Counted by the holders themselves: in_flight() may include a refused attempt's
  // transient increment.
  std::atomic<int64_t> held{0};
  std::atomic<int64_t> max_seen{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        std::optional<UnaryAdmission::Ticket> ticket = admission.TryAdmit();
        if (!ticket.has_value()) continue;
        int64_t now = held.fetch_add(1) + 1;
        int64_t seen = max_seen.load();
        while (now > seen && !max_seen.compare_exchange_weak(seen, now)) {
        }
        held.fetch_sub(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_LE(max_seen.load(), 8);
  EXPECT_EQ(admission.in_flight(), 0);
  EXPECT_EQ(TooManyRequestsStatus().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(TooManyRequestsStatus().error_message(), "etcdserver: too many requests");
}

}  // namespace
}  // namespace keel::node
