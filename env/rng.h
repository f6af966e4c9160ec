// A small, fast, deterministic pseudo-random generator with named sub-streams.
//
// Determinism is the point: the same seed gives the same sequence on every machine and
// every build, so a simulation seed replays bit for bit. We therefore avoid <random>'s
// distributions (their algorithms are implementation-defined) and absl's bit generators
// (deliberately salted per process). The generator is xoshiro256** seeded through
// SplitMix64; Uniform() uses Lemire's unbiased multiply-shift rejection.
#ifndef KEEL_ENV_RNG_H_
#define KEEL_ENV_RNG_H_

#include <cstdint>
#include <string_view>

namespace keel::env {

class Rng {
 public:
  explicit Rng(uint64_t seed);

  // An independent stream for `label`, derived from this stream's seed (not its current
  // position): Stream("x") is the same whether called before or after drawing numbers.
  Rng Stream(std::string_view label) const;

  uint64_t seed() const { return seed_; }

  uint64_t Next();
  // Uniform in [0, n). Requires n > 0.
  uint64_t Uniform(uint64_t n);
  // Uniform in [lo, hi] inclusive. Requires lo <= hi.
  int64_t UniformRange(int64_t lo, int64_t hi);
  // Uniform in [0, 1).
  double NextDouble();
  // True with probability p (clamped to [0, 1]).
  bool Chance(double p);
  // True with probability 1/n. Requires n > 0.
  bool OneIn(uint64_t n) { return Uniform(n) == 0; }

 private:
  uint64_t seed_;
  uint64_t s_[4];
};

// Stable 64-bit hash of a label (FNV-1a followed by a SplitMix64 finalizer). Stable across
// builds and platforms, unlike std::hash or absl::Hash.
uint64_t StableHash(std::string_view data);

}  // namespace keel::env

#endif  // KEEL_ENV_RNG_H_
