// The apply path: turns one committed InternalRaftRequest into effects on the MVCC store,
// the lessor, the alarms and the membership, on every member identically, and into the
// response for the client that proposed it (if that client waits on this member).
//
// Determinism is the whole point: the result depends only on the request and the state
// the previous entries left, never on this member's clock or role, so replicas that apply
// the same log hold the same data (checked by the simulator with HashKV). The one input
// from outside, `now_ns`, only seeds the leader-side lease clock (see kv/lease/lessor.h).
#ifndef KEEL_SERVER_APPLIER_H_
#define KEEL_SERVER_APPLIER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "api/etcdserverpb/rpc.pb.h"
#include "env/bug_switches.h"
#include "google/protobuf/message.h"
#include "kv/lease/lessor.h"
#include "kv/mvcc_store.h"
#include "server/alarms.h"
#include "server/auth_jwt.h"
#include "server/auth_store.h"
#include "server/auth_tokens.h"
#include "server/membership.h"
#include "server/serverpb/internal.pb.h"

namespace keel::server {

struct ApplyResult {
  absl::Status status;
  // The typed response (PutResponse, TxnResponse, ...) when status is OK.
  std::unique_ptr<google::protobuf::Message> response;
};

// Fills a response header: cluster and member IDs, the store revision, the Raft term.
struct HeaderInfo {
  uint64_t cluster_id = 0;
  uint64_t member_id = 0;
  uint64_t raft_term = 0;
};

class Applier {
 public:
  // `auth` and `tokens` may be null (no access control: every request is permitted).
  // `jwt`, when set, makes Authenticate sign a JWT instead of assigning a simple token.
  Applier(kv::MvccStore* store, kv::Lessor* lessor, Alarms* alarms, Membership* membership,
          AuthStore* auth = nullptr, SimpleTokens* tokens = nullptr, JwtTokens* jwt = nullptr)
      : store_(store),
        lessor_(lessor),
        alarms_(alarms),
        membership_(membership),
        auth_(auth),
        tokens_(tokens),
        jwt_(jwt) {}

  // `index` is the entry's Raft index (an Authenticate entry's token names it).
  ApplyResult Apply(const serverpb::InternalRaftRequest& request, int64_t now_ns,
                    const HeaderInfo& header, uint64_t index = 0);

  // Deletes every key of a revoked lease in one revision and forgets the lease.
  absl::Status RevokeLease(int64_t lease_id);

  // keelsim's bug zoo (env/bug_switches.h); all off outside it.
  void set_bugs(env::BugSwitches bugs) { bugs_ = bugs; }

 private:
  ApplyResult ApplyLeaseGrant(const etcdserverpb::LeaseGrantRequest& r, int64_t now_ns);
  ApplyResult ApplyLeaseRevoke(const etcdserverpb::LeaseRevokeRequest& r);
  ApplyResult ApplyLeaseCheckpoint(const etcdserverpb::LeaseCheckpointRequest& r,
                                   int64_t now_ns);
  ApplyResult ApplyAlarm(const etcdserverpb::AlarmRequest& r);
  void PersistLease(int64_t lease_id);
  // etcd's authApplierV3: the request's permissions, checked against the auth store as it
  // is when the entry applies (a permission revoked after proposing denies).
  absl::Status CheckPermission(const serverpb::InternalRaftRequest& r, const AuthInfo& who,
                               int64_t now_ns) const;
  absl::Status CheckTxnPermission(const etcdserverpb::TxnRequest& r, const AuthInfo& who) const;
  absl::Status CheckLeasePuts(int64_t lease_id, const AuthInfo& who, int64_t now_ns) const;
  // The Auth requests (server/applier_auth.cc). nullopt: `r` is not one.
  std::optional<ApplyResult> ApplyAuth(const serverpb::InternalRaftRequest& r,
                                       const AuthInfo& who, int64_t now_ns, uint64_t index,
                                       const HeaderInfo& header);

  kv::MvccStore* const store_;
  kv::Lessor* const lessor_;
  Alarms* const alarms_;
  Membership* const membership_;
  env::BugSwitches bugs_;
  AuthStore* const auth_;
  SimpleTokens* const tokens_;
  JwtTokens* const jwt_;
};

// Reads the leases persisted by the apply path (etcd's "lease" bucket), for the lessor to
// restore at start-up or after installing a snapshot.
absl::StatusOr<std::vector<kv::LeaseRecord>> LoadLeases(const kv::Backend& backend);

// Copies `info` and the store's current revision into `response->header`.
template <typename Response>
void FillHeader(const HeaderInfo& info, int64_t revision, Response* response) {
  etcdserverpb::ResponseHeader* h = response->mutable_header();
  h->set_cluster_id(info.cluster_id);
  h->set_member_id(info.member_id);
  h->set_revision(revision);
  h->set_raft_term(info.raft_term);
}

}  // namespace keel::server

#endif  // KEEL_SERVER_APPLIER_H_
