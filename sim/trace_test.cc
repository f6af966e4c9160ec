#include "sim/trace.h"

#include <sstream>

#include "gtest/gtest.h"

namespace keel::sim {
namespace {

TEST(TraceTest, SameRecordsSameHash) {
  Trace a, b;
  for (Trace* t : {&a, &b}) {
    t->Record(10, 1, "net.send", {{"to", uint64_t{2}}, {"size", 42}});
    t->Record(20, 2, "disk.sync", {{"path", "/d/wal"}, {"ok", true}});
  }
  EXPECT_EQ(a.hash(), b.hash());
  EXPECT_EQ(a.record_count(), 2u);
}

TEST(TraceTest, EveryPartOfARecordChangesTheHash) {
  auto hash_of = [](int64_t t, uint64_t node, std::string_view kind, TraceField f) {
    Trace trace;
    trace.Record(t, node, kind, {f});
    return trace.hash();
  };
  const uint64_t base = hash_of(10, 1, "k", {"x", 1});
  EXPECT_NE(base, hash_of(11, 1, "k", {"x", 1}));
  EXPECT_NE(base, hash_of(10, 2, "k", {"x", 1}));
  EXPECT_NE(base, hash_of(10, 1, "j", {"x", 1}));
  EXPECT_NE(base, hash_of(10, 1, "k", {"y", 1}));
  EXPECT_NE(base, hash_of(10, 1, "k", {"x", 2}));
  EXPECT_NE(base, hash_of(10, 1, "k", {"x", "1"}));  // the type counts
}

TEST(TraceTest, RecordOrderChangesTheHash) {
  Trace a, b;
  a.Record(1, 1, "x");
  a.Record(1, 1, "y");
  b.Record(1, 1, "y");
  b.Record(1, 1, "x");
  EXPECT_NE(a.hash(), b.hash());
}

// Pins the encoding: if this changes, every recorded trace_hash in bug reports and CI
// baselines silently stops matching. The expected value was computed independently:
// the documented byte encoding (t_ns and node as 8-byte little-endian, kind, 0xff, then
// per field key, type tag as 8 bytes, value) written by a few lines of Python, hashed by
// `xxhsum -H3` (Debian's xxhash package).
TEST(TraceTest, HashIsPinned) {
  Trace trace;
  EXPECT_EQ(trace.HashHex().size(), 16u);
  trace.Record(1500, 2, "net.deliver", {{"from", uint64_t{1}}, {"size", 42}});
  EXPECT_EQ(trace.HashHex(), "1a1f7ee09c8d56ad");
}

TEST(TraceTest, JsonLinesSink) {
  std::ostringstream out;
  Trace trace;
  trace.set_json_sink(&out);
  trace.Record(1500, 2, "net.deliver",
               {{"from", uint64_t{1}}, {"delta", -3}, {"ok", false}, {"path", "a\"b\n"}});
  trace.Record(1600, 0, "net.heal");
  EXPECT_EQ(out.str(),
            "{\"t_ns\":1500,\"node\":2,\"kind\":\"net.deliver\",\"detail\":{\"from\":1,"
            "\"delta\":-3,\"ok\":false,\"path\":\"a\\\"b\\n\"}}\n"
            "{\"t_ns\":1600,\"node\":0,\"kind\":\"net.heal\",\"detail\":{}}\n");
}

}  // namespace
}  // namespace keel::sim
