// keelbench: etcd's tools/benchmark for Keel (and etcd). Global flags --endpoints --conns
// --clients --target-leader; subcommands put, range, txn-put, watch, watch-latency,
// lease-keepalive. See client/README.md for the report format.
#include <unistd.h>

#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "client/client.h"
#include "client/keelbench/report.h"
#include "client/keelbench/unary_driver.h"
#include "client/keelbench/watch_bench.h"

namespace keel::client::keelbench {
namespace {

struct Globals {
  std::string endpoints = "127.0.0.1:2379";
  int conns = 1;
  int clients = 1;
  bool target_leader = false;
  ClientTls tls;  // etcd benchmark's --cacert/--cert/--key
};

[[noreturn]] void Die(const std::string& message) {
  std::cerr << "keelbench: " << message << "\n";
  std::exit(1);
}

// `conns` channels, dealt round-robin over the endpoints (or all to the leader).
std::vector<std::unique_ptr<Endpoint>> Connect(const Globals& g) {
  std::vector<std::string> endpoints = absl::StrSplit(g.endpoints, ',', absl::SkipEmpty());
  if (endpoints.empty()) Die("no endpoints");
  if (g.target_leader) {
    auto client = Client::Create({.endpoints = endpoints, .tls = g.tls});
    if (!client.ok()) Die(absl::StrCat("cannot connect: ", client.status().message()));
    if (!(*client)->DiscoverLeader().ok()) Die("no leader found");
    endpoints = {(*client)->PreferredEndpoint()->address};
  }
  auto credentials = MakeCredentials(endpoints.front(), g.tls);
  if (!credentials.ok()) Die(std::string(credentials.status().message()));
  std::vector<std::unique_ptr<Endpoint>> conns;
  for (int i = 0; i < std::max(1, g.conns); ++i) {
    conns.push_back(
        MakeEndpoint(endpoints[i % endpoints.size()], /*channel_tag=*/i, *credentials));
    if (!conns.back()->WaitConnected(absl::Now() + absl::Seconds(5))) {
      Die(absl::StrCat("cannot connect to ", conns.back()->address));
    }
  }
  return conns;
}

bool ProgressWanted() { return ::isatty(STDOUT_FILENO) == 1; }

// Fixed-width key for index i: decimal digits right-aligned in key_size bytes.
std::string MakeKey(int64_t i, int key_size) {
  std::string digits = absl::StrCat(i);
  if (static_cast<int>(digits.size()) >= key_size) return digits;
  return std::string(static_cast<size_t>(key_size) - digits.size(), '0') + digits;
}

struct KeyChooser {
  int64_t key_space;
  bool sequential;
  int key_size;
  // Per-call generator: seeded by sequence number so concurrent pollers never share state.
  std::string operator()(int64_t seq, int salt = 0) const {
    if (sequential) return MakeKey((seq + salt) % key_space, key_size);
    std::mt19937_64 rng(static_cast<uint64_t>(seq) * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(salt));
    return MakeKey(static_cast<int64_t>(rng() % static_cast<uint64_t>(key_space)), key_size);
  }
};

int Report(const Recorder& recorder, absl::Duration elapsed) {
  std::cout << recorder.Render("", elapsed);
  return recorder.errors() == 0 ? 0 : 1;
}

void AddPut(CLI::App& app, const Globals& g, int* rc) {
  auto* cmd = app.add_subcommand("put", "Benchmark put");
  auto o = std::make_shared<std::tuple<int64_t, int, int, int64_t, bool, double>>(10000, 8, 8, 1, false, 0);
  cmd->add_option("--total", std::get<0>(*o), "Total number of put requests");
  cmd->add_option("--key-size", std::get<1>(*o), "Key size of put request");
  cmd->add_option("--val-size", std::get<2>(*o), "Value size of put request");
  cmd->add_option("--key-space-size", std::get<3>(*o), "Maximum possible keys");
  cmd->add_flag("--sequential-keys", std::get<4>(*o), "Use sequential keys");
  cmd->add_option("--rate", std::get<5>(*o), "Maximum puts per second (0 is no limit)");
  cmd->callback([o, &g, rc] {
    auto [total, key_size, val_size, key_space, sequential, rate] = *o;
    if (key_space < 1) Die("--key-space-size must be positive");
    auto conns = Connect(g);
    KeyChooser keys{key_space, sequential, key_size};
    std::string value(static_cast<size_t>(val_size), 'v');
    StartFn start = [&](int64_t seq, Endpoint& ep, grpc::CompletionQueue* cq, void* tag) {
      etcdserverpb::PutRequest request;
      request.set_key(keys(seq));
      request.set_value(value);
      return StartTyped<etcdserverpb::PutResponse>(absl::Seconds(30), tag, [&](grpc::ClientContext* ctx) {
        return ep.kv->PrepareAsyncPut(ctx, request, cq);
      });
    };
    Recorder recorder(static_cast<size_t>(total));
    UnaryRun run{.total = total, .clients = g.clients, .rate_per_s = rate, .progress = ProgressWanted()};
    *rc = Report(recorder, RunUnary(run, conns, start, &recorder));
  });
}

void AddRange(CLI::App& app, const Globals& g, int* rc) {
  auto* cmd = app.add_subcommand("range", "Benchmark range");
  auto args = std::make_shared<std::vector<std::string>>();
  auto consistency = std::make_shared<std::string>("l");
  auto total = std::make_shared<int64_t>(10000);
  auto rate = std::make_shared<double>(0);
  cmd->add_option("key", *args, "key [end-range]")->required();
  cmd->add_option("--consistency", *consistency, "Linearizable(l) or Serializable(s)");
  cmd->add_option("--total", *total, "Total number of range requests");
  cmd->add_option("--rate", *rate, "Maximum range requests per second (0 is no limit)");
  cmd->callback([=, &g] {
    if (args->size() > 2) Die("range takes key [end-range]");
    if (*consistency != "l" && *consistency != "s") Die("--consistency must be l or s");
    auto conns = Connect(g);
    etcdserverpb::RangeRequest request;
    request.set_key((*args)[0]);
    if (args->size() == 2) request.set_range_end((*args)[1]);
    request.set_serializable(*consistency == "s");
    StartFn start = [&](int64_t, Endpoint& ep, grpc::CompletionQueue* cq, void* tag) {
      return StartTyped<etcdserverpb::RangeResponse>(absl::Seconds(30), tag, [&](grpc::ClientContext* ctx) {
        return ep.kv->PrepareAsyncRange(ctx, request, cq);
      });
    };
    Recorder recorder(static_cast<size_t>(*total));
    UnaryRun run{.total = *total, .clients = g.clients, .rate_per_s = *rate, .progress = ProgressWanted()};
    *rc = Report(recorder, RunUnary(run, conns, start, &recorder));
  });
}

void AddTxnPut(CLI::App& app, const Globals& g, int* rc) {
  auto* cmd = app.add_subcommand("txn-put", "Benchmark txn-put");
  auto o = std::make_shared<std::tuple<int64_t, int, int, int64_t, int, double>>(10000, 8, 8, 1, 1, 0);
  cmd->add_option("--total", std::get<0>(*o), "Total number of txn requests");
  cmd->add_option("--key-size", std::get<1>(*o), "Key size of txn");
  cmd->add_option("--val-size", std::get<2>(*o), "Value size of txn");
  cmd->add_option("--key-space-size", std::get<3>(*o), "Maximum possible keys");
  cmd->add_option("--txn-ops", std::get<4>(*o), "Number of puts per txn");
  cmd->add_option("--rate", std::get<5>(*o), "Maximum txns per second (0 is no limit)");
  cmd->callback([o, &g, rc] {
    auto [total, key_size, val_size, key_space, txn_ops, rate] = *o;
    if (key_space < txn_ops) Die("--key-space-size must be at least --txn-ops (keys in a txn are distinct)");
    auto conns = Connect(g);
    std::string value(static_cast<size_t>(val_size), 'v');
    StartFn start = [&, key_space = key_space, key_size = key_size, txn_ops = txn_ops](
                        int64_t seq, Endpoint& ep, grpc::CompletionQueue* cq, void* tag) {
      etcdserverpb::TxnRequest request;
      // Consecutive keys from a random base: distinct within the txn, as etcd requires.
      std::mt19937_64 rng(static_cast<uint64_t>(seq) * 0x9E3779B97F4A7C15ull);
      int64_t base = static_cast<int64_t>(rng() % static_cast<uint64_t>(key_space));
      for (int i = 0; i < txn_ops; ++i) {
        auto* put = request.add_success()->mutable_request_put();
        put->set_key(MakeKey((base + i) % key_space, key_size));
        put->set_value(value);
      }
      return StartTyped<etcdserverpb::TxnResponse>(absl::Seconds(30), tag, [&](grpc::ClientContext* ctx) {
        return ep.kv->PrepareAsyncTxn(ctx, request, cq);
      });
    };
    Recorder recorder(static_cast<size_t>(total));
    UnaryRun run{.total = total, .clients = g.clients, .rate_per_s = rate, .progress = ProgressWanted()};
    *rc = Report(recorder, RunUnary(run, conns, start, &recorder));
  });
}

void AddWatch(CLI::App& app, const Globals& g, int* rc, bool latency_mode) {
  auto* cmd = latency_mode ? app.add_subcommand("watch-latency", "Benchmark watch latency")
                           : app.add_subcommand("watch", "Benchmark watch");
  auto run = std::make_shared<WatchRun>();
  if (latency_mode) run->put_rate_per_s = 100;
  cmd->add_option("--streams", run->streams, "Total watch streams");
  cmd->add_option(latency_mode ? "--watchers-per-stream" : "--watch-per-stream", run->watchers_per_stream,
                  "Total watchers per stream");
  if (!latency_mode) cmd->add_option("--watched-key-total", run->watched_keys, "Total number of keys to be watched");
  cmd->add_option("--put-total", run->put_total, "Total number of put requests");
  cmd->add_option("--put-rate", run->put_rate_per_s, "Number of puts per second (0 is no limit)");
  cmd->add_option("--val-size", run->val_size, "Value size of put request");
  cmd->callback([run, &g, rc] {
    auto conns = Connect(g);
    WatchRun r = *run;
    r.put_clients = std::max(1, g.clients);
    r.progress = ProgressWanted();
    *rc = RunWatchBench(r, conns);
  });
}

void AddLeaseKeepAlive(CLI::App& app, const Globals& g, int* rc) {
  auto* cmd = app.add_subcommand("lease-keepalive", "Benchmark lease keepalive");
  auto total = std::make_shared<int64_t>(10000);
  cmd->add_option("--total", *total, "Total number of lease keepalive requests");
  cmd->callback([=, &g] {
    auto conns = Connect(g);
    // Keep-alive is a bidirectional stream; each client owns one, served by its own thread
    // through the sync API, so the client count is capped.
    constexpr int kMaxStreamClients = 64;
    int clients = std::clamp(g.clients, 1, kMaxStreamClients);
    Recorder recorder(static_cast<size_t>(*total));
    std::atomic<int64_t> next{0};
    absl::Time begin = absl::Now();
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c) {
      threads.emplace_back([&, c] {
        Endpoint& ep = *conns[c % conns.size()];
        grpc::ClientContext grant_ctx;
        grant_ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
        etcdserverpb::LeaseGrantRequest grant;
        grant.set_ttl(60);
        etcdserverpb::LeaseGrantResponse granted;
        if (!ep.lease->LeaseGrant(&grant_ctx, grant, &granted).ok()) {
          recorder.Error("lease grant failed");
          return;
        }
        grpc::ClientContext ctx;
        auto stream = ep.lease->LeaseKeepAlive(&ctx);
        etcdserverpb::LeaseKeepAliveRequest request;
        request.set_id(granted.id());
        etcdserverpb::LeaseKeepAliveResponse response;
        while (next.fetch_add(1) < *total) {
          absl::Time start = absl::Now();
          if (stream->Write(request) && stream->Read(&response)) {
            recorder.Success(absl::Now() - start);
          } else {
            recorder.Error("keep-alive stream broken");
            break;
          }
        }
        stream->WritesDone();
        ctx.TryCancel();
        stream->Finish().IgnoreError();
      });
    }
    for (auto& t : threads) t.join();
    *rc = Report(recorder, absl::Now() - begin);
  });
}

int Main(int argc, char** argv) {
  CLI::App app{"keelbench: a low-level benchmark tool for Keel and etcd 3", "keelbench"};
  app.require_subcommand(1);
  app.fallthrough();
  Globals g;
  app.add_option("--endpoints", g.endpoints, "gRPC endpoints");
  app.add_option("--conns", g.conns, "Total number of gRPC connections");
  app.add_option("--cacert", g.tls.ca_file, "Server TLS CA file");
  app.add_option("--cert", g.tls.cert_file, "Identify HTTPS client using this SSL certificate file");
  app.add_option("--key", g.tls.key_file, "Identify HTTPS client using this SSL key file");
  app.add_option("--clients", g.clients, "Total number of gRPC clients");
  app.add_flag("--target-leader", g.target_leader, "Target only the leader");
  int rc = 0;
  AddPut(app, g, &rc);
  AddRange(app, g, &rc);
  AddTxnPut(app, g, &rc);
  AddWatch(app, g, &rc, /*latency_mode=*/false);
  AddWatch(app, g, &rc, /*latency_mode=*/true);
  AddLeaseKeepAlive(app, g, &rc);
  CLI11_PARSE(app, argc, argv);
  return rc;
}

}  // namespace
}  // namespace keel::client::keelbench

int main(int argc, char** argv) {
#ifdef NDEBUG
  // Debian's Abseil is built without NDEBUG: skip its global lock-order graph in optimized
  // builds so the load generator leaves more of a shared machine to the servers measured.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif
  return keel::client::keelbench::Main(argc, argv);
}
