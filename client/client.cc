#include "client/client.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/check.h"
#include "client/error_kind.h"

namespace keel::client {
namespace {

constexpr absl::Duration kRetryBackoff = absl::Milliseconds(50);

absl::Status DeadlineError() {
  return absl::DeadlineExceededError("context deadline exceeded");
}

}  // namespace

Client::Client(ClientOptions options, std::shared_ptr<grpc::ChannelCredentials> credentials)
    : options_(std::move(options)), credentials_(std::move(credentials)) {
  absl::MutexLock lock(&mu_);
  for (const auto& url : options_.endpoints) {
    endpoints_.push_back(MakeEndpoint(url, /*channel_tag=*/0, credentials_));
  }
}

absl::StatusOr<std::unique_ptr<Client>> Client::Create(ClientOptions options) {
  if (options.endpoints.empty()) return absl::InvalidArgumentError("no endpoints given");
  if (options.dial_timeout <= absl::ZeroDuration() ||
      options.command_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("dial and command timeouts must be positive");
  }
  // One TLS decision for the cluster, from the first endpoint's scheme and the TLS flags.
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      MakeCredentials(options.endpoints.front(), options.tls);
  if (!credentials.ok()) return credentials.status();
  std::unique_ptr<Client> client(new Client(std::move(options), *std::move(credentials)));
  // Dial all endpoints concurrently; the first READY one proves the cluster is reachable.
  absl::Time deadline = absl::Now() + client->options_.dial_timeout;
  bool any_ready = false;
  {
    absl::MutexLock lock(&client->mu_);
    for (auto& e : client->endpoints_) e->channel->GetState(/*try_to_connect=*/true);
    for (size_t i = 0; i < client->endpoints_.size() && !any_ready; ++i) {
      if (client->endpoints_[i]->WaitConnected(deadline)) {
        any_ready = true;
        client->preferred_ = i;
      }
    }
  }
  if (!any_ready) return absl::UnavailableError("context deadline exceeded");
  // A cluster without a leader is still usable for reads; discovery failure is not fatal.
  if (client->options_.discover_leader) client->DiscoverLeader().IgnoreError();
  return client;
}

std::shared_ptr<Endpoint> Client::PreferredEndpoint() const {
  absl::MutexLock lock(&mu_);
  KEEL_CHECK(preferred_ < endpoints_.size());
  return endpoints_[preferred_];
}

void Client::Failover(const Endpoint* failed) {
  absl::MutexLock lock(&mu_);
  if (endpoints_[preferred_].get() == failed) preferred_ = (preferred_ + 1) % endpoints_.size();
}

std::vector<std::string> Client::EndpointAddresses() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  for (const auto& e : endpoints_) out.push_back(e->address);
  return out;
}

std::shared_ptr<Endpoint> Client::EndpointFor(std::string_view address) {
  std::string normalized = NormalizeEndpoint(address);
  absl::MutexLock lock(&mu_);
  for (const auto& e : endpoints_) if (e->address == normalized) return e;
  for (const auto& e : side_endpoints_) if (e->address == normalized) return e;
  side_endpoints_.push_back(MakeEndpoint(normalized, /*channel_tag=*/0, credentials_));
  return side_endpoints_.back();
}

