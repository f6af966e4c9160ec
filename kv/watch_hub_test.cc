// Watch hub behaviour at the level of single responses: what etcd's gRPC Watch stream
// sends for each request, and how slow streams are handled. The guarantees over long random
// histories are checked by mvcc_model_test.
#include "kv/watch_hub.h"

#include <memory>

#include "gtest/gtest.h"
#include "kv/testing/requests.h"
#include "kv/testing/temp_dir.h"

namespace keel::kv {
namespace {

using etcdserverpb::WatchCreateRequest;
using etcdserverpb::WatchRequest;
using etcdserverpb::WatchResponse;
using namespace keel::kv::testing;  // NOLINT: request builders

WatchRequest Create(const std::string& key, const std::string& end = "", int64_t start = 0) {
  WatchRequest r;
  r.mutable_create_request()->set_key(key);
  r.mutable_create_request()->set_range_end(end);
  r.mutable_create_request()->set_start_revision(start);
  return r;
}

WatchRequest CancelReq(int64_t id) {
  WatchRequest r;
  r.mutable_cancel_request()->set_watch_id(id);
  return r;
}

class WatchHubTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MvccStoreOptions o;
    o.backend.path = dir_.Sub("db");
    store_ = std::move(*MvccStore::Open(o));
    hub_ = std::make_unique<WatchHub>(store_.get(), options_);
    stream_ = hub_->OpenStream([this](const std::vector<WatchResponse>& rs) {
      if (!accepting_) return false;
      got_.insert(got_.end(), rs.begin(), rs.end());
      return true;
    });
  }
  void Put(const std::string& k, const std::string& v) {
    ASSERT_TRUE(store_->Put(PutReq(k, v)).ok());
  }
  void PumpAll() {
    for (int i = 0; i < 100 && hub_->HasBacklog(); ++i) ASSERT_TRUE(hub_->Pump(100).ok());
  }
  std::vector<WatchResponse> Take() { return std::exchange(got_, {}); }

  TempDir dir_;
  WatchHubOptions options_;
  std::unique_ptr<MvccStore> store_;
  std::unique_ptr<WatchHub> hub_;
  StreamId stream_ = 0;
  bool accepting_ = true;
  std::vector<WatchResponse> got_;
};

TEST_F(WatchHubTest, CreateAssignsIdsLikeEtcd) {
  ASSERT_TRUE(hub_->Handle(stream_, Create("a")).ok());
  ASSERT_TRUE(hub_->Handle(stream_, Create("b")).ok());
  WatchRequest explicit_id = Create("c");
  explicit_id.mutable_create_request()->set_watch_id(7);
  ASSERT_TRUE(hub_->Handle(stream_, explicit_id).ok());
  ASSERT_TRUE(hub_->Handle(stream_, explicit_id).ok());  // duplicate
  ASSERT_TRUE(hub_->Handle(stream_, Create("z", "a")).ok());  // empty range
  auto rs = Take();
  ASSERT_EQ(rs.size(), 5u);
  EXPECT_TRUE(rs[0].created());
  EXPECT_EQ(rs[0].watch_id(), 0);  // etcd's first automatic id is 0
  EXPECT_EQ(rs[1].watch_id(), 1);
  EXPECT_EQ(rs[2].watch_id(), 7);
  EXPECT_EQ(rs[0].header().revision(), 1);
  for (int i : {3, 4}) {
    EXPECT_TRUE(rs[i].created() && rs[i].canceled());
    EXPECT_EQ(rs[i].watch_id(), -1);
  }
  EXPECT_EQ(rs[3].cancel_reason(), "mvcc: duplicate watch ID provided on the WatchStream");
  EXPECT_EQ(rs[4].cancel_reason(), "mvcc: watcher range is empty");
}

