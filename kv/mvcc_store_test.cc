// Behaviour of the store that the randomized model test cannot see: persistence and
// recovery, the backend layout, HashKV's exact algorithm, lease hooks, the Env seam.
#include "kv/mvcc_store.h"

#include <filesystem>
#include <map>
#include <memory>

#include "gtest/gtest.h"
#include "kv/crc32c.h"
#include "kv/errors.h"
#include "kv/revision.h"
#include "kv/testing/requests.h"
#include "kv/testing/temp_dir.h"
#include "leveldb/helpers/memenv.h"

namespace keel::kv {
namespace {

using namespace keel::kv::testing;  // NOLINT: request builders

std::unique_ptr<MvccStore> OpenAt(const std::string& path) {
  MvccStoreOptions o;
  o.backend.path = path;
  auto s = MvccStore::Open(o);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? std::move(*s) : nullptr;
}

TEST(MvccStoreTest, RevisionsVersionsAndGenerations) {
  TempDir dir;
  auto store = OpenAt(dir.Sub("db"));
  EXPECT_EQ(store->current_revision(), 1);  // etcd starts at 1; the first write gets 2
  EXPECT_EQ(store->Put(PutReq("k", "a"))->header().revision(), 2);
  EXPECT_EQ(store->Put(PutReq("k", "b"))->header().revision(), 3);
  auto r = store->Range(RangeReq("k"));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->kvs_size(), 1);
  EXPECT_EQ(r->kvs(0).create_revision(), 2);
  EXPECT_EQ(r->kvs(0).mod_revision(), 3);
  EXPECT_EQ(r->kvs(0).version(), 2);
  EXPECT_EQ(store->DeleteRange(DeleteReq("k"))->header().revision(), 4);
  // Deleting nothing creates no revision.
  EXPECT_EQ(store->DeleteRange(DeleteReq("k"))->header().revision(), 4);
  EXPECT_EQ(store->DeleteRange(DeleteReq("k"))->deleted(), 0);
  store->Put(PutReq("k", "c")).IgnoreError();
  r = store->Range(RangeReq("k"));
  EXPECT_EQ(r->kvs(0).create_revision(), 5);
  EXPECT_EQ(r->kvs(0).version(), 1);
  // History stays readable until compacted.
  EXPECT_EQ(store->Range(RangeReq("k", "", 2))->kvs(0).value(), "a");
  EXPECT_EQ(store->Range(RangeReq("k", "", 4))->kvs_size(), 0);
  EXPECT_EQ(store->Range(RangeReq("k", "", 4))->header().revision(), 5);
}

TEST(MvccStoreTest, RangeOptions) {
  TempDir dir;
  auto store = OpenAt(dir.Sub("db"));
  for (const char* k : {"a/1", "a/2", "a/3", "b"}) store->Put(PutReq(k, k)).IgnoreError();
  store->Put(PutReq("a/1", "z")).IgnoreError();  // rev 6
  auto prefix = RangeReq("a/", "a0");
  prefix.set_limit(2);
  auto r = store->Range(prefix);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->count(), 3);
  EXPECT_TRUE(r->more());
  ASSERT_EQ(r->kvs_size(), 2);
  EXPECT_EQ(r->kvs(1).key(), "a/2");

  auto sorted = RangeReq("a", std::string(1, '\0'));
  sorted.set_sort_order(etcdserverpb::RangeRequest::DESCEND);
  sorted.set_sort_target(etcdserverpb::RangeRequest::MOD);
  sorted.set_keys_only(true);
  r = store->Range(sorted);
  ASSERT_EQ(r->kvs_size(), 4);
  EXPECT_EQ(r->kvs(0).key(), "a/1");
  EXPECT_EQ(r->kvs(0).value(), "");
  EXPECT_EQ(r->kvs(1).key(), "b");

  auto filtered = RangeReq("a", std::string(1, '\0'));
  filtered.set_min_create_revision(3);
  filtered.set_max_mod_revision(4);
  r = store->Range(filtered);
  ASSERT_EQ(r->kvs_size(), 2);  // a/2 (rev 3) and a/3 (rev 4); count is before filtering
  EXPECT_EQ(r->count(), 4);

