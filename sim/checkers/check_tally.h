// CheckTally: which branches of the checkers a run reached (the `check.*` rows of the
// coverage table), so that a sweep's worth can be judged: a checker that only ever took its
// "cannot tell, skip" branch proved nothing, and a pass says so only if the table shows the
// deciding branches ran (sim/README.md, "Coverage").
//
// The checkers call CheckTally::Count("check.<checker>.<branch>") at their decision points;
// it adds to the tally installed on the calling thread by a CheckTally::Scope (keelsim's
// runner installs one per run; the simulator runs one world per thread), and does nothing
// when none is installed (unit tests). Counting never changes a verdict.
#ifndef KEEL_SIM_CHECKERS_CHECK_TALLY_H_
#define KEEL_SIM_CHECKERS_CHECK_TALLY_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace keel::sim::checkers {

class CheckTally {
 public:
  // Installs `tally` on this thread for the scope's lifetime (restoring the previous one).
  class Scope {
   public:
    explicit Scope(CheckTally* tally) : previous_(current_) { current_ = tally; }
    ~Scope() { current_ = previous_; }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    CheckTally* const previous_;
  };

  static void Count(std::string_view name, uint64_t n = 1) {
    if (current_ != nullptr && n > 0) current_->counts_[std::string(name)] += n;
  }

  const std::map<std::string, uint64_t>& counts() const { return counts_; }

 private:
  static inline thread_local CheckTally* current_ = nullptr;
  std::map<std::string, uint64_t> counts_;
};

}  // namespace keel::sim::checkers

#endif  // KEEL_SIM_CHECKERS_CHECK_TALLY_H_
