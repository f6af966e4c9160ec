// The common shape of a checker's finding: which guarantee broke, a message a human can act
// on, and (when the checker works on a client history) the operations involved.
#ifndef KEEL_SIM_CHECKERS_VIOLATION_H_
#define KEEL_SIM_CHECKERS_VIOLATION_H_

#include <cstddef>
#include <string>
#include <vector>

namespace keel::sim::checkers {

struct Violation {
  std::string property;     // e.g. "election-safety", "watch-reliable", "stale-read"
  std::string message;      // what was observed and why it breaks the property
  std::vector<size_t> ops;  // indices into the History, when there is one
};

}  // namespace keel::sim::checkers

#endif  // KEEL_SIM_CHECKERS_VIOLATION_H_
