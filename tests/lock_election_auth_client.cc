// Drives etcd's Lock and Election gRPC services with auth on, as a user who may read and
// write under one prefix only, and prints one transcript line per call (gRPC code and
// message, or what the answer holds that does not depend on the server: no lease IDs, no
// revisions). auth_lock_test.py runs it against etcd 3.4 and keeld and compares.
//
// Usage: lock_election_auth_client <host:port> <user> <password> <allowed> <denied>
//   The user must have readwrite on the prefix "<allowed>/" and nothing on "<denied>/".
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "api/etcdserverpb/rpc.grpc.pb.h"
#include "api/v3electionpb/v3election.grpc.pb.h"
#include "api/v3lockpb/v3lock.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace {

std::string token;  // empty: the call carries no credentials

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  // clientv3 3.4's metadata key for the simple token.
  if (!token.empty()) context->AddMetadata("token", token);
  return context;
}

void Line(const std::string& call, const grpc::Status& status, const std::string& ok_text) {
  if (status.ok()) {
    std::printf("%s: ok %s\n", call.c_str(), ok_text.c_str());
  } else {
    std::printf("%s: code=%d %s\n", call.c_str(), static_cast<int>(status.error_code()),
                status.error_message().c_str());
  }
  std::fflush(stdout);
}

// The key with its lease-hex suffix masked (lease IDs differ between servers).
std::string Masked(const std::string& key) {
  size_t slash = key.rfind('/');
  return slash == std::string::npos ? key : key.substr(0, slash + 1) + "<lease>";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s <host:port> <user> <password> <allowed> <denied>\n",
                 argv[0]);
    return 2;
  }
  const std::string allowed = argv[4];
  const std::string denied = argv[5];
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateChannel(argv[1], grpc::InsecureChannelCredentials());
  auto auth = etcdserverpb::Auth::NewStub(channel);
  auto lease = etcdserverpb::Lease::NewStub(channel);
  auto lock = v3lockpb::Lock::NewStub(channel);
  auto election = v3electionpb::Election::NewStub(channel);

  etcdserverpb::AuthenticateRequest login;
  login.set_name(argv[2]);
  login.set_password(argv[3]);
  etcdserverpb::AuthenticateResponse logged_in;
  grpc::Status status = auth->Authenticate(Context().get(), login, &logged_in);
  Line("authenticate", status, "");
  if (!status.ok()) return 1;

  etcdserverpb::LeaseGrantRequest grant;
  grant.set_ttl(60);
  etcdserverpb::LeaseGrantResponse granted;
  status = lease->LeaseGrant(Context().get(), grant, &granted);
  Line("lease grant", status, "");
  if (!status.ok()) return 1;

  for (bool with_token : {false, true}) {
    token = with_token ? logged_in.token() : "";
    const std::string who = with_token ? "" : " (no token)";
    for (const std::string& name : {allowed, denied}) {
      v3lockpb::LockRequest lock_request;
      lock_request.set_name(name);
      lock_request.set_lease(granted.id());
      v3lockpb::LockResponse locked;
      status = lock->Lock(Context().get(), lock_request, &locked);
      Line("lock " + name + who, status, Masked(locked.key()));

      v3lockpb::UnlockRequest unlock_request;
      unlock_request.set_key(status.ok() ? locked.key() : name + "/k");
      v3lockpb::UnlockResponse unlocked;
      Line("unlock " + Masked(unlock_request.key()) + who,
           lock->Unlock(Context().get(), unlock_request, &unlocked), "");

      v3electionpb::CampaignRequest campaign;
      campaign.set_name(name);
      campaign.set_lease(granted.id());
      campaign.set_value("v1");
      v3electionpb::CampaignResponse campaigned;
      status = election->Campaign(Context().get(), campaign, &campaigned);
      Line("campaign " + name + who, status, Masked(campaigned.leader().key()));

      v3electionpb::LeaderRequest leader_request;
      leader_request.set_name(name);
      v3electionpb::LeaderResponse leader;
      grpc::Status leader_status = election->Leader(Context().get(), leader_request, &leader);
      Line("leader " + name + who, leader_status, leader.kv().value());

      // Observe: the first response (the current leader), or the stream's error.
      {
        std::unique_ptr<grpc::ClientContext> context = Context();
        auto reader = election->Observe(context.get(), leader_request);
        v3electionpb::LeaderResponse observed;
        if (reader->Read(&observed)) {
          Line("observe " + name + who, grpc::Status::OK, observed.kv().value());
          context->TryCancel();
          reader->Finish();
        } else {
          Line("observe " + name + who, reader->Finish(), "(no leader)");
        }
      }

      v3electionpb::LeaderKey key = campaigned.leader();
      if (!status.ok()) {
        key.set_name(name);
        key.set_key(name + "/k");
        key.set_rev(1);
      }
      v3electionpb::ProclaimRequest proclaim;
      *proclaim.mutable_leader() = key;
      proclaim.set_value("v2");
      v3electionpb::ProclaimResponse proclaimed;
      Line("proclaim " + name + who,
           election->Proclaim(Context().get(), proclaim, &proclaimed), "");

      v3electionpb::ResignRequest resign;
      *resign.mutable_leader() = key;
      v3electionpb::ResignResponse resigned;
      Line("resign " + name + who, election->Resign(Context().get(), resign, &resigned), "");
    }
  }
  return 0;
}