absl::Status Client::DiscoverLeader() {
  std::vector<std::shared_ptr<Endpoint>> candidates;
  {
    absl::MutexLock lock(&mu_);
    candidates = endpoints_;
  }
  // Pass 1: a listed endpoint that is itself the leader (Status.leader == its member id).
  // Pass 2: the leader's client URL from MemberList, added to the rotation if unlisted.
  uint64_t leader_id = 0;
  std::shared_ptr<Endpoint> asked;
  for (const auto& e : candidates) {
    absl::Time deadline = absl::Now() + options_.command_timeout;
    if (!e->WaitConnected(std::min(deadline, absl::Now() + options_.dial_timeout))) continue;
    grpc::ClientContext status_ctx;
    status_ctx.set_deadline(absl::ToChronoTime(deadline));
    etcdserverpb::StatusResponse status;
    if (!e->maintenance->Status(&status_ctx, {}, &status).ok() || status.leader() == 0) continue;
    if (status.leader() == status.header().member_id()) {
      absl::MutexLock lock(&mu_);
      for (size_t i = 0; i < endpoints_.size(); ++i) {
        if (endpoints_[i] == e) preferred_ = i;
      }
      return absl::OkStatus();
    }
    if (asked == nullptr) {
      leader_id = status.leader();
      asked = e;
    }
  }
  if (asked == nullptr) return absl::UnavailableError("no leader found");
  grpc::ClientContext members_ctx;
  members_ctx.set_deadline(absl::ToChronoTime(absl::Now() + options_.command_timeout));
  etcdserverpb::MemberListResponse members;
  if (!asked->cluster->MemberList(&members_ctx, {}, &members).ok()) {
    return absl::UnavailableError("no leader found");
  }
  for (const auto& m : members.members()) {
    if (m.id() != leader_id || m.clienturls().empty()) continue;
    std::string leader_address = NormalizeEndpoint(m.clienturls(0));
    absl::MutexLock lock(&mu_);
    auto it = std::find_if(endpoints_.begin(), endpoints_.end(),
                           [&](const auto& ep) { return ep->address == leader_address; });
    if (it == endpoints_.end()) {
      endpoints_.push_back(MakeEndpoint(leader_address, /*channel_tag=*/0, credentials_));
      it = endpoints_.end() - 1;
    }
    preferred_ = static_cast<size_t>(it - endpoints_.begin());
    return absl::OkStatus();
  }
  return absl::UnavailableError("leader has no client URL");
}

absl::Status Client::Invoke(Retry retry, absl::Duration timeout, UnaryCall call) {
  const absl::Time deadline = absl::Now() + timeout;
  size_t endpoint_count;
  {
    absl::MutexLock lock(&mu_);
    endpoint_count = endpoints_.size();
  }
  // Bounded: a few passes over every endpoint, and never past the deadline.
  const size_t max_attempts = 3 * endpoint_count + 2;
  absl::Status last_error = DeadlineError();
  for (size_t attempt = 0; attempt < max_attempts && absl::Now() < deadline; ++attempt) {
    std::shared_ptr<Endpoint> endpoint = PreferredEndpoint();
    absl::Time connect_deadline = std::min(deadline, absl::Now() + options_.dial_timeout);
    if (!endpoint->WaitConnected(connect_deadline)) {
      // Nothing was sent: failing over is safe for every kind of call.
      Failover(endpoint.get());
      if ((attempt + 1) % endpoint_count == 0) {
        absl::SleepFor(std::min(kRetryBackoff, deadline - absl::Now()));
      }
      continue;
    }
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(deadline));
    grpc::Status status = call(*endpoint, context);
    if (status.ok()) return absl::OkStatus();
    if (!IsTransient(status)) return FromGrpc(status);
    if (retry == Retry::kOnce) return OutcomeUnknown(status);
    last_error = status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED
                     ? DeadlineError()
                     : FromGrpc(status);
    Failover(endpoint.get());
    absl::SleepFor(std::max(absl::ZeroDuration(),
                            std::min(kRetryBackoff, deadline - absl::Now())));
  }
  return absl::Now() >= deadline ? DeadlineError() : last_error;
}

// ---- KV ----

absl::StatusOr<etcdserverpb::RangeResponse> Client::Range(const etcdserverpb::RangeRequest& request) {
  etcdserverpb::RangeResponse response;
  absl::Status s = Invoke(Retry::kSafe, [&](Endpoint& e, grpc::ClientContext& ctx) {
    response.Clear();
    return e.kv->Range(&ctx, request, &response);
  });
  if (!s.ok()) return s;
  return response;
}

