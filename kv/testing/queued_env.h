// A leveldb::Env whose background work runs only when the owner says so, on the owner's
// thread: Schedule() queues, Drain() runs the queue until it is empty. Wired into
// BackendOptions::after_db_call, it makes LevelDB's compactions happen at the same points of
// every replay, which is what the simulator needs (DESIGN.md) and what the determinism test
// checks. A stand-in for the simulator's own Env adapter.
#ifndef KEEL_KV_TESTING_QUEUED_ENV_H_
#define KEEL_KV_TESTING_QUEUED_ENV_H_

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <utility>

#include "leveldb/env.h"

namespace keel::kv::testing {

class QueuedEnv : public leveldb::EnvWrapper {
 public:
  QueuedEnv() : leveldb::EnvWrapper(leveldb::Env::Default()) {}

  void Schedule(void (*function)(void*), void* arg) override {
    queue_.emplace_back(function, arg);
  }

  // Runs queued work, including work it schedules, until none is left. Must not be called
  // while LevelDB holds its mutex (i.e. only between DB calls).
  void Drain() {
    // One compaction schedules at most the next one; 10000 rounds means a bug.
    for (int round = 0; round < 10000 && !queue_.empty(); ++round) {
      auto [function, arg] = queue_.front();
      queue_.pop_front();
      function(arg);
      ++ran_;
    }
    if (!queue_.empty()) {
      std::fprintf(stderr, "QueuedEnv: background work does not converge\n");
      std::abort();
    }
  }

  // Background jobs (flushes, compactions) run so far.
  int64_t ran() const { return ran_; }

 private:
  int64_t ran_ = 0;
  std::deque<std::pair<void (*)(void*), void*>> queue_;
};

}  // namespace keel::kv::testing

#endif  // KEEL_KV_TESTING_QUEUED_ENV_H_
