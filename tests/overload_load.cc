// Overload generator for tests/overload_test.py: keeps `outstanding` Puts in flight at
// once (gRPC async API, one channel per 1000 calls) for `seconds`, far beyond what a member
// answers, and reports what came back. Every acknowledged key is written to `acked_file`
// (one per line) so the test can read each one back.
//
// Usage: overload_load <host:port> <outstanding> <seconds> <acked_file>
// Prints: sent= ok= too_many= other= seconds= ok_per_second= refused_fraction=
//         and the first other error's code and message, if any.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "api/etcdserverpb/rpc.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace {

struct Call {
  std::string key;
  etcdserverpb::PutRequest request;
  etcdserverpb::PutResponse response;
  grpc::ClientContext context;
  grpc::Status status;
  std::unique_ptr<grpc::ClientAsyncResponseReader<etcdserverpb::PutResponse>> reader;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s <host:port> <outstanding> <seconds> <acked_file>\n", argv[0]);
    return 2;
  }
  const int outstanding = std::atoi(argv[2]);
  const double seconds = std::atof(argv[3]);
  std::ofstream acked(argv[4]);
  std::vector<std::unique_ptr<etcdserverpb::KV::Stub>> stubs;
  for (int i = 0; i < (outstanding + 999) / 1000; ++i) {
    grpc::ChannelArguments args;
    args.SetInt("keel.overload.channel", i);  // distinct channels, not one shared subchannel
    auto channel = grpc::CreateCustomChannel(argv[1], grpc::InsecureChannelCredentials(), args);
    // Connected before the flood: the load measures the server, not connection set-up
    // racing 1000 calls on a busy machine.
    if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(20))) {
      std::fprintf(stderr, "cannot connect to %s\n", argv[1]);
      return 1;
    }
    stubs.push_back(etcdserverpb::KV::NewStub(channel));
  }
  grpc::CompletionQueue cq;
  uint64_t next = 0, sent = 0, ok = 0, too_many = 0, other = 0, in_flight = 0;
  std::string first_other;
  const auto start = std::chrono::steady_clock::now();
  const auto stop_at = start + std::chrono::duration<double>(seconds);
  auto issue = [&]() {
    auto* call = new Call;
    call->key = "overload/" + std::to_string(next);
    call->request.set_key(call->key);
    call->request.set_value(std::string(64, 'v'));
    call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    auto& stub = stubs[next % stubs.size()];
    ++next;
    call->reader = stub->AsyncPut(&call->context, call->request, &cq);
    call->reader->Finish(&call->response, &call->status, call);
    ++sent;
    ++in_flight;
  };
  for (int i = 0; i < outstanding; ++i) issue();
  void* tag = nullptr;
  bool got = false;
  while (in_flight > 0 && cq.Next(&tag, &got)) {
    std::unique_ptr<Call> call(static_cast<Call*>(tag));
    --in_flight;
    if (call->status.ok()) {
      ++ok;
      acked << call->key << "\n";
    } else if (call->status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED &&
               call->status.error_message() == "etcdserver: too many requests") {
      ++too_many;
    } else {
      if (other == 0) {
        first_other = std::to_string(call->status.error_code()) + " " + call->status.error_message();
      }
      ++other;
    }
    if (std::chrono::steady_clock::now() < stop_at) issue();
  }
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  acked.close();
  std::printf(
      "sent=%llu ok=%llu too_many=%llu other=%llu seconds=%.2f ok_per_second=%.0f "
      "refused_fraction=%.3f first_other=\"%s\"\n",
      static_cast<unsigned long long>(sent), static_cast<unsigned long long>(ok),
      static_cast<unsigned long long>(too_many), static_cast<unsigned long long>(other), elapsed,
      ok / elapsed, sent > 0 ? static_cast<double>(too_many) / sent : 0.0, first_other.c_str());
  return 0;
}