absl::StatusOr<etcdserverpb::RangeResponse> Client::Get(std::string_view key, GetOptions options) {
  etcdserverpb::RangeRequest request;
  request.set_key(std::string(key));
  request.set_range_end(options.range_end);
  request.set_revision(options.revision);
  request.set_limit(options.limit);
  request.set_serializable(options.serializable);
  request.set_keys_only(options.keys_only);
  request.set_count_only(options.count_only);
  return Range(request);
}

absl::StatusOr<etcdserverpb::PutResponse> Client::Put(const etcdserverpb::PutRequest& request) {
  etcdserverpb::PutResponse response;
  absl::Status s = Invoke(Retry::kOnce, [&](Endpoint& e, grpc::ClientContext& ctx) {
    return e.kv->Put(&ctx, request, &response);
  });
  if (!s.ok()) return s;
  return response;
}

absl::StatusOr<etcdserverpb::PutResponse> Client::Put(std::string_view key, std::string_view value,
                                                      int64_t lease) {
  etcdserverpb::PutRequest request;
  request.set_key(std::string(key));
  request.set_value(std::string(value));
  request.set_lease(lease);
  return Put(request);
}

absl::StatusOr<etcdserverpb::DeleteRangeResponse> Client::Delete(
    const etcdserverpb::DeleteRangeRequest& request) {
  etcdserverpb::DeleteRangeResponse response;
  absl::Status s = Invoke(Retry::kOnce, [&](Endpoint& e, grpc::ClientContext& ctx) {
    return e.kv->DeleteRange(&ctx, request, &response);
  });
  if (!s.ok()) return s;
  return response;
}

absl::StatusOr<etcdserverpb::DeleteRangeResponse> Client::Delete(std::string_view key,
                                                                 std::string_view range_end) {
  etcdserverpb::DeleteRangeRequest request;
  request.set_key(std::string(key));
  request.set_range_end(std::string(range_end));
  return Delete(request);
}

absl::StatusOr<etcdserverpb::TxnResponse> Client::CommitTxn(const etcdserverpb::TxnRequest& request) {
  etcdserverpb::TxnResponse response;
  Retry retry = IsReadOnly(request) ? Retry::kSafe : Retry::kOnce;
  absl::Status s = Invoke(retry, [&](Endpoint& e, grpc::ClientContext& ctx) {
    response.Clear();
    return e.kv->Txn(&ctx, request, &response);
  });
  if (!s.ok()) return s;
  return response;
}

absl::StatusOr<etcdserverpb::CompactionResponse> Client::Compact(int64_t revision, bool physical) {
  etcdserverpb::CompactionRequest request;
  request.set_revision(revision);
  request.set_physical(physical);
  etcdserverpb::CompactionResponse response;
  // Compacting to a revision twice leaves the same state; the second reports "compacted".
  absl::Status s = Invoke(Retry::kSafe, [&](Endpoint& e, grpc::ClientContext& ctx) {
    return e.kv->Compact(&ctx, request, &response);
  });
  if (!s.ok()) return s;
  return response;
}

// ---- Lease ----

absl::StatusOr<etcdserverpb::LeaseGrantResponse> Client::LeaseGrant(int64_t ttl_seconds, int64_t id) {
  etcdserverpb::LeaseGrantRequest request;
  request.set_ttl(ttl_seconds);
  request.set_id(id);
  etcdserverpb::LeaseGrantResponse response;
  absl::Status s = Invoke(Retry::kOnce, [&](Endpoint& e, grpc::ClientContext& ctx) {
    return e.lease->LeaseGrant(&ctx, request, &response);
  });
  if (!s.ok()) return s;
  return response;
}

absl::StatusOr<etcdserverpb::LeaseRevokeResponse> Client::LeaseRevoke(int64_t id) {
  etcdserverpb::LeaseRevokeRequest request;
  request.set_id(id);
  etcdserverpb::LeaseRevokeResponse response;
  // Revoking twice leaves the same state (the retry may report "lease not found").
  absl::Status s = Invoke(Retry::kSafe, [&](Endpoint& e, grpc::ClientContext& ctx) {
    return e.lease->LeaseRevoke(&ctx, request, &response);
  });
  if (!s.ok()) return s;
  return response;
}

