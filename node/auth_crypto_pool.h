// keeld's server::AuthCrypto: bcrypt on a small pool of worker threads, so that neither the
// member's Loop nor a gRPC thread spends the ~50-100 ms a cost-10 hash takes. Randomness
// (salts, token prefixes) comes from the OS (getentropy), not from the Env's seeded Rng:
// a token is a bearer credential and must not be predictable from earlier ones.
//
// Bounded: at most kMaxQueued jobs wait; beyond that a job fails at once with etcd's
// "etcdserver: too many requests". Results are posted to the Loop. Destroying the pool
// joins the workers; jobs still queued are dropped with their callbacks unrun (the calls
// then end "etcdserver: server stopped", as every call cut short by shutdown).
#ifndef KEEL_NODE_AUTH_CRYPTO_POOL_H_
#define KEEL_NODE_AUTH_CRYPTO_POOL_H_

#include <deque>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "env/env.h"
#include "server/auth_crypto.h"

namespace keel::node {

class AuthCryptoPool final : public server::AuthCrypto {
 public:
  static constexpr size_t kMaxQueued = 64;
  // `loop` outlives the pool.
  AuthCryptoPool(env::Loop* loop, int bcrypt_cost, int threads = 2);
  ~AuthCryptoPool() override;

  void Hash(std::string password, HashDone done) override;
  void Check(std::string hash, std::string password, CheckDone done) override;
  std::string NewTokenPrefix() override;

 private:
  // Runs on a worker; returns what to run on the Loop.
  using Job = absl::AnyInvocable<absl::AnyInvocable<void() &&>() &&>;
  // False if the queue is full.
  bool Submit(Job job);
  void Work();

  env::Loop* const loop_;
  const int cost_;
  absl::Mutex mu_;
  std::deque<Job> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
};

}  // namespace keel::node

#endif  // KEEL_NODE_AUTH_CRYPTO_POOL_H_
