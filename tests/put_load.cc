// A measuring tool, not a test: N client threads each issue sequential Puts (distinct keys,
// 64-byte values) through one gRPC channel and report throughput and latency percentiles.
// Usage: put_load <host:port> [threads=16] [puts_per_thread=200]
// Used to compare keeld with etcd 3.4 on the same machine (numbers in tests/README.md).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "api/etcdserverpb/rpc.grpc.pb.h"
#include "grpcpp/grpcpp.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <host:port> [threads] [puts_per_thread]\n", argv[0]);
    return 2;
  }
  const int threads = argc > 2 ? std::atoi(argv[2]) : 16;
  const int puts_per_thread = argc > 3 ? std::atoi(argv[3]) : 200;
  auto channel = grpc::CreateChannel(argv[1], grpc::InsecureChannelCredentials());
  auto kv = etcdserverpb::KV::NewStub(channel);
  std::vector<std::vector<double>> latencies_ms(threads);
  std::vector<int> failures(threads, 0);
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < puts_per_thread; ++i) {
        etcdserverpb::PutRequest request;
        request.set_key("load/" + std::to_string(t) + "/" + std::to_string(i));
        request.set_value(std::string(64, 'v'));
        etcdserverpb::PutResponse response;
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
        auto begin = std::chrono::steady_clock::now();
        grpc::Status status = kv->Put(&context, request, &response);
        auto end = std::chrono::steady_clock::now();
        if (!status.ok()) ++failures[t];
        latencies_ms[t].push_back(std::chrono::duration<double, std::milli>(end - begin).count());
      }
    });
  }
  for (auto& worker : workers) worker.join();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<double> all;
  int failed = 0;
  for (int t = 0; t < threads; ++t) {
    all.insert(all.end(), latencies_ms[t].begin(), latencies_ms[t].end());
    failed += failures[t];
  }
  std::sort(all.begin(), all.end());
  auto percentile = [&all](double p) { return all[static_cast<size_t>(p * (all.size() - 1))]; };
  std::printf(
      "puts=%zu failed=%d threads=%d seconds=%.2f puts_per_second=%.0f "
      "p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
      all.size(), failed, threads, seconds, all.size() / seconds, percentile(0.5), percentile(0.99),
      all.back());
  return failed == 0 ? 0 : 1;
}