absl::StatusOr<etcdserverpb::LeaseTimeToLiveResponse> Client::LeaseTimeToLive(int64_t id, bool keys) {
  etcdserverpb::LeaseTimeToLiveRequest request;
  request.set_id(id);
  request.set_keys(keys);
  etcdserverpb::LeaseTimeToLiveResponse response;
  absl::Status s = Invoke(Retry::kSafe, [&](Endpoint& e, grpc::ClientContext& ctx) {
    response.Clear();
    return e.lease->LeaseTimeToLive(&ctx, request, &response);
  });
  if (!s.ok()) return s;
  return response;
}

absl::StatusOr<etcdserverpb::LeaseLeasesResponse> Client::LeaseLeases() {
  etcdserverpb::LeaseLeasesResponse response;
  absl::Status s = Invoke(Retry::kSafe, [&](Endpoint& e, grpc::ClientContext& ctx) {
    response.Clear();
    return e.lease->LeaseLeases(&ctx, {}, &response);
  });
  if (!s.ok()) return s;
  return response;
}

absl::StatusOr<etcdserverpb::LeaseKeepAliveResponse> Client::LeaseKeepAliveOnce(int64_t id) {
  etcdserverpb::LeaseKeepAliveResponse response;
  // Refreshing a lease twice is harmless: retry-safe.
  absl::Status s = Invoke(Retry::kSafe, [&](Endpoint& e, grpc::ClientContext& ctx) {
    auto stream = e.lease->LeaseKeepAlive(&ctx);
    etcdserverpb::LeaseKeepAliveRequest request;
    request.set_id(id);
    bool got = stream->Write(request) && stream->Read(&response);
    stream->WritesDone();
    if (got) {
      ctx.TryCancel();
      stream->Finish().IgnoreError();
      return grpc::Status::OK;
    }
    grpc::Status status = stream->Finish();
    return status.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "keep-alive stream closed")
                       : status;
  });
  if (!s.ok()) return s;
  if (response.ttl() <= 0) return absl::NotFoundError("etcdserver: requested lease not found");
  return response;
}

// ---- Cluster ----

absl::StatusOr<etcdserverpb::MemberListResponse> Client::MemberList() {
  etcdserverpb::MemberListResponse response;
  absl::Status s = Invoke(Retry::kSafe, [&](Endpoint& e, grpc::ClientContext& ctx) {
    response.Clear();
    return e.cluster->MemberList(&ctx, {}, &response);
  });
  if (!s.ok()) return s;
  return response;
}

absl::StatusOr<etcdserverpb::MemberAddResponse> Client::MemberAdd(std::vector<std::string> peer_urls,
                                                                  bool is_learner) {
  etcdserverpb::MemberAddRequest request;
  for (auto& u : peer_urls) request.add_peerurls(std::move(u));
  request.set_islearner(is_learner);
  etcdserverpb::MemberAddResponse response;
  absl::Status s = Invoke(Retry::kOnce, [&](Endpoint& e, grpc::ClientContext& ctx) {
    return e.cluster->MemberAdd(&ctx, request, &response);
  });
  if (!s.ok()) return s;
  return response;
}

absl::StatusOr<etcdserverpb::MemberRemoveResponse> Client::MemberRemove(uint64_t id) {
  etcdserverpb::MemberRemoveRequest request;
  request.set_id(id);
  etcdserverpb::MemberRemoveResponse response;
  absl::Status s = Invoke(Retry::kOnce, [&](Endpoint& e, grpc::ClientContext& ctx) {
    return e.cluster->MemberRemove(&ctx, request, &response);
  });
  if (!s.ok()) return s;
  return response;
}

absl::StatusOr<etcdserverpb::MemberPromoteResponse> Client::MemberPromote(uint64_t id) {
  etcdserverpb::MemberPromoteRequest request;
  request.set_id(id);
  etcdserverpb::MemberPromoteResponse response;
  absl::Status s = Invoke(Retry::kOnce, [&](Endpoint& e, grpc::ClientContext& ctx) {
    return e.cluster->MemberPromote(&ctx, request, &response);
  });
  if (!s.ok()) return s;
  return response;
}

