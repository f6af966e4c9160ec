#include "raft/config.h"

#include <cstdint>
#include <limits>

#include "raft/entry_util.h"

namespace keel::raft {

absl::Status ValidateConfig(Config* c) {
  if (c->id == kNone) return absl::InvalidArgumentError("raft config: id must not be 0");
  if (c->heartbeat_tick <= 0) {
    return absl::InvalidArgumentError("raft config: heartbeat_tick must be > 0");
  }
  if (c->election_tick <= c->heartbeat_tick) {
    return absl::InvalidArgumentError("raft config: election_tick must be > heartbeat_tick");
  }
  // int64 arithmetic: election_tick may be large, and the bound must not overflow.
  const int64_t max_ticks = c->election_tick_max == 0 ? int64_t{2} * c->election_tick
                                                       : int64_t{c->election_tick_max};
  if (max_ticks < c->election_tick ||
      max_ticks > int64_t{kMaxElectionTickSpread} * c->election_tick ||
      max_ticks > std::numeric_limits<int>::max()) {
    return absl::InvalidArgumentError(
        "raft config: election_tick_max must be 0 or in [election_tick, 100*election_tick]");
  }
  c->election_tick_max = static_cast<int>(max_ticks);
  if (c->storage == nullptr) return absl::InvalidArgumentError("raft config: storage is null");
  if (c->random == nullptr) {
    return absl::InvalidArgumentError("raft config: random source is null");
  }
  if (c->max_inflight_msgs <= 0) {
    return absl::InvalidArgumentError("raft config: max_inflight_msgs must be > 0");
  }
  if (c->max_uncommitted_entries_size == 0) c->max_uncommitted_entries_size = kNoLimit;
  if (c->max_committed_size_per_ready == 0) {
    c->max_committed_size_per_ready = c->max_size_per_msg;
  }
  if (c->max_inflight_bytes == 0) {
    c->max_inflight_bytes = kNoLimit;
  } else if (c->max_inflight_bytes < c->max_size_per_msg) {
    return absl::InvalidArgumentError(
        "raft config: max_inflight_bytes must be >= max_size_per_msg");
  }
  if (c->read_only_option == ReadOnlyOption::kLeaseBased && !c->check_quorum) {
    return absl::InvalidArgumentError(
        "raft config: check_quorum must be enabled when read_only_option is kLeaseBased");
  }
  return absl::OkStatus();
}

}  // namespace keel::raft