  auto count = RangeReq("a", std::string(1, '\0'));
  count.set_count_only(true);
  r = store->Range(count);
  EXPECT_EQ(r->count(), 4);
  EXPECT_EQ(r->kvs_size(), 0);
}

TEST(MvccStoreTest, TxnIsOneRevisionAndSeesItsOwnWrites) {
  TempDir dir;
  auto store = OpenAt(dir.Sub("db"));
  store->Put(PutReq("x", "1")).IgnoreError();  // rev 2
  etcdserverpb::TxnRequest t;
  auto* c = t.add_compare();
  c->set_key("x");
  c->set_target(etcdserverpb::Compare::VALUE);
  c->set_result(etcdserverpb::Compare::EQUAL);
  c->set_value("1");
  *t.add_success() = PutOp("y", "2");
  *t.add_success() = RangeOp("y");
  *t.add_success() = DeleteOp("x");
  *t.add_failure() = PutOp("never");
  auto r = store->Txn(t);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->succeeded());
  EXPECT_EQ(r->header().revision(), 3);
  EXPECT_EQ(store->current_revision(), 3);
  ASSERT_EQ(r->responses_size(), 3);
  EXPECT_EQ(r->responses(1).response_range().kvs(0).value(), "2");
  EXPECT_EQ(r->responses(1).response_range().header().revision(), 3);
  // Both changes share main revision 3 with sub-revisions 0 and 1.
  std::vector<mvccpb::Event> events;
  ASSERT_EQ(*store->ReadEvents(3, 3, 10, &events), 3);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kv().key(), "y");
  EXPECT_EQ(events[1].type(), mvccpb::Event::DELETE);
  // The same txn now fails its compare and runs the failure branch.
  r = store->Txn(t);
  EXPECT_FALSE(r->succeeded());
  EXPECT_EQ(r->header().revision(), 4);
}

TEST(MvccStoreTest, ReadEventsStopsAtRevisionBoundaries) {
  TempDir dir;
  auto store = OpenAt(dir.Sub("db"));
  etcdserverpb::TxnRequest t;
  for (const char* k : {"a", "b", "c"}) *t.add_success() = PutOp(k);
  ASSERT_TRUE(store->Txn(t).ok());                   // rev 2: three events
  store->Put(PutReq("d", "v")).IgnoreError();        // rev 3
  std::vector<mvccpb::Event> events;
  auto last = store->ReadEvents(2, 3, 1, &events);   // budget 1, but rev 2 is whole
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(*last, 2);
  EXPECT_EQ(events.size(), 3u);
}

TEST(MvccStoreTest, ConsistentIndexIsAtomicWithTheEntry) {
  TempDir dir;
  {
    auto store = OpenAt(dir.Sub("db"));
    store->SetConsistentIndex(5, 2);
    store->Put(PutReq("k", "v")).IgnoreError();
    // No Commit: a crash loses both the write and the index.
  }
  {
    auto store = OpenAt(dir.Sub("db"));
    EXPECT_EQ(store->consistent_index(), 0u);
    EXPECT_EQ(store->Range(RangeReq("k"))->kvs_size(), 0);
    store->SetConsistentIndex(5, 2);
    store->Put(PutReq("k", "v")).IgnoreError();
    store->SetConsistentIndex(6, 2);  // a non-KV entry: nothing but the index changes
    ASSERT_TRUE(store->Commit().ok());
  }
  auto store = OpenAt(dir.Sub("db"));
  EXPECT_EQ(store->consistent_index(), 6u);
  EXPECT_EQ(store->consistent_term(), 2u);
  EXPECT_EQ(store->Range(RangeReq("k"))->kvs_size(), 1);
  EXPECT_EQ(store->current_revision(), 2);
}