// ---- Maintenance ----

absl::StatusOr<etcdserverpb::StatusResponse> Client::Status(std::string_view address) {
  std::shared_ptr<Endpoint> e = EndpointFor(address);
  absl::Time deadline = absl::Now() + options_.command_timeout;
  if (!e->WaitConnected(std::min(deadline, absl::Now() + options_.dial_timeout))) {
    return DeadlineError();
  }
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(deadline));
  etcdserverpb::StatusResponse response;
  grpc::Status s = e->maintenance->Status(&ctx, {}, &response);
  if (!s.ok()) return FromGrpc(s);
  return response;
}

absl::StatusOr<etcdserverpb::HashKVResponse> Client::HashKV(std::string_view address, int64_t revision) {
  std::shared_ptr<Endpoint> e = EndpointFor(address);
  absl::Time deadline = absl::Now() + options_.command_timeout;
  if (!e->WaitConnected(std::min(deadline, absl::Now() + options_.dial_timeout))) {
    return DeadlineError();
  }
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(deadline));
  etcdserverpb::HashKVRequest request;
  request.set_revision(revision);
  etcdserverpb::HashKVResponse response;
  grpc::Status s = e->maintenance->HashKV(&ctx, request, &response);
  if (!s.ok()) return FromGrpc(s);
  return response;
}

absl::StatusOr<std::pair<uint64_t, etcdserverpb::MoveLeaderResponse>> Client::MoveLeader(
    uint64_t target_id) {
  std::shared_ptr<Endpoint> leader;
  uint64_t leader_id = 0;
  for (const std::string& address : EndpointAddresses()) {
    auto status = Status(address);
    if (status.ok() && status->leader() == status->header().member_id()) {
      leader = EndpointFor(address);
      leader_id = status->leader();
      break;
    }
  }
  if (leader == nullptr) return absl::UnavailableError("no leader endpoint given at [" +
                                                       absl::StrJoin(EndpointAddresses(), " ") + "]");
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + options_.command_timeout));
  etcdserverpb::MoveLeaderRequest request;
  request.set_targetid(target_id);
  etcdserverpb::MoveLeaderResponse response;
  grpc::Status s = leader->maintenance->MoveLeader(&ctx, request, &response);
  if (!s.ok()) return IsTransient(s) ? OutcomeUnknown(s) : FromGrpc(s);
  return std::make_pair(leader_id, response);
}

absl::StatusOr<int64_t> Client::SnapshotSave(const std::string& path) {
  const std::string part = path + ".part";
  int64_t written_bytes = 0;
  // Reading a snapshot changes nothing: on failure start over on another endpoint.
  absl::Status s = Invoke(Retry::kSafe, absl::Minutes(10), [&](Endpoint& e, grpc::ClientContext& ctx) {
    int fd = ::open(part.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "could not open " + part);
    written_bytes = 0;
    auto stream = e.maintenance->Snapshot(&ctx, {});
    etcdserverpb::SnapshotResponse chunk;
    bool write_ok = true;
    while (write_ok && stream->Read(&chunk)) {
      const std::string& blob = chunk.blob();
      write_ok = ::write(fd, blob.data(), blob.size()) == static_cast<ssize_t>(blob.size());
      written_bytes += static_cast<int64_t>(blob.size());
    }
    if (!write_ok) ctx.TryCancel();
    grpc::Status status = stream->Finish();
    write_ok = write_ok && ::fsync(fd) == 0;
    ::close(fd);
    if (!write_ok) return grpc::Status(grpc::StatusCode::INTERNAL, "could not write " + part);
    return status;
  });
  if (!s.ok()) {
    ::unlink(part.c_str());
    return s;
  }
  if (::rename(part.c_str(), path.c_str()) != 0) return absl::InternalError("could not rename " + part);
  return written_bytes;
}

// ---- Concurrency ----

