// KEEL_SIM_CHECK: an assertion that stays on in optimised builds.
//
// The simulator is a test harness: a broken invariant here (an event run twice, a timer
// fired early, a queue grown without bound) would silently invalidate every run built on
// top of it, and sweeps run with -c opt. So sim/ checks loudly in every build mode.
#ifndef KEEL_SIM_CHECK_H_
#define KEEL_SIM_CHECK_H_

#include <cstdio>
#include <cstdlib>

#define KEEL_SIM_CHECK(condition)                                                   \
  do {                                                                              \
    if (!(condition)) {                                                             \
      std::fprintf(stderr, "%s:%d: KEEL_SIM_CHECK failed: %s\n", __FILE__, __LINE__, \
                   #condition);                                                     \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

#endif  // KEEL_SIM_CHECK_H_