TEST(MvccStoreTest, ScheduledCompactionResumesOnOpen) {
  TempDir dir;
  {
    auto store = OpenAt(dir.Sub("db"));
    for (const char* v : {"1", "2", "3"}) store->Put(PutReq("k", v)).IgnoreError();  // 2..4
    ASSERT_TRUE(store->Commit().ok());
  }
  {
    // What a crash between "scheduled" and "finished" leaves behind.
    BackendOptions o;
    o.path = dir.Sub("db");
    auto backend = Backend::Open(o);
    ASSERT_TRUE(backend.ok());
    (*backend)->Put(kMetaBucket, "scheduledCompactRev", EncodeRevision({3, 0}));
    ASSERT_TRUE((*backend)->Commit().ok());
  }
  {
    auto store = OpenAt(dir.Sub("db"));
    EXPECT_EQ(store->compact_revision(), 3);
    EXPECT_EQ(store->Range(RangeReq("k", "", 2)).status(), CompactedError());
    EXPECT_EQ(store->Range(RangeReq("k", "", 3))->kvs(0).value(), "2");
  }
  BackendOptions o;
  o.path = dir.Sub("db");
  auto backend = Backend::Open(o);
  ASSERT_TRUE(backend.ok());
  EXPECT_FALSE((*backend)->Get(kKeyBucket, EncodeRevision({2, 0}))->has_value());
  EXPECT_TRUE((*backend)->Get(kKeyBucket, EncodeRevision({3, 0}))->has_value());
  EXPECT_TRUE((*backend)->Get(kMetaBucket, "finishedCompactRev")->has_value());
}

TEST(MvccStoreTest, CorruptRecordRefusesToOpen) {
  TempDir dir;
  {
    auto store = OpenAt(dir.Sub("db"));
    store->Put(PutReq("k", "v")).IgnoreError();
    ASSERT_TRUE(store->Commit().ok());
  }
  {
    BackendOptions o;
    o.path = dir.Sub("db");
    auto backend = Backend::Open(o);
    ASSERT_TRUE(backend.ok());
    (*backend)->Put(kKeyBucket, "not-a-revision", "junk");
    ASSERT_TRUE((*backend)->Commit().ok());
  }
  MvccStoreOptions o;
  o.backend.path = dir.Sub("db");
  auto store = MvccStore::Open(o);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss);
}

TEST(MvccStoreTest, HashKvIsEtcdsAlgorithm) {
  Crc32c check;
  check.Update("123456789");
  EXPECT_EQ(check.value(), 0xe3069283u);  // the CRC-32C check value

  TempDir dir;
  auto store = OpenAt(dir.Sub("db"));
  store->Put(PutReq("foo", "bar")).IgnoreError();
  mvccpb::KeyValue kv;
  kv.set_key("foo");
  kv.set_create_revision(2);
  kv.set_mod_revision(2);
  kv.set_version(1);
  kv.set_value("bar");
  Crc32c want;  // bucket name, then every (revision key, value) in order
  want.Update("key");
  want.Update(EncodeRevision({2, 0}));
  want.Update(kv.SerializeAsString());
  auto h = store->HashKV(0);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->hash(), want.value());
  EXPECT_EQ(h->compact_revision(), -1);
  EXPECT_EQ(h->header().revision(), 2);
}

TEST(MvccStoreTest, ReplicasWithDifferentBatchingHashAlike) {
  TempDir dir;
  std::vector<std::unique_ptr<MvccStore>> replicas;
  for (size_t batch : {1, 3, 1000}) {
    MvccStoreOptions o;
    o.backend.path = dir.Sub("db" + std::to_string(batch));
    o.compaction_batch_records = batch;
    replicas.push_back(std::move(*MvccStore::Open(o)));
  }
  for (int i = 0; i < 40; ++i) {
    for (size_t r = 0; r < replicas.size(); ++r) {
      auto& s = replicas[r];
      s->SetConsistentIndex(i + 1, 1);
      s->Put(PutReq("k" + std::to_string(i % 7), std::to_string(i))).IgnoreError();
      if (i % 5 == 0) s->DeleteRange(DeleteReq("k1", "k3")).IgnoreError();
      if (i == 20) {
        ASSERT_TRUE(s->Compact(CompactReq(15)).ok());
      }
      if (i % (r + 2) == 0) {
        ASSERT_TRUE(s->Commit().ok());
      }
    }
  }
  for (int64_t rev : {0, 16, 30}) {
    const uint32_t h0 = replicas[0]->HashKV(rev)->hash();
    for (auto& s : replicas) EXPECT_EQ(s->HashKV(rev)->hash(), h0) << rev;
  }
  // A replica that diverges by one value no longer matches.
  replicas[1]->Put(PutReq("k0", "different")).IgnoreError();
  replicas[0]->Put(PutReq("k0", "same")).IgnoreError();
  EXPECT_NE(replicas[0]->HashKV(0)->hash(), replicas[1]->HashKV(0)->hash());
}

