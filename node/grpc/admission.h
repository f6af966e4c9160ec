// Backpressure at the gRPC edge: a bound on the unary calls handed to the member's Loop and
// not yet answered. Past it a call is refused at once, on the gRPC thread, with etcd's
// ResourceExhausted "etcdserver: too many requests" (counted by the metrics interceptor
// as grpc_server_handled_total{grpc_code="ResourceExhausted"}), instead of growing the
// Loop's posted queue toward its abort bound (env/posix_loop.h).
//
// One counter per process: keeld runs one member per process. Lock-free: one atomic
// increment per call and one decrement when its answer is given.
#ifndef KEEL_NODE_GRPC_ADMISSION_H_
#define KEEL_NODE_GRPC_ADMISSION_H_

#include <atomic>
#include <cstdint>
#include <optional>
#include <utility>

#include "grpcpp/grpcpp.h"

namespace keel::node {

inline constexpr char kTooManyRequestsMessage[] = "etcdserver: too many requests";

class UnaryAdmission {
 public:
  // Far below the Loop's posted-queue bound (1 << 20). Sized so that the calls waiting
  // get answered well within etcd's request timeout (5 s + 2 election timeouts) at a few
  // thousand puts/s, instead of timing out with an unknown outcome.
  static constexpr int64_t kDefaultMaxInFlight = 4096;

  // Holds one admitted call; gives the slot back when destroyed (the call was answered,
  // or its callback was dropped). Move-only.
  class Ticket {
   public:
    explicit Ticket(UnaryAdmission* owner) : owner_(owner) {}
    Ticket(Ticket&& other) noexcept : owner_(std::exchange(other.owner_, nullptr)) {}
    Ticket& operator=(Ticket&&) = delete;
    Ticket(const Ticket&) = delete;
    ~Ticket() {
      if (owner_ != nullptr) owner_->in_flight_.fetch_sub(1, std::memory_order_relaxed);
    }

   private:
    UnaryAdmission* owner_;
  };

  explicit UnaryAdmission(int64_t max_in_flight) : max_in_flight_(max_in_flight) {}

  static UnaryAdmission& Global() {
    static UnaryAdmission admission(kDefaultMaxInFlight);
    return admission;
  }

  std::optional<Ticket> TryAdmit() {
    if (in_flight_.fetch_add(1, std::memory_order_relaxed) >= max_in_flight_) {
      in_flight_.fetch_sub(1, std::memory_order_relaxed);
      refused_.fetch_add(1, std::memory_order_relaxed);
      return std::nullopt;
    }
    return Ticket(this);
  }

  int64_t in_flight() const { return in_flight_.load(std::memory_order_relaxed); }
  uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }

 private:
  const int64_t max_in_flight_;
  std::atomic<int64_t> in_flight_{0};
  std::atomic<uint64_t> refused_{0};
};

inline grpc::Status TooManyRequestsStatus() {
  return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, kTooManyRequestsMessage);
}

}  // namespace keel::node

#endif  // KEEL_NODE_GRPC_ADMISSION_H_
