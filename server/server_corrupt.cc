// Corruption checks in the server core: the leader's periodic HashKV comparison
// (--experimental-corrupt-check-time, etcd 3.4's monitorKVHash/checkHashKV), the answer
// every member gives to a peer's HashKV query, and Hash, the whole-backend checksum.
//
// etcd asks its peers over HTTP (GET /members/hashkv on the peer port). Keel asks over the
// peer transport (PeerMessage.hash_query / hash_answer): the same question and answer,
// without a second protocol on the peer port, and keelsim's simulated network carries it
// like any other peer message. The timer is the Loop's, so keelsim drives it too.
#include "absl/strings/str_format.h"
#include "kv/crc32c.h"
#include "base/check.h"
#include "server/corruption_check.h"
#include "server/errors.h"
#include "server/server_impl.h"

namespace keel::server {

namespace {

absl::StatusOr<KvHash> LocalKvHash(kv::MvccStore& store) {
  absl::StatusOr<etcdserverpb::HashKVResponse> r = store.HashKV(0);
  if (!r.ok()) return r.status();
  return KvHash{r->hash(), r->header().revision(), r->compact_revision()};
}

}  // namespace

void ServerImpl::ScheduleCorruptCheck() {
  if (config_.corrupt_check_time_ms <= 0 || stopped_) return;
  corrupt_check_timer_ = loop_->RunAfter(config_.corrupt_check_time_ms * 1'000'000, [this] {
    corrupt_check_timer_ = 0;
    StartCorruptCheck();
    ScheduleCorruptCheck();
  });
}

void ServerImpl::StartCorruptCheck() {
  // One check at a time (a slow peer makes the next one wait), and only the leader checks.
  if (!is_leader_ || hash_check_.has_value() || failed_ || stopped_) return;
  absl::StatusOr<KvHash> local = LocalKvHash(*store_);
  if (!local.ok()) return;  // a poisoned store has already failed the member
  HashCheck& check = hash_check_.emplace();
  check.id = ++last_hash_check_id_;
  check.before = *local;
  serverpb::PeerMessage query;
  query.mutable_hash_query()->set_check_id(check.id);
  query.mutable_hash_query()->set_revision(local->revision);
  for (const serverpb::Member& m : membership_->List()) {
    if (m.id() == member_id_) continue;
    check.waiting.insert(m.id());
    SendPeer(m.id(), query);
  }
  // Bounded: a peer that never answers is skipped (etcd: the request timeout per peer).
  check.timeout = loop_->RunAfter(config_.request_timeout_ms * 1'000'000, [this] {
    hash_check_->timeout = 0;
    FinishCorruptCheck();
  });
  if (check.waiting.empty()) FinishCorruptCheck();
}

void ServerImpl::AnswerHashQuery(uint64_t from, const serverpb::HashKvQuery& query) {
  serverpb::PeerMessage reply;
  serverpb::HashKvAnswer* answer = reply.mutable_hash_answer();
  answer->set_check_id(query.check_id());
  absl::StatusOr<etcdserverpb::HashKVResponse> r = store_->HashKV(query.revision());
  if (r.ok()) {
    *answer->mutable_response() = *std::move(r);
    answer->mutable_response()->mutable_header()->set_member_id(member_id_);
  } else {
    answer->set_code(static_cast<int>(r.status().code()));
    answer->set_message(std::string(r.status().message()));
  }
  SendPeer(from, reply);
}

void ServerImpl::OnHashAnswer(uint64_t from, const serverpb::HashKvAnswer& answer) {
  if (!hash_check_.has_value() || answer.check_id() != hash_check_->id) return;  // stale
  if (hash_check_->waiting.erase(from) == 0) return;  // unasked or repeated
  PeerHash peer;
  if (answer.code() == 0) {
    peer = ToPeerHash(from, answer.response());
  } else {
    peer.member_id = from;
    peer.error = absl::Status(static_cast<absl::StatusCode>(answer.code()), answer.message());
  }
  hash_check_->peers.push_back(std::move(peer));
  if (hash_check_->waiting.empty()) FinishCorruptCheck();
}

void ServerImpl::FinishCorruptCheck() {
  KEEL_CHECK(hash_check_.has_value());
  HashCheck check = std::move(*hash_check_);
  hash_check_.reset();
  if (check.timeout != 0) loop_->Cancel(check.timeout);
  if (!is_leader_) return;  // etcd checks as leader only; a deposed one gives up
  absl::StatusOr<KvHash> after = LocalKvHash(*store_);
  if (!after.ok()) return;
  std::vector<HashMismatch> found = PeriodicMismatches(member_id_, check.before, *after, check.peers);
  for (const HashMismatch& m : found) {
    Warn(absl::StrFormat("corruption check: member %s: %s", MemberIdHex(m.member_id), m.reason));
  }
  if (found.empty() || corrupt_alarm_proposing_ || alarms_->Has(0, etcdserverpb::CORRUPT)) return;
  // etcd 3.4.23 raises CORRUPT with member ID 0: it cannot tell which side of a mismatch
  // is the corrupt one (etcd-io/etcd#14828). The warning above names the member.
  corrupt_alarm_proposing_ = true;
  serverpb::InternalRaftRequest internal;
  etcdserverpb::AlarmRequest* alarm = internal.mutable_alarm();
  alarm->set_action(etcdserverpb::AlarmRequest::ACTIVATE);
  alarm->set_memberid(0);
  alarm->set_alarm(etcdserverpb::CORRUPT);
  Propose(std::move(internal), [this, alive = std::weak_ptr<const int>(alive_)](ApplyResult) {
    if (!alive.expired()) corrupt_alarm_proposing_ = false;
  });
}

void ServerImpl::Hash(const etcdserverpb::HashRequest&, Callback<etcdserverpb::HashResponse> done) {
  // etcd hashes its bolt file (crc32 Castagnoli over every page). Ours: crc32c over every
  // LevelDB record in key order, each as its raw key then its value, so every bucket (MVCC
  // data, meta with the consistent index, members, leases, alarms, auth) is in it and equal
  // backends hash equally whatever LevelDB's file layout.
  if (absl::Status s = store_->Commit(); !s.ok()) return std::move(done)(s);
  kv::Crc32c crc;
  absl::Status scan = store_->backend().ScanAll([&](std::string_view key, std::string_view value) {
    crc.Update(key);
    crc.Update(value);
    return true;
  });
  if (!scan.ok()) return std::move(done)(scan);
  etcdserverpb::HashResponse response;
  response.set_hash(crc.value());
  FillHeaderNow(&response);
  std::move(done)(std::move(response));
}

void ServerImpl::Warn(std::string_view line) const {
  if (config_.warn_log) config_.warn_log(line);
  DebugLog("%s", std::string(line));
}

}  // namespace keel::server
