// Events per second through the simulated world. Run with -c opt:
//   bazel run -c opt //sim:sim_benchmark
#include <memory>
#include <string>

#include "benchmark/benchmark.h"
#include "sim/network.h"
#include "sim/node_loop.h"
#include "sim/random_workload.h"
#include "sim/world.h"

namespace keel::sim {
namespace {

// The bare queue: schedule a batch at random times, run it. No trace records.
void BM_WorldScheduleAndStep(benchmark::State& state) {
  const int64_t batch = state.range(0);
  World world(1);
  env::Rng rng = world.NewRng("bench");
  int64_t sink = 0;
  for (auto _ : state) {
    for (int64_t i = 0; i < batch; ++i) {
      world.ScheduleAfter(static_cast<int64_t>(rng.Uniform(1'000'000)), [&sink] { ++sink; });
    }
    world.RunUntilIdle(static_cast<size_t>(batch));
  }
  benchmark::DoNotOptimize(sink);
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_WorldScheduleAndStep)->Arg(1'000)->Arg(100'000);

// Node timers that re-arm themselves: one trace record and one world event per fire.
void BM_NodeLoopTimers(benchmark::State& state) {
  World world(1);
  NodeLoop loop(&world, 1, ClockConfig{0, 1'050'000});
  env::Rng rng = world.NewRng("bench");
  struct Rearm {
    NodeLoop* loop;
    env::Rng* rng;
    void operator()() const { loop->RunAfter(1 + rng->Uniform(1'000'000), Rearm{loop, rng}); }
  };
  for (int i = 0; i < 100; ++i) Rearm{&loop, &rng}();
  for (auto _ : state) world.RunUntilIdle(10'000);
  state.SetItemsProcessed(state.iterations() * 10'000);
}
BENCHMARK(BM_NodeLoopTimers);

// Messages bouncing between two nodes: send, schedule, arrive, post, handle.
class Bouncer : public env::TransportHandler {
 public:
  explicit Bouncer(env::Transport* transport) : transport_(transport) {}
  void OnMessage(uint64_t from, std::string payload) override {
    ++handled;
    transport_->Send(from, std::move(payload));
  }
  uint64_t handled = 0;

 private:
  env::Transport* transport_;
};

void BM_NetworkPingPong(benchmark::State& state) {
  World world(1);
  SimNetwork network(&world, NetworkOptions{}, world.NewRng("net"));
  NodeLoop a_loop(&world, 1, ClockConfig{}), b_loop(&world, 2, ClockConfig{});
  std::unique_ptr<SimTransport> a = network.Attach(&a_loop), b = network.Attach(&b_loop);
  Bouncer a_handler(a.get()), b_handler(b.get());
  a->SetHandler(&a_handler);
  b->SetHandler(&b_handler);
  a->AddPeer(2, "b");
  b->AddPeer(1, "a");
  for (int i = 0; i < 64; ++i) a->Send(2, std::string(100, 'x'));
  for (auto _ : state) world.RunUntilIdle(10'000);
  state.SetItemsProcessed(static_cast<int64_t>(network.counters().delivered));
  b.reset();
  a.reset();
}
BENCHMARK(BM_NetworkPingPong);

// The whole faulty three-node world of the determinism test: events and simulated
// seconds per wall-clock second.
void BM_RandomWorkload(benchmark::State& state) {
  uint64_t events = 0;
  uint64_t seed = 1;
  for (auto _ : state) events += RunRandomWorkload(seed++, 2'000'000'000, nullptr).events;
  state.SetItemsProcessed(static_cast<int64_t>(events));
  state.counters["sim_s/s"] =
      benchmark::Counter(2.0 * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_RandomWorkload)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace keel::sim
