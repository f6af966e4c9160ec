#include "client/keelbench/unary_driver.h"

#include <atomic>
#include <cstdio>
#include <thread>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "grpcpp/alarm.h"

namespace keel::client::keelbench {
namespace {

constexpr int kPollerThreads = 2;  // the machines we run on have 2 cores

struct ClientSlot {
  Endpoint* endpoint = nullptr;
  grpc::CompletionQueue* cq = nullptr;
  std::unique_ptr<PendingCall> call;
  grpc::Alarm alarm;
  bool waiting_for_alarm = false;
  int64_t seq = -1;
  absl::Time started;
};

std::string ErrorKey(const grpc::Status& s) {
  std::string message = s.error_message().substr(0, 80);
  return absl::StrCat("code ", static_cast<int>(s.error_code()), " (", message, ")");
}

}  // namespace

absl::Duration RunUnary(const UnaryRun& run, const std::vector<std::unique_ptr<Endpoint>>& conns,
                        const StartFn& start, Recorder* recorder) {
  KEEL_CHECK(!conns.empty());
  KEEL_CHECK(run.clients >= 1);
  std::vector<std::unique_ptr<grpc::CompletionQueue>> cqs;
  for (int i = 0; i < kPollerThreads; ++i) cqs.push_back(std::make_unique<grpc::CompletionQueue>());
  std::vector<ClientSlot> slots(static_cast<size_t>(run.clients));
  std::atomic<int64_t> issued{0};
  std::atomic<int> active{run.clients};
  const absl::Time begin = absl::Now();

  // Takes the next sequence number for `slot` and starts it (now, or when its rate slot comes).
  // Returns false when the run has no more requests for this client.
  auto issue = [&](ClientSlot* slot) {
    int64_t seq = issued.fetch_add(1);
    if (seq >= run.total) return false;
    slot->seq = seq;
    if (run.rate_per_s > 0) {
      absl::Time due = begin + absl::Seconds(static_cast<double>(seq) / run.rate_per_s);
      if (due > absl::Now()) {
        slot->waiting_for_alarm = true;
        slot->alarm.Set(slot->cq, absl::ToChronoTime(due), slot);
        return true;
      }
    }
    slot->started = absl::Now();
    slot->call = start(seq, *slot->endpoint, slot->cq, slot);
    return true;
  };
  auto finish_slot = [&] {
    if (active.fetch_sub(1) == 1) {
      for (auto& cq : cqs) cq->Shutdown();
    }
  };

  for (size_t i = 0; i < slots.size(); ++i) {
    slots[i].endpoint = conns[i % conns.size()].get();
    slots[i].cq = cqs[i % cqs.size()].get();
  }
  for (auto& slot : slots) {
    if (!issue(&slot)) finish_slot();
  }

  std::atomic<bool> stop_progress{false};
  std::thread progress;
  if (run.progress) {
    progress = std::thread([&] {
      while (!stop_progress.load()) {
        std::fprintf(stderr, "\r %lld / %lld", static_cast<long long>(recorder->done()),
                     static_cast<long long>(run.total));
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
      std::fprintf(stderr, "\r %lld / %lld\n", static_cast<long long>(recorder->done()),
                   static_cast<long long>(run.total));
    });
  }

  std::vector<std::thread> pollers;
  for (auto& cq_ptr : cqs) {
    grpc::CompletionQueue* cq = cq_ptr.get();
    pollers.emplace_back([&, cq] {
      void* tag;
      bool ok;
      // Ends when the queue is shut down (after the last client finished) and drained.
      while (cq->Next(&tag, &ok)) {
        auto* slot = static_cast<ClientSlot*>(tag);
        if (slot->waiting_for_alarm) {
          slot->waiting_for_alarm = false;
          slot->started = absl::Now();
          slot->call = start(slot->seq, *slot->endpoint, slot->cq, slot);
          continue;
        }
        absl::Duration latency = absl::Now() - slot->started;
        if (ok && slot->call->status.ok()) {
          recorder->Success(latency);
        } else {
          recorder->Error(ErrorKey(slot->call->status));
        }
        slot->call.reset();
        if (!issue(slot)) finish_slot();
      }
    });
  }
  for (auto& t : pollers) t.join();
  absl::Duration elapsed = absl::Now() - begin;
  stop_progress = true;
  if (progress.joinable()) progress.join();
  return elapsed;
}

}  // namespace keel::client::keelbench
