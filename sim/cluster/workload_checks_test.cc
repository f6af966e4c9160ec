// The extended workload's checkers on small hand-built histories: each property accepts a
// correct history and names the violation in a broken one.
#include "sim/cluster/workload_checks.h"

#include <utility>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"

namespace keel::sim {
namespace {

mvccpb::Event Put(const std::string& key, const std::string& value, int64_t rev) {
  mvccpb::Event e;
  e.set_type(mvccpb::Event::PUT);
  e.mutable_kv()->set_key(key);
  e.mutable_kv()->set_value(value);
  e.mutable_kv()->set_mod_revision(rev);
  return e;
}

// Two accounts opened at revision 2 (100 each); revision 3 moves 30 from 0 to 1;
// revision 4 puts k000=x.
EventArchive Archive() {
  EventArchive a(nullptr);
  a.Append(2, {Put("ka/00", "100", 2), Put("ka/01", "100", 2)});
  a.Append(3, {Put("ka/00", "70", 3), Put("ka/01", "130", 3)});
  a.Append(4, {Put("k000", "x", 4)});
  return a;
}

ClientOp Op(OpKind kind, int64_t invoke, int64_t complete, int64_t revision) {
  ClientOp op;
  op.kind = kind;
  op.invoke_ns = invoke;
  op.complete_ns = complete;
  op.outcome = Outcome::kOk;
  op.revision = revision;
  return op;
}

ClientOp Transfer(int64_t revision, bool succeeded, int64_t amount) {
  ClientOp op = Op(OpKind::kTransfer, 10, 20, revision);
  op.acct_from = 0;
  op.acct_to = 1;
  op.amount = amount;
  op.balance_from = 100;
  op.balance_to = 100;
  op.expect_mod_from = 2;
  op.expect_mod_to = 2;
  op.cas_succeeded = succeeded;
  return op;
}

ClientOp Audit(int64_t invoke, int64_t revision, std::vector<std::pair<std::string, int64_t>> accounts) {
  ClientOp op = Op(OpKind::kAudit, invoke, invoke + 5, revision);
  for (const auto& [value, mod] : accounts) {
    op.accounts.push_back({absl::StrFormat("ka/%02d", op.accounts.size()), value, mod});
  }
  return op;
}

std::string PropertyOf(const std::optional<checkers::Violation>& v) { return v ? v->property : "ok"; }

TEST(WorkloadChecks, TransfersAndAuditsAgainstTheCommittedLog) {
  const EventArchive archive = Archive();
  const ReferenceState ref(archive);
  std::vector<ClientOp> ops = {Transfer(3, true, 30), Audit(30, 3, {{"70", 3}, {"130", 3}})};
  EXPECT_EQ(PropertyOf(CheckTransfers(ops, ref, 2)), "ok");

  ops[1] = Audit(30, 3, {{"70", 3}, {"100", 2}});  // half a transfer: the total is off
  EXPECT_EQ(PropertyOf(CheckTransfers(ops, ref, 2)), "txn-conserved-total");
  ops[1] = Audit(30, 2, {{"100", 2}, {"100", 2}});  // sent after the transfer's ack, older
  EXPECT_EQ(PropertyOf(CheckTransfers(ops, ref, 2)), "txn-real-time");
  ops[1] = Audit(15, 3, {{"60", 3}, {"140", 3}});   // sums right, but not what was committed
  EXPECT_EQ(PropertyOf(CheckTransfers(ops, ref, 2)), "txn-audit-snapshot");

  ops = {Transfer(3, true, 20)};  // its revision holds other puts than it asked for
  EXPECT_EQ(PropertyOf(CheckTransfers(ops, ref, 2)), "txn-outcome");
  ops = {Transfer(2, false, 30)};  // compares held at revision 2: it must have succeeded
  EXPECT_EQ(PropertyOf(CheckTransfers(ops, ref, 2)), "txn-outcome");
  ops = {Transfer(4, false, 30)};  // at revision 4 the mod_revisions moved on: failure is right
  EXPECT_EQ(PropertyOf(CheckTransfers(ops, ref, 2)), "ok");
}

TEST(WorkloadChecks, HistoricalReadsAndCompaction) {
  const EventArchive archive = Archive();
  const ReferenceState ref(archive);
  ClientOp compact = Op(OpKind::kCompact, 0, 50, 4);
  compact.at_revision = 3;
  ClientOp get = Op(OpKind::kHistGet, 60, 70, 4);
  get.key = "ka/00";
  get.at_revision = 3;
  get.found = true;
  get.read_value = "70";
  get.read_mod_revision = 3;
  EXPECT_EQ(PropertyOf(CheckCompactionReads({compact, get}, ref)), "ok");
  get.read_value = "100";
  EXPECT_EQ(PropertyOf(CheckCompactionReads({compact, get}, ref)), "compact-historical-read");
  get.at_revision = 2;  // below a compaction acknowledged before it was sent: must fail
  get.read_value = "100";
  get.read_mod_revision = 2;
  EXPECT_EQ(PropertyOf(CheckCompactionReads({compact, get}, ref)), "compact-read-below");
  get.outcome = Outcome::kFail;
  get.error = "etcdserver: mvcc: required revision has been compacted";
  EXPECT_EQ(PropertyOf(CheckCompactionReads({compact, get}, ref)), "ok");
  get.at_revision = 3;  // nothing at or above 3 was compacted
  EXPECT_EQ(PropertyOf(CheckCompactionReads({compact, get}, ref)), "compact-spurious-error");
}

TEST(WorkloadChecks, KeptLeaseMustNotExpireBeforeItsKeepAliveAllows) {
  ClientOp grant = Op(OpKind::kLeaseKeep, 0, 1'000'000, 5);
  grant.lease_id = 7;
  grant.ttl = 3;
  grant.key = "klk0.0";
  ClientOp keep = Op(OpKind::kKeepAlive, 2'000'000'000, 2'001'000'000, 6);
  keep.lease_id = 7;
  keep.ttl = 3;
  const std::vector<ClientOp> ops = {grant, keep};
  // Kept alive at 2 s with TTL 3: not before 2 + 3 x 5/6 = 4.5 s.
  EXPECT_EQ(PropertyOf(CheckLeaseKeepAlive(ops, {{7, 4'600'000'000}}, {}, 1)), "ok");
  EXPECT_EQ(PropertyOf(CheckLeaseKeepAlive(ops, {{7, 3'100'000'000}}, {}, 1)), "lease-expired-early");
  // A forward clock step in between excuses it.
  EXPECT_EQ(PropertyOf(CheckLeaseKeepAlive(ops, {{7, 3'100'000'000}}, {2'500'000'000}, 1)), "ok");

  ClientOp ttl = Op(OpKind::kTimeToLive, 2'100'000'000, 2'200'000'000, 6);
  ttl.lease_id = 7;
  ttl.ttl = 4;  // granted 3 + an election timeout's extension (1 s) after a leader change
  ttl.granted_ttl = 3;
  ttl.lease_keys = {"klk0.0"};
  EXPECT_EQ(PropertyOf(CheckLeaseKeepAlive({grant, ttl}, {}, {}, 1)), "ok");
  ttl.ttl = 5;
  EXPECT_EQ(PropertyOf(CheckLeaseKeepAlive({grant, ttl}, {}, {}, 1)), "lease-ttl");
  ttl.ttl = 2;
  ttl.lease_keys.clear();  // alive at revision 6 without the key put at 5
  EXPECT_EQ(PropertyOf(CheckLeaseKeepAlive({grant, ttl}, {}, {}, 1)), "lease-ttl");
}

TEST(WorkloadChecks, SerializableReadsPerMemberIncarnation) {
  const EventArchive archive = Archive();
  const ReferenceState ref(archive);
  ClientOp a = Op(OpKind::kSerializableGet, 0, 10, 4);
  a.key = "k000";
  a.found = true;
  a.read_value = "x";
  a.read_mod_revision = 4;
  ClientOp b = Op(OpKind::kSerializableGet, 20, 30, 3);  // same member, later, older
  b.key = "k000";
  EXPECT_EQ(PropertyOf(CheckSerializableReads({a, b}, ref)), "serializable-monotonic");
  b.incarnation = 1;  // after a restart it may have replayed from further back
  EXPECT_EQ(PropertyOf(CheckSerializableReads({a, b}, ref)), "ok");
  b.found = true;  // k000 did not exist at revision 3
  b.read_value = "x";
  EXPECT_EQ(PropertyOf(CheckSerializableReads({a, b}, ref)), "serializable-prefix");
}

}  // namespace
}  // namespace keel::sim
