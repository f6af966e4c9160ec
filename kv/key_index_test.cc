// Key index behaviour, with cases taken from etcd's mvcc/key_index_test.go so that the
// semantics (which revision is visible, what compaction keeps) are etcd's exactly.
#include "kv/key_index.h"

#include "gtest/gtest.h"

namespace keel::kv {
namespace {

// etcd's newTestKeyIndex:
//   {2.0, 4.0, 6.0(t)} {8.0, 10.0, 12.0(t)} {14.0, 14.1, 16.0(t)} {}
KeyIndex TestKeyIndex() {
  KeyIndex ki("foo");
  ki.Put({2, 0});
  ki.Put({4, 0});
  EXPECT_TRUE(ki.Tombstone({6, 0}));
  ki.Put({8, 0});
  ki.Put({10, 0});
  EXPECT_TRUE(ki.Tombstone({12, 0}));
  ki.Put({14, 0});
  ki.Put({14, 1});
  EXPECT_TRUE(ki.Tombstone({16, 0}));
  return ki;
}

TEST(KeyIndexTest, GetAfterCompactionMatchesEtcd) {
  KeyIndex ki = TestKeyIndex();
  RevisionSet available;
  ki.Compact(4, &available);
  struct Case {
    int64_t rev;
    bool found;
    Revision modified, created;
    int64_t version;
  };
  const Case cases[] = {
      {17, false, {}, {}, 0},      {16, false, {}, {}, 0},      {15, true, {14, 1}, {14, 0}, 2},
      {14, true, {14, 1}, {14, 0}, 2}, {13, false, {}, {}, 0},  {12, false, {}, {}, 0},
      {11, true, {10, 0}, {8, 0}, 2},  {10, true, {10, 0}, {8, 0}, 2}, {9, true, {8, 0}, {8, 0}, 1},
      {8, true, {8, 0}, {8, 0}, 1},    {7, false, {}, {}, 0},   {6, false, {}, {}, 0},
      {5, true, {4, 0}, {2, 0}, 2},    {4, true, {4, 0}, {2, 0}, 2}, {3, false, {}, {}, 0},
      {2, false, {}, {}, 0},           {1, false, {}, {}, 0},   {0, false, {}, {}, 0},
  };
  for (const Case& c : cases) {
    auto got = ki.Get(c.rev);
    ASSERT_EQ(got.has_value(), c.found) << "rev " << c.rev;
    if (!c.found) continue;
    EXPECT_EQ(got->modified, c.modified) << "rev " << c.rev;
    EXPECT_EQ(got->created, c.created) << "rev " << c.rev;
    EXPECT_EQ(got->version, c.version) << "rev " << c.rev;
  }
}

TEST(KeyIndexTest, SinceMatchesEtcd) {
  KeyIndex ki = TestKeyIndex();
  auto revs = [](std::initializer_list<Revision> l) { return std::vector<Revision>(l); };
  EXPECT_EQ(ki.Since(17), revs({}));
  EXPECT_EQ(ki.Since(16), revs({{16, 0}}));
  EXPECT_EQ(ki.Since(14), revs({{14, 1}, {16, 0}}));  // last change per main revision
  EXPECT_EQ(ki.Since(12), revs({{12, 0}, {14, 1}, {16, 0}}));
  EXPECT_EQ(ki.Since(1), revs({{2, 0}, {4, 0}, {6, 0}, {8, 0}, {10, 0}, {12, 0}, {14, 1},
                               {16, 0}}));
}

TEST(KeyIndexTest, CompactAndKeepMatchEtcd) {
  struct Case {
    int64_t at;
    size_t generations;
    std::vector<Revision> first_revs;  // revisions of the first generation left
    RevisionSet available;
  };
  const Case cases[] = {
      {1, 4, {{2, 0}, {4, 0}, {6, 0}}, {}},
      {2, 4, {{2, 0}, {4, 0}, {6, 0}}, {{2, 0}}},
      {5, 4, {{4, 0}, {6, 0}}, {{4, 0}}},
      // The first generation ends at or before 6: its tombstone is all that would be left,
      // so it goes, and the tombstone is not kept.
      {6, 3, {{8, 0}, {10, 0}, {12, 0}}, {}},
      {7, 3, {{8, 0}, {10, 0}, {12, 0}}, {}},
      {9, 3, {{8, 0}, {10, 0}, {12, 0}}, {{8, 0}}},
      {11, 3, {{10, 0}, {12, 0}}, {{10, 0}}},
      {12, 2, {{14, 0}, {14, 1}, {16, 0}}, {}},
      {15, 2, {{14, 1}, {16, 0}}, {{14, 1}}},
      {16, 1, {}, {}},
  };
  for (const Case& c : cases) {
    KeyIndex ki = TestKeyIndex();
    RevisionSet keep;
    ki.Keep(c.at, &keep);
    RevisionSet available;
    ki.Compact(c.at, &available);
    EXPECT_EQ(available, c.available) << "at " << c.at;
    EXPECT_EQ(keep, c.available) << "keep at " << c.at;
    ASSERT_EQ(ki.generations().size(), c.generations) << "at " << c.at;
    EXPECT_EQ(ki.generations()[0].revs, c.first_revs) << "at " << c.at;
    EXPECT_EQ(ki.IsEmpty(), c.at == 16);
  }
}

TEST(KeyIndexTest, CompactionIsIncremental) {
  // Compacting step by step ends where compacting at once does (etcd's
  // TestKeyIndexCompactAndKeep runs both ways).
  for (int64_t target = 1; target <= 17; ++target) {
    KeyIndex once = TestKeyIndex();
    KeyIndex steps = TestKeyIndex();
    RevisionSet a, b;
    once.Compact(target, &a);
    for (int64_t r = 1; r <= target; ++r) {
      RevisionSet ignored;
      steps.Compact(r, &ignored);
    }
    EXPECT_TRUE(once == steps) << "target " << target;
  }
}

TEST(KeyIndexTest, TombstoneNeedsLiveKey) {
  KeyIndex ki("k");
  ki.Put({2, 0});
  EXPECT_TRUE(ki.Tombstone({3, 0}));
  EXPECT_FALSE(ki.Tombstone({4, 0}));  // already deleted
  ki.Put({5, 0});
  auto l = ki.Get(5);
  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(l->created, (Revision{5, 0}));
  EXPECT_EQ(l->version, 1);  // a new generation restarts the version
}

TEST(KeyIndexTest, RestoreStartsFromTheFirstSurvivingRecord) {
  KeyIndex ki("k");
  ki.Restore({3, 0}, {7, 1}, 4);
  auto l = ki.Get(7);
  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(l->created, (Revision{3, 0}));
  EXPECT_EQ(l->version, 4);
  ki.Put({9, 0});
  EXPECT_EQ(ki.Get(9)->version, 5);
  EXPECT_FALSE(ki.Get(6).has_value());
}

TEST(TreeIndexTest, RangeShapesAndCompaction) {
  TreeIndex index;
  index.Put("a", {2, 0});
  index.Put("b", {3, 0});
  index.Put("c", {4, 0});
  ASSERT_TRUE(index.Tombstone("b", {5, 0}));
  EXPECT_FALSE(index.Tombstone("zz", {6, 0}));
  const std::string all(1, '\0');
  EXPECT_EQ(index.Count({"a", ""}, 5), 1);
  EXPECT_EQ(index.Count({"a", all}, 5), 2);
  EXPECT_EQ(index.Count({"a", all}, 4), 3);
  EXPECT_EQ(index.Count({"b", "c"}, 4), 1);
  EXPECT_EQ(index.Count({"b", "c"}, 5), 0);
  const auto r = index.Range({"a", "d"}, 4);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[1].first, "b");
  EXPECT_EQ(r[1].second, (Revision{3, 0}));

  const RevisionSet keep = index.Keep(5);
  const RevisionSet available = index.Compact(5);
  EXPECT_EQ(keep, available);
  EXPECT_EQ(available, (RevisionSet{{2, 0}, {4, 0}}));
  EXPECT_EQ(index.size(), 2u);  // "b" is gone entirely
  EXPECT_EQ(index.Find("b"), nullptr);
}

}  // namespace
}  // namespace keel::kv
