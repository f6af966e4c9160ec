// The client side of tests/power_loss_test.py: acknowledged puts, read-back and compaction
// through etcd's gRPC API (the harness itself is stdlib Python, which has no gRPC).
//
//   ack_writer write <host:port> <round> <threads> <keys_per_thread> <value_bytes> <max_puts>
//       Each thread t puts keys "pl/t<t>/k<i>" (i = seq mod keys_per_thread) one at a time;
//       values are "<round>.<t>.<seq>|" padded to value_bytes with letters drawn from that
//       header (Padding), so every value ever written is unique and, unlike a run of one
//       letter, does not compress: LevelDB's memtable flushes write full-size tables. After each acknowledged put it prints one line
//           ACK <key> <round> <t> <seq>
//       (flushed at once: the harness kills the server, then this process, and reads what
//       was printed). A thread stops at its first failed put or after max_puts.
//   ack_writer dump <host:port>
//       A linearizable Range over "pl/": one line "<key> <round> <t> <seq> <value_bytes>"
//       per key, then "END <count>". Exit 1 if the read fails or a value is malformed.
//   ack_writer compact <host:port>
//       Compacts at the current revision (keeps the backend small over many rounds).
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/etcdserverpb/rpc.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace {

constexpr int kRpcDeadlineSeconds = 10;

// `bytes` pseudo-random lowercase letters determined by `header` (64-bit LCG).
std::string Padding(const std::string& header, size_t bytes) {
  uint64_t x = 1469598103934665603ull;
  for (char c : header) x = (x ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  std::string out(bytes, 'a');
  for (char& c : out) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    c = static_cast<char>('a' + (x >> 33) % 26);
  }
  return out;
}

std::unique_ptr<etcdserverpb::KV::Stub> Connect(const std::string& endpoint) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(256 << 20);
  return etcdserverpb::KV::NewStub(
      grpc::CreateCustomChannel(endpoint, grpc::InsecureChannelCredentials(), args));
}

void SetDeadline(grpc::ClientContext* context) {
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(kRpcDeadlineSeconds));
}

int Write(const std::string& endpoint, int round, int threads, int keys_per_thread,
          int value_bytes, int max_puts) {
  auto kv = Connect(endpoint);
  std::mutex out_mu;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int seq = 0; seq < max_puts; ++seq) {
        const std::string key =
            "pl/t" + std::to_string(t) + "/k" + std::to_string(seq % keys_per_thread);
        std::string value =
            std::to_string(round) + "." + std::to_string(t) + "." + std::to_string(seq) + "|";
        if (static_cast<int>(value.size()) < value_bytes) {
          value += Padding(value, value_bytes - value.size());
        }
        etcdserverpb::PutRequest request;
        request.set_key(key);
        request.set_value(value);
        etcdserverpb::PutResponse response;
        grpc::ClientContext context;
        SetDeadline(&context);
        if (!kv->Put(&context, request, &response).ok()) return;
        std::lock_guard<std::mutex> lock(out_mu);
        std::printf("ACK %s %d %d %d\n", key.c_str(), round, t, seq);
        std::fflush(stdout);
      }
    });
  }
  for (std::thread& worker : workers) worker.join();
  return 0;
}

int Dump(const std::string& endpoint) {
  auto kv = Connect(endpoint);
  etcdserverpb::RangeRequest request;
  request.set_key("pl/");
  request.set_range_end("pl0");  // "pl/" + 1
  etcdserverpb::RangeResponse response;
  grpc::ClientContext context;
  SetDeadline(&context);
  grpc::Status status = kv->Range(&context, request, &response);
  if (!status.ok()) {
    std::fprintf(stderr, "range failed: %s\n", status.error_message().c_str());
    return 1;
  }
  for (const auto& item : response.kvs()) {
    const std::string& value = item.value();
    const size_t bar = value.find('|');
    int round = 0, t = 0, seq = 0;
    if (bar == std::string::npos ||
        std::sscanf(value.substr(0, bar).c_str(), "%d.%d.%d", &round, &t, &seq) != 3 ||
        value.substr(bar + 1) != Padding(value.substr(0, bar + 1), value.size() - bar - 1)) {
      std::fprintf(stderr, "malformed value under %s (%zu bytes)\n", item.key().c_str(),
                   value.size());
      return 1;
    }
    std::printf("%s %d %d %d %zu\n", item.key().c_str(), round, t, seq, value.size());
  }
  std::printf("END %d\n", response.kvs_size());
  return 0;
}

int Compact(const std::string& endpoint) {
  auto kv = Connect(endpoint);
  etcdserverpb::RangeRequest range;
  range.set_key("pl/");
  range.set_range_end("pl0");
  range.set_count_only(true);
  etcdserverpb::RangeResponse ranged;
  grpc::ClientContext range_context;
  SetDeadline(&range_context);
  grpc::Status status = kv->Range(&range_context, range, &ranged);
  if (!status.ok()) {
    std::fprintf(stderr, "range failed: %s\n", status.error_message().c_str());
    return 1;
  }
  etcdserverpb::CompactionRequest request;
  request.set_revision(ranged.header().revision());
  etcdserverpb::CompactionResponse response;
  grpc::ClientContext context;
  SetDeadline(&context);
  status = kv->Compact(&context, request, &response);
  // Compacting at an already compacted revision is fine (nothing new was written).
  if (!status.ok() && status.error_message().find("compacted") == std::string::npos) {
    std::fprintf(stderr, "compact failed: %s\n", status.error_message().c_str());
    return 1;
  }
  std::printf("COMPACTED %lld\n", static_cast<long long>(ranged.header().revision()));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "write" && argc == 8) {
    return Write(argv[2], std::atoi(argv[3]), std::atoi(argv[4]), std::atoi(argv[5]),
                 std::atoi(argv[6]), std::atoi(argv[7]));
  }
  if (mode == "dump" && argc == 3) return Dump(argv[2]);
  if (mode == "compact" && argc == 3) return Compact(argv[2]);
  std::fprintf(stderr,
               "usage: %s write <host:port> <round> <threads> <keys_per_thread> "
               "<value_bytes> <max_puts>\n"
               "       %s dump <host:port>\n       %s compact <host:port>\n",
               argv[0], argv[0], argv[0]);
  return 2;
}