TEST_F(WatchHubTest, LiveEventsFiltersAndPrevKv) {
  Put("k", "old");
  WatchRequest w = Create("k");
  w.mutable_create_request()->set_prev_kv(true);
  ASSERT_TRUE(hub_->Handle(stream_, w).ok());
  WatchRequest no_put = Create("k");
  no_put.mutable_create_request()->add_filters(WatchCreateRequest::NOPUT);
  ASSERT_TRUE(hub_->Handle(stream_, no_put).ok());
  Take();
  Put("k", "new");
  ASSERT_TRUE(store_->DeleteRange(DeleteReq("k")).ok());
  auto rs = Take();
  ASSERT_EQ(rs.size(), 3u);  // put to watcher 0; delete to both
  EXPECT_EQ(rs[0].watch_id(), 0);
  EXPECT_EQ(rs[0].header().revision(), 3);
  EXPECT_EQ(rs[0].events(0).kv().value(), "new");
  EXPECT_EQ(rs[0].events(0).prev_kv().value(), "old");
  EXPECT_EQ(rs[1].watch_id(), 0);
  EXPECT_EQ(rs[1].events(0).type(), mvccpb::Event::DELETE);
  EXPECT_EQ(rs[1].events(0).kv().mod_revision(), 4);
  EXPECT_EQ(rs[1].events(0).prev_kv().value(), "new");
  EXPECT_EQ(rs[2].watch_id(), 1);
  EXPECT_EQ(rs[2].events(0).type(), mvccpb::Event::DELETE);
}

TEST_F(WatchHubTest, HistoricalCatchUpAndCancel) {
  Put("p/1", "a");
  Put("q", "x");
  Put("p/2", "b");
  ASSERT_TRUE(hub_->Handle(stream_, Create("p/", "p0", 2)).ok());
  EXPECT_EQ(hub_->unsynced_count(), 1u);
  PumpAll();
  auto rs = Take();
  ASSERT_EQ(rs.size(), 2u);
  ASSERT_EQ(rs[1].events_size(), 2);
  EXPECT_EQ(rs[1].events(0).kv().key(), "p/1");
  EXPECT_EQ(rs[1].events(1).kv().key(), "p/2");
  EXPECT_EQ(rs[1].header().revision(), 4);
  EXPECT_EQ(hub_->synced_count(), 1u);
  ASSERT_TRUE(hub_->Handle(stream_, CancelReq(0)).ok());
  ASSERT_TRUE(hub_->Handle(stream_, CancelReq(42)).ok());  // unknown: no answer
  rs = Take();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_TRUE(rs[0].canceled());
  EXPECT_EQ(rs[0].watch_id(), 0);
  Put("p/3", "c");
  EXPECT_TRUE(Take().empty());
}

TEST_F(WatchHubTest, CompactedStartIsCanceledWithCompactRevision) {
  for (int i = 0; i < 4; ++i) Put("k", std::to_string(i));  // revs 2..5
  ASSERT_TRUE(store_->Compact(CompactReq(4)).ok());
  ASSERT_TRUE(hub_->Handle(stream_, Create("k", "", 3)).ok());
  ASSERT_TRUE(hub_->Handle(stream_, Create("k", "", 4)).ok());  // etcd allows the compact rev
  PumpAll();
  auto rs = Take();
  ASSERT_EQ(rs.size(), 4u);
  EXPECT_TRUE(rs[0].created());
  EXPECT_TRUE(rs[1].created());
  EXPECT_EQ(rs[2].watch_id(), 0);
  EXPECT_TRUE(rs[2].canceled());
  EXPECT_EQ(rs[2].compact_revision(), 4);
  EXPECT_EQ(rs[3].watch_id(), 1);
  ASSERT_EQ(rs[3].events_size(), 2);
  EXPECT_EQ(rs[3].events(0).kv().mod_revision(), 4);
}

TEST_F(WatchHubTest, DeletionAtTheCompactRevisionReachesALateWatcher) {
  Put("k", "v");                                           // rev 2
  ASSERT_TRUE(store_->DeleteRange(DeleteReq("k")).ok());  // rev 3
  ASSERT_TRUE(store_->Compact(CompactReq(3)).ok());
  ASSERT_TRUE(hub_->Handle(stream_, Create("k", "", 3)).ok());
  PumpAll();
  auto rs = Take();
  ASSERT_EQ(rs.size(), 2u);
  ASSERT_EQ(rs[1].events_size(), 1);  // etcd 3.4 would have lost this event
  EXPECT_EQ(rs[1].events(0).type(), mvccpb::Event::DELETE);
}

