#include "kv/revision.h"

#include <vector>

#include "gtest/gtest.h"

namespace keel::kv {
namespace {

TEST(RevisionTest, EncodingMatchesEtcdLayout) {
  const std::string b = EncodeRevision({0x0102030405060708, 0x1112131415161718});
  ASSERT_EQ(b.size(), 17u);
  EXPECT_EQ(b, std::string("\x01\x02\x03\x04\x05\x06\x07\x08_\x11\x12\x13\x14\x15\x16\x17\x18"));
  const std::string t = EncodeRevision({5, 1}, /*tombstone=*/true);
  ASSERT_EQ(t.size(), 18u);
  EXPECT_EQ(t.back(), 't');
}

TEST(RevisionTest, RoundTrips) {
  for (Revision r : {Revision{0, 0}, Revision{1, 0}, Revision{2, 7}, Revision{INT64_MAX, 3}}) {
    for (bool tomb : {false, true}) {
      auto d = DecodeRevision(EncodeRevision(r, tomb));
      ASSERT_TRUE(d.has_value());
      EXPECT_EQ(d->rev, r);
      EXPECT_EQ(d->tombstone, tomb);
    }
  }
}

TEST(RevisionTest, ByteOrderIsRevisionOrder) {
  // LevelDB iterates keys bytewise; the backend relies on that being revision order,
  // including a tombstone sorting right after a plain record of the same revision.
  const std::vector<Revision> sorted = {{1, 0}, {1, 1}, {1, 255}, {1, 256}, {2, 0}, {255, 0},
                                        {256, 0}, {65536, 3}};
  for (size_t i = 0; i + 1 < sorted.size(); ++i) {
    EXPECT_LT(sorted[i], sorted[i + 1]);
    EXPECT_LT(EncodeRevision(sorted[i]), EncodeRevision(sorted[i + 1]));
    EXPECT_LT(EncodeRevision(sorted[i], true), EncodeRevision(sorted[i + 1]));
  }
}

TEST(RevisionTest, RejectsGarbage) {
  EXPECT_FALSE(DecodeRevision("").has_value());
  EXPECT_FALSE(DecodeRevision(std::string(16, '\0')).has_value());
  std::string bad_sep = EncodeRevision({1, 1});
  bad_sep[8] = '-';
  EXPECT_FALSE(DecodeRevision(bad_sep).has_value());
  std::string bad_mark = EncodeRevision({1, 1}, true);
  bad_mark[17] = 'x';
  EXPECT_FALSE(DecodeRevision(bad_mark).has_value());
  std::string negative = EncodeRevision({1, 1});
  negative[0] = '\x80';
  EXPECT_FALSE(DecodeRevision(negative).has_value());
}

}  // namespace
}  // namespace keel::kv
