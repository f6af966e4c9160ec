// The only source of randomness Raft needs: the randomized election timeout.
//
// raft/ must stay pure (no <random>, no env/), so the caller injects this interface. In
// keeld and keelsim it wraps a keel::env::Rng stream; tests use SplitMix64Source below.
// Same seed in, same elections out: that is what makes a simulation replayable.
#ifndef KEEL_RAFT_RANDOM_SOURCE_H_
#define KEEL_RAFT_RANDOM_SOURCE_H_

#include <cstdint>

namespace keel::raft {

class RandomSource {
 public:
  virtual ~RandomSource() = default;
  // A uniformly distributed value in [0, n). Requires n > 0.
  virtual uint64_t Uniform(uint64_t n) = 0;
};

// A small deterministic generator (SplitMix64) for tests, tools and benchmarks. Modulo
// bias is irrelevant for election timeouts (n is a few dozen at most).
class SplitMix64Source final : public RandomSource {
 public:
  explicit SplitMix64Source(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint64_t Uniform(uint64_t n) override { return Next() % n; }

 private:
  uint64_t state_;
};

}  // namespace keel::raft

#endif  // KEEL_RAFT_RANDOM_SOURCE_H_
