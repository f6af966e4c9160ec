#include "sim/keelsim/results_merge.h"

#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace keel::sim {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

Provenance Shard(uint64_t k, uint64_t n, const std::string& commit = "abc123") {
  Provenance p;
  p.commit = commit;
  p.tree = "clean";
  p.binary_sha256 = absl::StrCat("sha-of-", commit);
  p.build = "mode=opt optimize=1 ndebug=1 sanitized=0";
  p.first_seed = 1;
  p.last_seed = 12;
  p.shard_index = k;
  p.shard_count = n;
  return p;
}

// A finished shard's file: provenance, one result per covered seed (seed 5 fails), done.
std::string ShardFile(const Provenance& p, bool done = true) {
  std::string out = p.ToJsonLine() + "\n";
  for (uint64_t seed = p.first_seed; seed <= p.last_seed; ++seed) {
    if (!p.Covers(seed)) continue;
    RunResult r;
    r.seed = seed;
    r.ok = seed != 5;
    r.checker = r.ok ? "" : "liveness";
    r.trace_hash = absl::StrCat("hash", seed);
    r.sim_seconds = 10;
    r.coverage["fault.crash"] = seed;
    absl::StrAppend(&out, SweepReport::ToJsonLine(r, ""), "\n");
  }
  if (done) absl::StrAppend(&out, ShardDoneJsonLine(3, 2.0, false), "\n");
  return out;
}

ResultsMerge MergeOf(const std::vector<std::string>& files) {
  ResultsMerge merge;
  for (size_t i = 0; i < files.size(); ++i) {
    std::istringstream in(files[i]);
    const absl::Status s = merge.AddFile(absl::StrCat("f", i), in);
    EXPECT_TRUE(s.ok()) << s;
  }
  return merge;
}

TEST(ResultsMergeTest, CompleteShardsAddUpToTheWholeSweep) {
  ResultsMerge merge = MergeOf({ShardFile(Shard(0, 4)), ShardFile(Shard(1, 4)), ShardFile(Shard(2, 4)),
                                ShardFile(Shard(3, 4))});
  EXPECT_THAT(merge.Problems(false), IsEmpty());
  EXPECT_EQ(merge.report().passed(), 11u);
  EXPECT_EQ(merge.report().failed(), 1u);
  EXPECT_EQ(merge.report().FailuresByChecker(), "failures by checker: liveness=1");
  // fault.crash counted seed times in every seed: 1+...+12.
  EXPECT_THAT(merge.report().CoverageTable(), HasSubstr("| fault.crash | 78 | 12 |"));
  // Four shards of 30 simulated s in 2 wall s each: 15 sim s per wall s each, 60 together.
  EXPECT_THAT(merge.SpeedLine(), HasSubstr("speed: 60.0 simulated seconds per wall second summed over 4"));
  // The merged file is itself one complete sweep, shard 0/1 of 1-12, in seed order.
  ResultsMerge again = MergeOf({merge.MergedFile()});
  EXPECT_THAT(again.Problems(false), IsEmpty());
  EXPECT_EQ(again.report().passed(), 11u);
  EXPECT_THAT(merge.MergedFile(), HasSubstr("\"shard\":\"0/1\""));
}

TEST(ResultsMergeTest, MissingShardIsNamed) {
  ResultsMerge merge = MergeOf({ShardFile(Shard(0, 4)), ShardFile(Shard(1, 4)), ShardFile(Shard(3, 4))});
  const std::string problems = absl::StrJoin(merge.Problems(false), "\n");
  EXPECT_THAT(problems, HasSubstr("missing shards of seeds 1-12 in 4 shards: 2 "));
  // Shard 2's seeds are not "missing seeds" of a present shard; the shard is what is missing.
  EXPECT_THAT(problems, ::testing::Not(HasSubstr("missing seeds")));
}

TEST(ResultsMergeTest, TruncatedShardReportsMissingSeedsAndNoShardDone) {
  std::string truncated = ShardFile(Shard(1, 4), /*done=*/false);
  truncated = truncated.substr(0, truncated.rfind('\n', truncated.size() - 2) + 1);  // drop seed 9 (of 1, 5, 9)
  ResultsMerge merge = MergeOf({ShardFile(Shard(0, 4)), truncated, ShardFile(Shard(2, 4)), ShardFile(Shard(3, 4))});
  const std::string problems = absl::StrJoin(merge.Problems(false), "\n");
  EXPECT_THAT(problems, HasSubstr("missing seeds: 9"));
  EXPECT_THAT(problems, HasSubstr("f1: shard 1/4 of seeds 1-12 did not finish"));
}

