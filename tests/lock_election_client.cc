// Drives etcd's Lock and Election gRPC services (which etcdctl never calls: its `lock` and
// `elect` commands use the KV API directly) against a running cluster and checks their
// semantics. Exit 0 when every check holds. Usage: lock_election_client <host:port>
//
// Ordering, not timing: a waiter that must block until a release is checked by comparing
// revisions: its response header revision must be at least the release's revision.
#include <cstdio>
#include <future>
#include <memory>
#include <string>

#include "api/etcdserverpb/rpc.grpc.pb.h"
#include "api/v3electionpb/v3election.grpc.pb.h"
#include "api/v3lockpb/v3lock.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace {

int failures = 0;

void Check(bool condition, const std::string& what, const grpc::Status& status = grpc::Status::OK) {
  std::printf("%s %s", condition ? "ok  " : "FAIL", what.c_str());
  if (!status.ok()) {
    std::printf(" [status %d: %s]", static_cast<int>(status.error_code()),
                status.error_message().c_str());
  }
  std::printf("\n");
  std::fflush(stdout);
  if (!condition) ++failures;
}

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  return context;
}

int64_t GrantLease(etcdserverpb::Lease::Stub* lease) {
  etcdserverpb::LeaseGrantRequest request;
  request.set_ttl(60);
  etcdserverpb::LeaseGrantResponse response;
  grpc::Status status = lease->LeaseGrant(Context().get(), request, &response);
  Check(status.ok() && response.id() != 0, "lease grant", status);
  return response.id();
}

void Locks(const std::shared_ptr<grpc::Channel>& channel, int64_t lease1, int64_t lease2) {
  auto lock = v3lockpb::Lock::NewStub(channel);
  v3lockpb::LockRequest first;
  first.set_name("L");
  first.set_lease(lease1);
  v3lockpb::LockResponse held;
  grpc::Status status = lock->Lock(Context().get(), first, &held);
  Check(status.ok() && held.key().rfind("L/", 0) == 0, "an uncontended Lock returns key L/<lease>",
        status);

  // The second locker waits for the first's key to go.
  std::future<std::pair<grpc::Status, v3lockpb::LockResponse>> second =
      std::async(std::launch::async, [&lock, lease2] {
        v3lockpb::LockRequest request;
        request.set_name("L");
        request.set_lease(lease2);
        v3lockpb::LockResponse response;
        grpc::Status s = lock->Lock(Context().get(), request, &response);
        return std::make_pair(s, response);
      });
  Check(second.wait_for(std::chrono::milliseconds(300)) == std::future_status::timeout,
        "a contended Lock is still waiting while the lock is held");
  v3lockpb::UnlockRequest unlock;
  unlock.set_key(held.key());
  v3lockpb::UnlockResponse unlocked;
  status = lock->Unlock(Context().get(), unlock, &unlocked);
  Check(status.ok(), "Unlock", status);
  auto [second_status, second_held] = second.get();
  Check(second_status.ok() && second_held.key() != held.key(), "the waiter acquires after Unlock",
        second_status);
  Check(second_held.header().revision() >= unlocked.header().revision(),
        "the waiter's acquisition is ordered after the release");
  unlock.set_key(second_held.key());
  Check(lock->Unlock(Context().get(), unlock, &unlocked).ok(), "second Unlock");
}

