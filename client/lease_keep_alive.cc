#include "client/lease_keep_alive.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace keel::client {

std::unique_ptr<LeaseKeepAlive> LeaseKeepAlive::Start(Client* client, int64_t lease_id,
                                                      int64_t ttl_seconds, OnResponse on_response) {
  std::unique_ptr<LeaseKeepAlive> k(
      new LeaseKeepAlive(client, lease_id, ttl_seconds, std::move(on_response)));
  k->thread_ = std::thread([raw = k.get()] { raw->Run(); });
  return k;
}

LeaseKeepAlive::LeaseKeepAlive(Client* client, int64_t lease_id, int64_t ttl_seconds,
                               OnResponse on_response)
    : client_(client),
      lease_id_(lease_id),
      period_(std::max(absl::Milliseconds(500), absl::Seconds(std::max<int64_t>(ttl_seconds, 1)) / 3)),
      ttl_(absl::Seconds(std::max<int64_t>(ttl_seconds, 1))),
      on_response_(std::move(on_response)) {}

LeaseKeepAlive::~LeaseKeepAlive() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

bool LeaseKeepAlive::Stopping() const {
  absl::MutexLock lock(&mu_);
  return stop_ || !status_.ok();
}

absl::Status LeaseKeepAlive::status() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

int64_t LeaseKeepAlive::responses() const {
  absl::MutexLock lock(&mu_);
  return responses_;
}

absl::Status LeaseKeepAlive::WaitDone(absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(
                           +[](const absl::Status* s) { return !s->ok(); }, &status_),
                       timeout);
  return status_;
}

void LeaseKeepAlive::Run() {
  // One refresh per period through LeaseKeepAliveOnce, which opens a short stream on the
  // preferred endpoint and fails over on its own. Simpler than a long-lived stream and it
  // costs one extra round trip per period, which at TTL/3 is nothing.
  absl::Time last_success = absl::Now();
  while (!Stopping()) {
    auto response = client_->LeaseKeepAliveOnce(lease_id_);
    absl::Time now = absl::Now();
    if (response.ok()) {
      last_success = now;
      if (on_response_) on_response_(*response);
      absl::MutexLock lock(&mu_);
      ++responses_;
    } else if (response.status().code() == absl::StatusCode::kNotFound) {
      absl::MutexLock lock(&mu_);
      status_ = response.status();
      return;
    } else if (now - last_success > ttl_) {
      absl::MutexLock lock(&mu_);
      status_ = absl::UnavailableError(
          absl::StrCat("lease keep-alive failed for longer than its TTL: ", response.status().message()));
      return;
    }
    // Sleep one period (shorter after a failure), waking early on stop.
    absl::Duration wait = response.ok() ? period_ : std::min(period_, absl::Milliseconds(200));
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&stop_), wait);
  }
}

}  // namespace keel::client