TEST_F(WatchHubTest, SlowStreamNeverBlocksWritersAndCatchesUpInOrder) {
  ASSERT_TRUE(hub_->Handle(stream_, Create("k")).ok());
  Take();
  accepting_ = false;
  for (int i = 0; i < 50; ++i) Put("k", std::to_string(i));  // revs 2..51, all refused
  EXPECT_EQ(hub_->unsynced_count(), 1u);
  accepting_ = true;
  ASSERT_TRUE(hub_->Pump(10).ok());  // one bounded step
  auto rs = Take();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].events_size(), 10);
  EXPECT_EQ(rs[0].header().revision(), 11);  // bookmarks only what was read
  EXPECT_TRUE(hub_->HasBacklog());
  PumpAll();
  rs = Take();
  int64_t next = 12;
  for (const auto& r : rs) {
    for (const auto& ev : r.events()) EXPECT_EQ(ev.kv().mod_revision(), next++);
  }
  EXPECT_EQ(next, 52);
  Put("k", "live");
  EXPECT_EQ(Take().size(), 1u);  // synced again
}

TEST_F(WatchHubTest, EventsNeverOvertakeTheirCreatedResponse) {
  accepting_ = false;
  ASSERT_TRUE(hub_->Handle(stream_, Create("k")).ok());
  Put("k", "1");
  accepting_ = true;
  PumpAll();
  auto rs = Take();
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_TRUE(rs[0].created());
  EXPECT_EQ(rs[1].events(0).kv().value(), "1");
}

TEST_F(WatchHubTest, StreamProgressWaitsForCatchUp) {
  Put("k", "1");
  ASSERT_TRUE(hub_->Handle(stream_, Create("k", "", 2)).ok());  // unsynced
  WatchRequest progress;
  progress.mutable_progress_request();
  ASSERT_TRUE(hub_->Handle(stream_, progress).ok());
  auto rs = Take();
  ASSERT_EQ(rs.size(), 1u);  // only "created": progress must not bookmark past rev 2
  PumpAll();
  rs = Take();
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[0].events_size(), 1);
  EXPECT_EQ(rs[1].watch_id(), -1);
  EXPECT_EQ(rs[1].events_size(), 0);
  EXPECT_EQ(rs[1].header().revision(), 2);
}

TEST_F(WatchHubTest, ProgressTickNotifiesIdleWatchersThatAsked) {
  WatchRequest w = Create("k");
  w.mutable_create_request()->set_progress_notify(true);
  ASSERT_TRUE(hub_->Handle(stream_, w).ok());
  ASSERT_TRUE(hub_->Handle(stream_, Create("k")).ok());  // did not ask
  Put("other", "x");
  Take();
  hub_->ProgressTick();
  auto rs = Take();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].watch_id(), 0);
  EXPECT_EQ(rs[0].header().revision(), 2);
  Put("k", "1");
  Take();
  hub_->ProgressTick();  // it saw events since the last tick: no notification
  EXPECT_TRUE(Take().empty());
}

TEST_F(WatchHubTest, LargeResponsesAreFragmentedOnRequest) {
  hub_.reset();  // one hub per store
  hub_ = std::make_unique<WatchHub>(store_.get(), WatchHubOptions{200, 1024, 100});
  stream_ = hub_->OpenStream([this](const std::vector<WatchResponse>& rs) {
    got_.insert(got_.end(), rs.begin(), rs.end());
    return true;
  });
  WatchRequest w = Create("k", std::string(1, '\0'));
  w.mutable_create_request()->set_fragment(true);
  ASSERT_TRUE(hub_->Handle(stream_, w).ok());
  ASSERT_TRUE(hub_->Handle(stream_, Create("k", std::string(1, '\0'))).ok());
  Take();
  etcdserverpb::TxnRequest t;
  for (int i = 0; i < 10; ++i) {
    *t.add_success() = PutOp("k" + std::to_string(i), std::string(60, 'v'));
  }
  ASSERT_TRUE(store_->Txn(t).ok());
  auto rs = Take();
  int fragmented_events = 0;
  size_t i = 0;
  for (; i < rs.size() && rs[i].watch_id() == 0; ++i) {
    EXPECT_EQ(rs[i].fragment(), i + 1 < rs.size() && rs[i + 1].watch_id() == 0);
    EXPECT_LE(rs[i].ByteSizeLong(), 200u + 100u);
    fragmented_events += rs[i].events_size();
  }
  EXPECT_GT(i, 1u);
  EXPECT_EQ(fragmented_events, 10);
  ASSERT_EQ(rs.size(), i + 1);  // the other watcher gets one whole response
  EXPECT_EQ(rs[i].events_size(), 10);
  EXPECT_FALSE(rs[i].fragment());
}

}  // namespace
}  // namespace keel::kv
