#include "sim/random_workload.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "sim/sim_env.h"

namespace keel::sim {
namespace {

constexpr int kNodes = 3;
constexpr int64_t kMs = 1'000'000;

std::string RandomBytes(env::Rng& rng, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng.Uniform(256));
  return s;
}

// One node's application: ticks at random, sends, appends, syncs, publishes files.
class Agent : public env::TransportHandler {
 public:
  Agent(SimEnv* env, uint64_t id) : env_(env), id_(id), rng_(env->NewRng("agent")) {
    env_->transport()->SetHandler(this);
    for (uint64_t peer = 1; peer <= kNodes; ++peer) {
      if (peer != id_) env_->transport()->AddPeer(peer, "sim");
    }
    (void)env_->fs()->CreateDir("/n");
    OpenWal();
    Arm();
  }

  void OnMessage(uint64_t from, std::string payload) override {
    if (rng_.OneIn(3)) env_->transport()->Send(from, "re:" + payload.substr(0, 8));
  }

 private:
  void OpenWal() {
    auto wal = env_->fs()->NewAppendableFile(absl::StrCat("/n/wal", wal_generation_++));
    wal_ = wal.ok() ? std::move(wal).value() : nullptr;
  }

  void Arm() {
    env_->loop()->RunAfter(rng_.UniformRange(100'000, 5 * kMs), [this] { Tick(); });
  }

  void Tick() {
    switch (rng_.Uniform(5)) {
      case 0:
      case 1: {
        uint64_t peer = 1 + rng_.Uniform(kNodes - 1);
        if (peer >= id_) ++peer;
        env_->transport()->Send(peer, RandomBytes(rng_, rng_.Uniform(64)));
        break;
      }
      case 2:
        if (wal_ != nullptr) {
          wal_->AppendAsync(RandomBytes(rng_, 1 + rng_.Uniform(200)),
                            [this](absl::Status s) { OnWalDone(s); });
        }
        break;
      case 3:
        if (wal_ != nullptr) wal_->SyncAsync([this](absl::Status s) { OnWalDone(s); });
        break;
      default:
        PublishSnapshot();
    }
    Arm();
  }

  void OnWalDone(const absl::Status& s) {
    if (!s.ok() && wal_ != nullptr) OpenWal();  // errors are sticky: start a new file
  }

  // Write, fsync, rename into place, read back: the synchronous path.
  void PublishSnapshot() {
    env::FileSystem* fs = env_->fs();
    auto tmp = fs->NewWritableFile("/n/snap.tmp");
    if (!tmp.ok()) return;
    if (!(*tmp)->Append(RandomBytes(rng_, 1 + rng_.Uniform(500))).ok()) return;
    if (!(*tmp)->Sync().ok()) return;
    if (!fs->Rename("/n/snap.tmp", "/n/snap").ok()) return;
    auto file = fs->NewRandomAccessFile("/n/snap");
    if (!file.ok()) return;
    char scratch[512];
    (void)(*file)->Read(0, sizeof(scratch), scratch);
  }

  SimEnv* const env_;
  const uint64_t id_;
  env::Rng rng_;
  int wal_generation_ = 0;
  std::unique_ptr<env::WritableFile> wal_;
};

// A three-node world plus a chaos schedule on the global queue.
class Harness {
 public:
  explicit Harness(uint64_t seed, std::ostream* json)
      : world_(seed), chaos_(world_.NewRng("chaos")) {
    world_.trace().set_json_sink(json);
    NetworkOptions net;
    net.drop_probability = 0.05;
    net.duplicate_probability = 0.05;
    network_ = std::make_unique<SimNetwork>(&world_, net, world_.NewRng("net"));
    for (uint64_t id = 1; id <= kNodes; ++id) {
      SimEnvOptions options;
      options.clock.offset_ns = chaos_.UniformRange(0, 1'000 * kMs);
      options.clock.rate_ppm = chaos_.UniformRange(900'000, 1'100'000);
      options.disk.faults.read_error_probability = 0.01;
      options.disk.faults.write_error_probability = 0.01;
      options.disk.faults.sync_error_probability = 0.01;
      options.disk.faults.dir_sync_error_probability = 0.01;
      options.disk.faults.read_bit_flip_probability = 0.02;
      options.disk.faults.misdirected_write_probability = 0.005;
      options.disk.faults.slow_sync_probability = 0.05;
      envs_.push_back(std::move(SimEnv::Create(&world_, network_.get(), id, options)).value());
      agents_.push_back(std::make_unique<Agent>(envs_.back().get(), id));
    }
    ScheduleChaos();
  }

  ~Harness() {
    agents_.clear();
    envs_.clear();
  }

  RandomWorkloadResult Run(int64_t duration_ns) {
    world_.RunUntil(duration_ns);
    RandomWorkloadResult result;
    result.trace_hash = world_.trace().HashHex();
    result.records = world_.trace().record_count();
    result.events = world_.events_run();
    for (auto& env : envs_) {
      const DiskCounters& c = env->disk().counters();
      result.disk.read_errors += c.read_errors;
      result.disk.write_errors += c.write_errors;
      result.disk.sync_errors += c.sync_errors;
      result.disk.bit_flips += c.bit_flips;
      result.disk.misdirected_writes += c.misdirected_writes;
      result.disk.torn_writes += c.torn_writes;
      result.disk.syncs += c.syncs;
    }
    result.net = network_->counters();
    result.crashes = crashes_;
    result.pauses = pauses_;
    result.partitions = partitions_;
    return result;
  }

 private:
  void ScheduleChaos() {
    world_.ScheduleAfter(chaos_.UniformRange(1 * kMs, 40 * kMs), [this] {
      Chaos();
      ScheduleChaos();
    });
  }

  void Chaos() {
    const size_t i = chaos_.Uniform(kNodes);
    SimEnv& env = *envs_[i];
    switch (chaos_.Uniform(5)) {
      case 0:
        if (!env.node_loop().up()) return;
        ++crashes_;
        env.Crash();  // first: discards callbacks that point at the agent
        agents_[i].reset();
        world_.ScheduleAfter(chaos_.UniformRange(5 * kMs, 50 * kMs), [this, i] {
          envs_[i]->Restart();
          agents_[i] = std::make_unique<Agent>(envs_[i].get(), i + 1);
        });
        return;
      case 1: {
        if (!env.node_loop().up() || env.node_loop().paused()) return;
        ++pauses_;
        env.node_loop().Pause();
        const uint64_t incarnation = env.node_loop().incarnation();
        world_.ScheduleAfter(chaos_.UniformRange(1 * kMs, 30 * kMs), [this, i, incarnation] {
          NodeLoop& loop = envs_[i]->node_loop();
          if (loop.up() && loop.paused() && loop.incarnation() == incarnation) loop.Resume();
        });
        return;
      }
      case 2:
        ++partitions_;
        switch (chaos_.Uniform(4)) {
          case 0: network_->Isolate(i + 1); break;
          case 1: network_->Split({i + 1, 1 + (i + 1) % kNodes}); break;
          case 2: network_->Block(i + 1, 1 + (i + 1) % kNodes); break;
          default:
            network_->StartFlapping({{i + 1, 1 + (i + 1) % kNodes}}, 3 * kMs, 2 * kMs);
        }
        world_.ScheduleAfter(chaos_.UniformRange(5 * kMs, 60 * kMs), [this] { network_->Heal(); });
        return;
      case 3:
        env.node_loop().SetRatePpm(chaos_.UniformRange(900'000, 1'100'000));
        return;
      default:
        env.node_loop().JumpForward(chaos_.UniformRange(0, 10 * kMs));
    }
  }

  World world_;
  env::Rng chaos_;
  std::unique_ptr<SimNetwork> network_;
  std::vector<std::unique_ptr<SimEnv>> envs_;
  std::vector<std::unique_ptr<Agent>> agents_;
  int crashes_ = 0;
  int pauses_ = 0;
  int partitions_ = 0;
};

}  // namespace

RandomWorkloadResult RunRandomWorkload(uint64_t seed, int64_t duration_ns,
                                       std::ostream* json) {
  Harness harness(seed, json);
  return harness.Run(duration_ns);
}

}  // namespace keel::sim