class RecordingLessor : public LeaseHooks {
 public:
  bool LeaseExists(int64_t id) const override { return id > 0 && id < 100; }
  void Attach(int64_t id, std::string_view key) override { keys[std::string(key)] = id; }
  void Detach(int64_t id, std::string_view key) override {
    EXPECT_EQ(keys[std::string(key)], id);
    keys.erase(std::string(key));
  }
  std::map<std::string, int64_t> keys;
};

TEST(MvccStoreTest, LeaseHooksFollowKeys) {
  TempDir dir;
  {
    auto store = OpenAt(dir.Sub("db"));
    RecordingLessor lessor;
    store->SetLeaseHooks(&lessor);
    store->Put(PutReq("a", "1", 5)).IgnoreError();
    store->Put(PutReq("b", "1", 5)).IgnoreError();
    store->Put(PutReq("c", "1", 6)).IgnoreError();
    EXPECT_EQ(lessor.keys.size(), 3u);
    store->Put(PutReq("a", "2", 6)).IgnoreError();  // moves a from lease 5 to 6
    auto keep = PutReq("b", "3");
    keep.set_ignore_lease(true);  // keeps lease 5
    store->Put(keep).IgnoreError();
    store->DeleteRange(DeleteReq("c")).IgnoreError();
    EXPECT_EQ(lessor.keys, (std::map<std::string, int64_t>{{"a", 6}, {"b", 5}}));
    ASSERT_TRUE(store->Commit().ok());
  }
  auto store = OpenAt(dir.Sub("db"));
  RecordingLessor lessor;
  store->SetLeaseHooks(&lessor);  // re-attaches what the backend holds
  EXPECT_EQ(lessor.keys, (std::map<std::string, int64_t>{{"a", 6}, {"b", 5}}));
}

TEST(MvccStoreTest, DeleteKeysIsOneRevisionForLeaseRevocation) {
  TempDir dir;
  auto store = OpenAt(dir.Sub("db"));
  RecordingLessor lessor;
  store->SetLeaseHooks(&lessor);
  store->Put(PutReq("a", "1", 5)).IgnoreError();
  store->Put(PutReq("b", "1", 5)).IgnoreError();
  store->Put(PutReq("c", "1")).IgnoreError();  // rev 4
  auto rev = store->DeleteKeys({"b", "a", "missing", "a"});
  ASSERT_TRUE(rev.ok());
  EXPECT_EQ(*rev, 5);
  EXPECT_TRUE(lessor.keys.empty());
  EXPECT_EQ(store->Range(RangeReq("a", "z"))->count(), 1);
  std::vector<mvccpb::Event> events;
  ASSERT_TRUE(store->ReadEvents(5, 5, 10, &events).ok());
  EXPECT_EQ(events.size(), 2u);
  EXPECT_EQ(*store->DeleteKeys({"missing"}), 5);  // nothing deleted, no new revision
}

TEST(MvccStoreTest, RunsOnAnyLevelDbEnvAndCallsTheHook) {
  std::unique_ptr<leveldb::Env> mem(leveldb::NewMemEnv(leveldb::Env::Default()));
  int calls = 0;
  MvccStoreOptions o;
  o.backend.path = "/nonexistent-in-memory/db";
  o.backend.env = mem.get();
  o.backend.after_db_call = [&calls] { ++calls; };
  {
    auto store = MvccStore::Open(o);
    ASSERT_TRUE(store.ok()) << store.status();
    (*store)->Put(PutReq("k", "v")).IgnoreError();
    ASSERT_TRUE((*store)->Commit().ok());
    EXPECT_EQ((*store)->Range(RangeReq("k"))->kvs(0).value(), "v");
  }
  EXPECT_GT(calls, 3);
  EXPECT_FALSE(std::filesystem::exists("/nonexistent-in-memory"));
  auto again = MvccStore::Open(o);  // same in-memory "disk"
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->current_revision(), 2);
}