TEST(ResultsMergeTest, MixedCommitIsRefusedUnlessAllowed) {
  const std::vector<std::string> files = {ShardFile(Shard(0, 2)), ShardFile(Shard(1, 2, "def456"))};
  const std::string problems = absl::StrJoin(MergeOf(files).Problems(false), "\n");
  EXPECT_THAT(problems, HasSubstr("mixed commits: abc123 in 1 file(s) (f0); def456 in 1 file(s) (f1);"));
  EXPECT_THAT(problems, HasSubstr("mixed binaries"));
  EXPECT_THAT(problems, HasSubstr("--allow-mixed"));
  EXPECT_THAT(MergeOf(files).Problems(true), IsEmpty());
}

TEST(ResultsMergeTest, ModifiedTreeIsADifferentCommit) {
  Provenance dirty = Shard(1, 2);
  dirty.tree = "modified";
  const std::string problems = absl::StrJoin(MergeOf({ShardFile(Shard(0, 2)), ShardFile(dirty)}).Problems(false), "\n");
  EXPECT_THAT(problems, HasSubstr("abc123+modified"));
}

TEST(ResultsMergeTest, DuplicateSeedsAreReportedAndCountedOnce) {
  ResultsMerge merge = MergeOf({ShardFile(Shard(0, 2)), ShardFile(Shard(1, 2)), ShardFile(Shard(1, 2))});
  const std::string problems = absl::StrJoin(merge.Problems(false), "\n");
  EXPECT_THAT(problems, HasSubstr("duplicate seeds (the same seed in two results): 1, 3, 5, 7, 9, 11; "
                                  "every copy has the same verdict and trace hash"));
  EXPECT_EQ(merge.report().passed() + merge.report().failed(), 12u);
}

TEST(ResultsMergeTest, DuplicateWithAnotherTraceHashIsCalledOut) {
  RunResult r;
  r.seed = 2;
  r.ok = true;
  r.trace_hash = "other";
  const std::string extra = Shard(1, 2).ToJsonLine() + "\n" + SweepReport::ToJsonLine(r, "") + "\n";
  const std::string problems =
      absl::StrJoin(MergeOf({ShardFile(Shard(0, 2)), ShardFile(Shard(1, 2)), extra}).Problems(false), "\n");
  EXPECT_THAT(problems, HasSubstr("copies DIFFER in verdict or trace hash for 2"));
  // The extra file's provenance names shard 1, whose seeds are odd: 2 is outside it.
  EXPECT_THAT(problems, HasSubstr("f2: seeds outside shard 1/2 of seeds 1-12: 2"));
}

TEST(ResultsMergeTest, ResultsWithoutProvenanceAreAProblem) {
  RunResult r;
  r.seed = 1;
  r.ok = true;
  const std::string problems =
      absl::StrJoin(MergeOf({SweepReport::ToJsonLine(r, "") + "\n"}).Problems(false), "\n");
  EXPECT_THAT(problems, HasSubstr("f0: 1 results without a provenance line"));
}

TEST(ResultsMergeTest, DifferentBugIsNeverMergeable) {
  Provenance other = Shard(1, 2);
  other.bug = "raft-forget-vote";
  EXPECT_THAT(absl::StrJoin(MergeOf({ShardFile(Shard(0, 2)), ShardFile(other)}).Problems(true), "\n"),
              HasSubstr("mixed bug-zoo entries"));
}

TEST(ResultsMergeTest, GarbageLineIsAnError) {
  ResultsMerge merge;
  std::istringstream in("{\"provenance\":{\"seeds\":\"9-1\",\"shard\":\"0/1\"}}\n");
  EXPECT_FALSE(merge.AddFile("bad", in).ok());
  std::istringstream not_json("seed=1 ok\n");
  EXPECT_FALSE(merge.AddFile("bad", not_json).ok());
}

TEST(ProvenanceTest, LineRoundTrips) {
  const Provenance p = Shard(3, 4);
  absl::StatusOr<Provenance> back = Provenance::FromJsonLine(p.ToJsonLine());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->commit, "abc123");
  EXPECT_EQ(back->shard_index, 3u);
  EXPECT_EQ(back->shard_count, 4u);
  EXPECT_TRUE(back->Covers(7));
  EXPECT_FALSE(back->Covers(8));
}

TEST(ProvenanceTest, BinaryHashIsSha256OfSelf) {
  absl::StatusOr<std::string> sha = SelfSha256();
  ASSERT_TRUE(sha.ok()) << sha.status();
  EXPECT_EQ(sha->size(), 64u);
  EXPECT_EQ(*sha, *SelfSha256());
  const Provenance built = BuildProvenance();
  EXPECT_FALSE(built.commit.empty());
  EXPECT_THAT(built.build, HasSubstr("mode="));
}

}  // namespace
}  // namespace keel::sim
