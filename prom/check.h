// KEEL_PROM_CHECK: an assertion that stays on in optimised builds (Debian's Abseil has no
// absl/log). A metric with broken bucket bounds would export nonsense that promtool and
// every dashboard accept silently; we would rather stop at the file and line.
#ifndef KEEL_PROM_CHECK_H_
#define KEEL_PROM_CHECK_H_

#include <cstdio>
#include <cstdlib>

#define KEEL_PROM_CHECK(condition)                                                         \
  do {                                                                                     \
    if (!(condition)) {                                                                    \
      std::fprintf(stderr, "%s:%d: KEEL_PROM_CHECK failed: %s\n", __FILE__, __LINE__,      \
                   #condition);                                                            \
      std::abort();                                                                        \
    }                                                                                      \
  } while (0)

#endif  // KEEL_PROM_CHECK_H_
