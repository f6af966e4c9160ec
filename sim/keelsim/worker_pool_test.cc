#include "sim/keelsim/worker_pool.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace keel::sim {
namespace {

using ::testing::HasSubstr;

// Workers are small shell loops: what matters here is the pool's bookkeeping of real
// processes (answers, deaths, replacements), not what the worker computes.
WorkerPoolOptions Shell(const std::string& script, int workers) {
  WorkerPoolOptions options;
  options.argv = {"/bin/sh", "-c", script};
  options.workers = workers;
  return options;
}

std::vector<std::string> Items(int n) {
  std::vector<std::string> items;
  for (int i = 1; i <= n; ++i) items.push_back(absl::StrCat(i));
  return items;
}

TEST(WorkerPoolTest, EveryItemIsAnsweredOnceByItsOwnLine) {
  std::map<std::string, std::string> answers;
  const absl::Status s = RunInWorkers(
      Shell("while read x; do echo \"answer $x\"; done", 3), Items(50),
      [&](const std::string& item, const WorkerOutcome& o) {
        EXPECT_FALSE(o.crashed) << o.crash;
        EXPECT_TRUE(answers.emplace(item, o.line).second) << "item " << item << " twice";
        return true;
      });
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_EQ(answers.size(), 50u);
  for (const auto& [item, line] : answers) EXPECT_EQ(line, "answer " + item);
}

TEST(WorkerPoolTest, AWorkerThatDiesOnAnItemReportsItAndTheRestStillRun) {
  std::map<std::string, WorkerOutcome> outcomes;
  const absl::Status s = RunInWorkers(
      Shell("while read x; do "
            "  if [ \"$x\" = 7 ] || [ \"$x\" = 12 ]; then echo \"invariant violated on $x\" >&2; kill -ABRT $$; fi; "
            "  echo \"ok $x\"; "
            "done",
            2),
      Items(20), [&](const std::string& item, const WorkerOutcome& o) {
        outcomes[item] = o;
        return true;
      });
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_EQ(outcomes.size(), 20u);
  for (const auto& [item, o] : outcomes) {
    if (item == "7" || item == "12") {
      EXPECT_TRUE(o.crashed) << item;
      EXPECT_THAT(o.crash, HasSubstr("killed by signal 6"));
      EXPECT_THAT(o.crash, HasSubstr("invariant violated on " + item));
    } else {
      EXPECT_FALSE(o.crashed) << item << ": " << o.crash;
      EXPECT_EQ(o.line, "ok " + item);
    }
  }
}

TEST(WorkerPoolTest, AWorkerThatExitsWithoutAnsweringIsACrash) {
  std::vector<WorkerOutcome> outcomes;
  const absl::Status s = RunInWorkers(Shell("read x; exit 3", 1), Items(2),
                                      [&](const std::string&, const WorkerOutcome& o) {
                                        outcomes.push_back(o);
                                        return true;
                                      });
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_EQ(outcomes.size(), 2u);
  for (const WorkerOutcome& o : outcomes) {
    EXPECT_TRUE(o.crashed);
    EXPECT_THAT(o.crash, HasSubstr("exited with status 3"));
  }
}

TEST(WorkerPoolTest, StoppingHandsOutNothingMoreButReportsWhatRan) {
  int reported = 0;
  const absl::Status s = RunInWorkers(Shell("while read x; do echo \"ok $x\"; done", 2), Items(100),
                                      [&](const std::string&, const WorkerOutcome&) {
                                        ++reported;
                                        return false;
                                      });
  ASSERT_TRUE(s.ok()) << s;
  // Two workers had one item each when the first answer said stop.
  EXPECT_GE(reported, 1);
  EXPECT_LE(reported, 2);
}

TEST(WorkerPoolTest, AWorkerThatCannotStartIsAnError) {
  WorkerPoolOptions options;
  options.argv = {"/nonexistent/keelsim-worker"};
  const absl::Status s = RunInWorkers(options, Items(3), [](const std::string&, const WorkerOutcome&) {
    return true;
  });
  // glibc's posix_spawn (since 2.24) reports a failed exec as its own error.
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("cannot start worker"));
}

}  // namespace
}  // namespace keel::sim
