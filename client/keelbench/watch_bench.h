// Watch fan-out and watch latency: S streams x W watchers over K keys, then P puts; every
// event's latency is measured from the moment its put was issued to its arrival on a stream.
// Streams are few (tens), so each gets a thread with gRPC's sync API; the puts go through
// the async unary driver.
#ifndef KEEL_CLIENT_KEELBENCH_WATCH_BENCH_H_
#define KEEL_CLIENT_KEELBENCH_WATCH_BENCH_H_

#include <memory>
#include <string>
#include <vector>

#include "client/endpoint.h"

namespace keel::client::keelbench {

struct WatchRun {
  int streams = 10;
  int watchers_per_stream = 10;
  int watched_keys = 1;
  int64_t put_total = 1000;
  double put_rate_per_s = 0;
  int put_clients = 1;
  int val_size = 8;
  std::string key_prefix = "watchbench/";
  bool progress = false;
};

// Prints the creation, put and event summaries to stdout. Returns 0 when every expected
// event arrived.
int RunWatchBench(const WatchRun& run, const std::vector<std::unique_ptr<Endpoint>>& conns);

}  // namespace keel::client::keelbench

#endif  // KEEL_CLIENT_KEELBENCH_WATCH_BENCH_H_
