// TimeoutRangeSource: makes RawNode draw election timeouts from [min, max) instead of its
// built-in [election_tick, 2*election_tick).
//
// Why: the Raft paper's Figure 16 uses ranges such as 150-155 ms, whose width is not equal
// to their minimum. RawNode computes timeout = election_tick + random->Uniform(election_tick),
// and RandomSource::Uniform(n) promises "uniform in [0, n)". This source answers with a
// value uniform in [0, span) where span = max - min <= n, which is still inside [0, n), so
// RawNode's arithmetic gives exactly uniform [min, max). It bends the interface's
// "uniform over [0, n)" promise on purpose; the clean fix is a Config field in raft/
// (election_tick_max, see papers/raft-figure16/README.md), which we do not own.
#ifndef KEEL_PAPERS_RAFT_FIGURE16_TIMEOUT_RANGE_SOURCE_H_
#define KEEL_PAPERS_RAFT_FIGURE16_TIMEOUT_RANGE_SOURCE_H_

#include <cassert>
#include <cstdint>

#include "env/rng.h"
#include "raft/random_source.h"

namespace keel::papers {

class TimeoutRangeSource final : public raft::RandomSource {
 public:
  // `min_ticks` must equal the node's Config::election_tick; `span_ticks` = max - min, in
  // [0, min_ticks] (a wider range cannot be expressed on top of RawNode).
  TimeoutRangeSource(env::Rng rng, uint64_t min_ticks, uint64_t span_ticks)
      : rng_(rng), min_ticks_(min_ticks), span_ticks_(span_ticks) {
    assert(min_ticks_ > 0);
    assert(span_ticks_ <= min_ticks_);
  }

  uint64_t Uniform(uint64_t n) override {
    // RawNode only asks for the election-timeout offset; anything else means the contract
    // we rely on changed under us.
    assert(n == min_ticks_);
    const uint64_t v = span_ticks_ == 0 ? 0 : rng_.Uniform(span_ticks_);
    assert(v < n);
    return v;
  }

 private:
  env::Rng rng_;
  const uint64_t min_ticks_;
  const uint64_t span_ticks_;
};

}  // namespace keel::papers

#endif  // KEEL_PAPERS_RAFT_FIGURE16_TIMEOUT_RANGE_SOURCE_H_
