#include "client/keelbench/watch_bench.h"

#include <atomic>
#include <cstdio>
#include <iostream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "client/keelbench/report.h"
#include "client/keelbench/unary_driver.h"

namespace keel::client::keelbench {

int RunWatchBench(const WatchRun& run, const std::vector<std::unique_ptr<Endpoint>>& conns) {
  KEEL_CHECK(run.streams >= 1 && run.watchers_per_stream >= 1 && run.watched_keys >= 1);
  const int total_watchers = run.streams * run.watchers_per_stream;
  std::vector<std::string> keys;
  for (int k = 0; k < run.watched_keys; ++k) keys.push_back(absl::StrCat(run.key_prefix, k));
  // Watchers are dealt round-robin over keys; watchers_of[k] counts those on key k.
  std::vector<int64_t> watchers_of(keys.size(), 0);
  for (int w = 0; w < total_watchers; ++w) ++watchers_of[w % keys.size()];

  std::vector<std::atomic<int64_t>> sent_ns(static_cast<size_t>(run.put_total));
  for (auto& t : sent_ns) t.store(0);
  Recorder creation(static_cast<size_t>(total_watchers));
  int64_t expected_events_max = 0;
  for (int64_t seq = 0; seq < run.put_total; ++seq) expected_events_max += watchers_of[seq % keys.size()];
  Recorder events(static_cast<size_t>(expected_events_max));
  std::atomic<int> created{0};
  std::atomic<int64_t> received{0};

  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  for (int s = 0; s < run.streams; ++s) contexts.push_back(std::make_unique<grpc::ClientContext>());
  std::vector<std::thread> stream_threads;
  for (int s = 0; s < run.streams; ++s) {
    stream_threads.emplace_back([&, s] {
      Endpoint& endpoint = *conns[s % conns.size()];
      auto stream = endpoint.watch->Watch(contexts[s].get());
      for (int w = 0; w < run.watchers_per_stream; ++w) {
        etcdserverpb::WatchRequest request;
        request.mutable_create_request()->set_key(keys[(s * run.watchers_per_stream + w) % keys.size()]);
        absl::Time start = absl::Now();
        etcdserverpb::WatchResponse response;
        if (!stream->Write(request) || !stream->Read(&response) || !response.created()) {
          creation.Error("watch create failed");
          continue;
        }
        creation.Success(absl::Now() - start);
      }
      created.fetch_add(1);
      etcdserverpb::WatchResponse response;
      // Ends when the context is cancelled after the run.
      while (stream->Read(&response)) {
        absl::Time now = absl::Now();
        for (const auto& e : response.events()) {
          int64_t seq = -1;
          if (!absl::SimpleAtoi(e.kv().value().substr(0, e.kv().value().find(' ')), &seq) || seq < 0 ||
              seq >= run.put_total) {
            continue;
          }
          int64_t sent = sent_ns[seq].load();
          events.Success(now - absl::FromUnixNanos(sent));
          received.fetch_add(1);
        }
      }
      stream->Finish().IgnoreError();
    });
  }
  const absl::Time create_begin = absl::Now();
  // Bounded wait for all streams to report their watchers created.
  while (created.load() < run.streams && absl::Now() - create_begin < absl::Seconds(60)) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  absl::Duration create_elapsed = absl::Now() - create_begin;

  Recorder puts(static_cast<size_t>(run.put_total));
  std::string padding(static_cast<size_t>(std::max(0, run.val_size)), 'v');
  StartFn start = [&](int64_t seq, Endpoint& endpoint, grpc::CompletionQueue* cq, void* tag) {
    etcdserverpb::PutRequest request;
    request.set_key(keys[seq % keys.size()]);
    request.set_value(absl::StrCat(seq, " ", padding));
    sent_ns[seq].store(absl::ToUnixNanos(absl::Now()));
    return StartTyped<etcdserverpb::PutResponse>(absl::Seconds(30), tag, [&](grpc::ClientContext* ctx) {
      return endpoint.kv->PrepareAsyncPut(ctx, request, cq);
    });
  };
  UnaryRun put_run{.total = run.put_total, .clients = run.put_clients,
                   .rate_per_s = run.put_rate_per_s, .progress = run.progress};
  const absl::Time events_begin = absl::Now();
  absl::Duration put_elapsed = RunUnary(put_run, conns, start, &puts);

  // Every successful put produces one event per watcher of its key (failed puts may too).
  int64_t expected = 0;
  for (int64_t seq = 0; seq < run.put_total; ++seq) {
    if (sent_ns[seq].load() != 0) expected += watchers_of[seq % keys.size()];
  }
  int64_t expected_min = puts.successes() * total_watchers / static_cast<int64_t>(keys.size());
  absl::Time wait_begin = absl::Now();
  while (received.load() < std::min(expected, expected_min) && absl::Now() - wait_begin < absl::Seconds(30)) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  absl::Duration events_elapsed = absl::Now() - events_begin;
  for (auto& ctx : contexts) ctx->TryCancel();
  for (auto& t : stream_threads) t.join();

  std::cout << creation.Render("Watch creation:", create_elapsed) << "\n"
            << puts.Render("Put:", put_elapsed) << "\n"
            << events.Render("Watch events (latency from put issue to event arrival):", events_elapsed);
  std::cout << "  Events expected:\t" << expected_min << "\n  Events received:\t" << received.load() << "\n";
  return received.load() >= expected_min ? 0 : 1;
}

}  // namespace keel::client::keelbench
