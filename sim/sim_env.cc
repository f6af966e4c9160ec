#include "sim/sim_env.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "base/check.h"

namespace keel::sim {

absl::StatusOr<std::unique_ptr<SimEnv>> SimEnv::Create(World* world, SimNetwork* network,
                                                       uint64_t node_id,
                                                       SimEnvOptions options) {
  KEEL_CHECK(world != nullptr && network != nullptr);
  if (node_id == kWorldNode) {
    return absl::InvalidArgumentError("node id 0 is reserved for the world");
  }
  if (options.clock.rate_ppm < NodeLoop::kMinRatePpm ||
      options.clock.rate_ppm > NodeLoop::kMaxRatePpm) {
    return absl::InvalidArgumentError(
        absl::StrCat("clock rate_ppm out of range: ", options.clock.rate_ppm));
  }
  std::unique_ptr<SimEnv> env(new SimEnv(world, node_id));
  env->loop_ = std::make_unique<NodeLoop>(world, node_id, options.clock);
  env->disk_ = std::make_unique<SimDisk>(world, env->loop_.get(), options.disk,
                                         world->NewRng(absl::StrCat("disk.n", node_id)));
  env->fs_.push_back(std::make_unique<ProcessFileSystem>(env->disk_.get()));
  env->transport_ = network->Attach(env->loop_.get());
  return env;
}

SimEnv::~SimEnv() {
  transport_.reset();
  fs_.clear();
  disk_.reset();
  loop_.reset();
}

env::Rng SimEnv::NewRng(std::string_view purpose) {
  return world_->NewRng(absl::StrCat("node.", node_id_, ".inc.", loop_->incarnation()))
      .Stream(purpose);
}

void SimEnv::Crash() {
  loop_->Crash();
  disk_->Crash();
  KEEL_CHECK(fs_.size() < kMaxIncarnations);
  fs_.push_back(std::make_unique<ProcessFileSystem>(disk_.get()));
  transport_->ClearHandler();
}

void SimEnv::Restart() { loop_->Restart(); }

}  // namespace keel::sim
