#include "node/auth_crypto_pool.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <cstdio>

#include "absl/status/status.h"

namespace keel::node {
namespace {

// getentropy(3): at most 256 bytes per call, from the kernel's CSPRNG. Failing here means
// the kernel cannot give randomness at all; keeld stops rather than mint weak secrets.
std::string OsRandomBytes(size_t n) {
  std::string out(n, '\0');
  if (n > 256 || getentropy(out.data(), n) != 0) {
    std::fprintf(stderr, "keeld: getentropy failed\n");
    std::abort();
  }
  return out;
}

absl::Status QueueFull() { return absl::ResourceExhaustedError("etcdserver: too many requests"); }

}  // namespace

AuthCryptoPool::AuthCryptoPool(env::Loop* loop, int bcrypt_cost, int threads)
    : loop_(loop), cost_(bcrypt_cost) {
  for (int i = 0; i < threads; ++i) workers_.emplace_back([this] { Work(); });
}

AuthCryptoPool::~AuthCryptoPool() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : workers_) t.join();
}

bool AuthCryptoPool::Submit(Job job) {
  absl::MutexLock lock(&mu_);
  if (stopping_ || queue_.size() >= kMaxQueued) return false;
  queue_.push_back(std::move(job));
  return true;
}

void AuthCryptoPool::Work() {
  for (;;) {
    Job job;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](AuthCryptoPool* p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->mu_) {
            return p->stopping_ || !p->queue_.empty();
          },
          this));
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    loop_->Post(std::move(job)());
  }
}

void AuthCryptoPool::Hash(std::string password, HashDone done) {
  // `done` is moved into the job only if it is accepted; a refused job answers at once.
  auto shared_done = std::make_shared<HashDone>(std::move(done));
  const bool queued = Submit([this, password = std::move(password), shared_done]() mutable {
    absl::StatusOr<std::string> hash =
        server::BcryptHash(password, cost_, OsRandomBytes(server::kBcryptSaltBytes));
    return absl::AnyInvocable<void() &&>([shared_done, hash = std::move(hash)]() mutable {
      std::move (*shared_done)(std::move(hash));
    });
  });
  if (!queued) std::move (*shared_done)(QueueFull());
}

void AuthCryptoPool::Check(std::string hash, std::string password, CheckDone done) {
  auto shared_done = std::make_shared<CheckDone>(std::move(done));
  const bool queued = Submit(
      [hash = std::move(hash), password = std::move(password), shared_done]() mutable {
        const bool matches = server::BcryptMatches(hash, password);
        return absl::AnyInvocable<void() &&>(
            [shared_done, matches]() mutable { std::move (*shared_done)(matches); });
      });
  // Refused: the caller hears a failed check, i.e. "authentication failed" (the pool is
  // saturated by password checks; etcd would make this caller wait instead).
  if (!queued) std::move (*shared_done)(false);
}

std::string AuthCryptoPool::NewTokenPrefix() {
  std::string prefix;
  // Bounded: each byte yields a letter with probability 208/256.
  for (int round = 0; round < 64 && prefix.size() < server::kSimpleTokenPrefixLength; ++round) {
    prefix += server::TokenPrefixFromBytes(OsRandomBytes(server::kSimpleTokenPrefixLength));
  }
  prefix.resize(std::min(prefix.size(), server::kSimpleTokenPrefixLength));
  return prefix;
}

}  // namespace keel::node