// A MemEnv whose reads fail while `fail_reads` is set: a transient EIO (or a bit flip that
// a checksum caught) under one replica's apply. Background work runs when drained, as in
// the simulator, so a memtable flush is done before the next call.
class FlakyReadEnv final : public leveldb::EnvWrapper {
 public:
  explicit FlakyReadEnv(leveldb::Env* base) : leveldb::EnvWrapper(base) {}
  bool fail_reads = false;

  leveldb::Status NewRandomAccessFile(const std::string& name, leveldb::RandomAccessFile** result) override {
    leveldb::RandomAccessFile* file = nullptr;
    leveldb::Status s = target()->NewRandomAccessFile(name, &file);
    if (s.ok()) *result = new File(this, file);
    return s;
  }
  void Schedule(void (*function)(void*), void* arg) override { queue_.emplace_back(function, arg); }
  void Drain() {
    for (int round = 0; round < 1000 && !queue_.empty(); ++round) {
      auto [function, arg] = queue_.front();
      queue_.erase(queue_.begin());
      function(arg);
    }
  }

 private:
  class File final : public leveldb::RandomAccessFile {
   public:
    File(FlakyReadEnv* env, leveldb::RandomAccessFile* base) : env_(env), base_(base) {}
    leveldb::Status Read(uint64_t offset, size_t n, leveldb::Slice* result, char* scratch) const override {
      if (env_->fail_reads) return leveldb::Status::IOError("injected EIO on read");
      return base_->Read(offset, n, result, scratch);
    }

   private:
    FlakyReadEnv* const env_;
    std::unique_ptr<leveldb::RandomAccessFile> base_;
  };
  std::vector<std::pair<void (*)(void*), void*>> queue_;
};

// Regression (keelsim with EIO and bit flips on read): a compare that could not read its key
// counted as false, so this replica took the failure branch while the others took the
// success branch, and the next (working) read hid the difference. It must poison the store.
TEST(MvccStoreTest, TxnCompareThatCannotReadPoisonsInsteadOfTakingTheOtherBranch) {
  std::unique_ptr<leveldb::Env> mem(leveldb::NewMemEnv(leveldb::Env::Default()));
  FlakyReadEnv env(mem.get());
  MvccStoreOptions o;
  o.backend.path = "/db";
  o.backend.env = &env;
  o.backend.after_db_call = [&env] { env.Drain(); };
  o.backend.write_buffer_size_bytes = 64 << 10;
  auto store = MvccStore::Open(o);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->Put(PutReq("k", "v")).ok());
  ASSERT_TRUE((*store)->Commit().ok());
  // Enough writes to flush "k" into a table file: its block is in no cache.
  const std::string filler(1024, 'x');
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE((*store)->Put(PutReq("filler" + std::to_string(i), filler)).ok());
    ASSERT_TRUE((*store)->Commit().ok());
  }
  const int64_t revision = (*store)->current_revision();
  etcdserverpb::TxnRequest txn;
  etcdserverpb::Compare* c = txn.add_compare();
  c->set_key("k");
  c->set_target(etcdserverpb::Compare::VALUE);
  c->set_result(etcdserverpb::Compare::EQUAL);
  c->set_value("v");
  txn.add_success()->mutable_request_put()->set_key("then");
  txn.add_failure()->mutable_request_put()->set_key("else");
  env.fail_reads = true;
  absl::StatusOr<etcdserverpb::TxnResponse> r = (*store)->Txn(txn);
  env.fail_reads = false;
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
  EXPECT_FALSE((*store)->poisoned().ok());
  EXPECT_FALSE((*store)->Range(RangeReq("else")).ok());  // never served after the failure
  EXPECT_EQ((*store)->current_revision(), revision);
}

}  // namespace
}  // namespace keel::kv