absl::StatusOr<v3lockpb::LockResponse> Client::Lock(std::string_view name, int64_t lease,
                                                    absl::Duration timeout) {
  v3lockpb::LockRequest request;
  request.set_name(std::string(name));
  request.set_lease(lease);
  v3lockpb::LockResponse response;
  absl::Status s = Invoke(Retry::kOnce, timeout, [&](Endpoint& e, grpc::ClientContext& ctx) {
    return e.lock->Lock(&ctx, request, &response);
  });
  if (!s.ok()) return s;
  return response;
}

absl::StatusOr<v3lockpb::UnlockResponse> Client::Unlock(std::string_view key) {
  v3lockpb::UnlockRequest request;
  request.set_key(std::string(key));
  v3lockpb::UnlockResponse response;
  absl::Status s = Invoke(Retry::kSafe, [&](Endpoint& e, grpc::ClientContext& ctx) {
    return e.lock->Unlock(&ctx, request, &response);
  });
  if (!s.ok()) return s;
  return response;
}

absl::StatusOr<v3electionpb::CampaignResponse> Client::Campaign(std::string_view name, int64_t lease,
                                                                std::string_view value,
                                                                absl::Duration timeout) {
  v3electionpb::CampaignRequest request;
  request.set_name(std::string(name));
  request.set_lease(lease);
  request.set_value(std::string(value));
  v3electionpb::CampaignResponse response;
  absl::Status s = Invoke(Retry::kOnce, timeout, [&](Endpoint& e, grpc::ClientContext& ctx) {
    return e.election->Campaign(&ctx, request, &response);
  });
  if (!s.ok()) return s;
  return response;
}

absl::StatusOr<v3electionpb::ProclaimResponse> Client::Proclaim(const v3electionpb::LeaderKey& leader,
                                                                std::string_view value) {
  v3electionpb::ProclaimRequest request;
  *request.mutable_leader() = leader;
  request.set_value(std::string(value));
  v3electionpb::ProclaimResponse response;
  // Proclaiming the same value twice leaves the same state.
  absl::Status s = Invoke(Retry::kSafe, [&](Endpoint& e, grpc::ClientContext& ctx) {
    return e.election->Proclaim(&ctx, request, &response);
  });
  if (!s.ok()) return s;
  return response;
}

absl::StatusOr<v3electionpb::LeaderResponse> Client::Leader(std::string_view name) {
  v3electionpb::LeaderRequest request;
  request.set_name(std::string(name));
  v3electionpb::LeaderResponse response;
  absl::Status s = Invoke(Retry::kSafe, [&](Endpoint& e, grpc::ClientContext& ctx) {
    response.Clear();
    return e.election->Leader(&ctx, request, &response);
  });
  if (!s.ok()) return s;
  return response;
}

absl::StatusOr<v3electionpb::ResignResponse> Client::Resign(const v3electionpb::LeaderKey& leader) {
  v3electionpb::ResignRequest request;
  *request.mutable_leader() = leader;
  v3electionpb::ResignResponse response;
  // Resign deletes the leader key only if its create revision matches: idempotent.
  absl::Status s = Invoke(Retry::kSafe, [&](Endpoint& e, grpc::ClientContext& ctx) {
    return e.election->Resign(&ctx, request, &response);
  });
  if (!s.ok()) return s;
  return response;
}

absl::Status Client::Observe(std::string_view name, absl::Duration timeout,
                             const std::function<bool(const v3electionpb::LeaderResponse&)>& on_leader) {
  std::shared_ptr<Endpoint> e = PreferredEndpoint();
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  v3electionpb::LeaderRequest request;
  request.set_name(std::string(name));
  auto stream = e->election->Observe(&ctx, request);
  v3electionpb::LeaderResponse response;
  while (stream->Read(&response)) {
    if (!on_leader(response)) {
      ctx.TryCancel();
      stream->Finish().IgnoreError();
      return absl::OkStatus();
    }
  }
  grpc::Status s = stream->Finish();
  if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) return absl::OkStatus();
  return FromGrpc(s);
}

}  // namespace keel::client