void Elections(const std::shared_ptr<grpc::Channel>& channel, int64_t lease1, int64_t lease2) {
  auto election = v3electionpb::Election::NewStub(channel);
  v3electionpb::CampaignRequest campaign;
  campaign.set_name("E");
  campaign.set_lease(lease1);
  campaign.set_value("alice");
  v3electionpb::CampaignResponse won;
  grpc::Status status = election->Campaign(Context().get(), campaign, &won);
  Check(status.ok() && won.leader().name() == "E" && won.leader().lease() == lease1 &&
            won.leader().rev() > 0,
        "an uncontested Campaign wins", status);

  v3electionpb::LeaderRequest leader_request;
  leader_request.set_name("E");
  v3electionpb::LeaderResponse leader;
  status = election->Leader(Context().get(), leader_request, &leader);
  Check(status.ok() && leader.kv().value() == "alice" && leader.kv().key() == won.leader().key(),
        "Leader returns the winner's key and value", status);

  v3electionpb::ProclaimRequest proclaim;
  *proclaim.mutable_leader() = won.leader();
  proclaim.set_value("alice-2");
  v3electionpb::ProclaimResponse proclaimed;
  status = election->Proclaim(Context().get(), proclaim, &proclaimed);
  Check(status.ok(), "Proclaim by the leader", status);
  election->Leader(Context().get(), leader_request, &leader);
  Check(leader.kv().value() == "alice-2", "Leader sees the proclaimed value");

  // An observer sees the current leader first.
  grpc::ClientContext observe_context;
  std::unique_ptr<grpc::ClientReader<v3electionpb::LeaderResponse>> observer =
      election->Observe(&observe_context, leader_request);
  v3electionpb::LeaderResponse observed;
  Check(observer->Read(&observed) && observed.kv().value() == "alice-2",
        "Observe starts with the current leader");

  std::future<std::pair<grpc::Status, v3electionpb::CampaignResponse>> challenger =
      std::async(std::launch::async, [&election, lease2] {
        v3electionpb::CampaignRequest request;
        request.set_name("E");
        request.set_lease(lease2);
        request.set_value("bob");
        v3electionpb::CampaignResponse response;
        grpc::Status s = election->Campaign(Context().get(), request, &response);
        return std::make_pair(s, response);
      });
  Check(challenger.wait_for(std::chrono::milliseconds(300)) == std::future_status::timeout,
        "a second Campaign waits while the leader holds");

  v3electionpb::ResignRequest resign;
  *resign.mutable_leader() = won.leader();
  v3electionpb::ResignResponse resigned;
  status = election->Resign(Context().get(), resign, &resigned);
  Check(status.ok(), "Resign", status);
  auto [bob_status, bob] = challenger.get();
  Check(bob_status.ok() && bob.leader().lease() == lease2, "the challenger wins after Resign",
        bob_status);
  Check(bob.leader().rev() < resigned.header().revision(),
        "the challenger's key predates the resignation (it queued, then won)");
  Check(observer->Read(&observed) && observed.kv().value() == "bob",
        "Observe reports the new leader");
  observe_context.TryCancel();
  observer->Finish();

  // Errors, with etcd's messages.
  proclaim.set_value("stale");
  status = election->Proclaim(Context().get(), proclaim, &proclaimed);
  Check(!status.ok() && status.error_message() == "election: not leader",
        "Proclaim by a resigned leader fails with etcd's message", status);
  leader_request.set_name("nobody-campaigns-here");
  status = election->Leader(Context().get(), leader_request, &leader);
  Check(!status.ok() && status.error_message() == "election: no leader",
        "Leader of an empty election fails with etcd's message", status);
  v3electionpb::ProclaimRequest missing;
  status = election->Proclaim(Context().get(), missing, &proclaimed);
  Check(!status.ok() && status.error_message() == "\"leader\" field must be provided",
        "Proclaim without a leader key fails with etcd's message", status);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <host:port>\n", argv[0]);
    return 2;
  }
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateChannel(argv[1], grpc::InsecureChannelCredentials());
  auto lease = etcdserverpb::Lease::NewStub(channel);
  int64_t lease1 = GrantLease(lease.get());
  int64_t lease2 = GrantLease(lease.get());
  Locks(channel, lease1, lease2);
  Elections(channel, lease1, lease2);
  std::printf("%s: %d failed checks\n", failures == 0 ? "PASS" : "FAIL", failures);
  return failures == 0 ? 0 : 1;
}
