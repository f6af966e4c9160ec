// KEEL_ENV_CHECK: an assertion that stays on in optimised builds.
//
// The real Env runs threads, sockets and file descriptors whose invariants, once broken,
// corrupt state silently (a double close closes someone else's fd). We would rather stop
// the process with the file and line than continue. Use assert() only for checks too
// expensive for production.
#ifndef KEEL_ENV_CHECK_H_
#define KEEL_ENV_CHECK_H_

#include <cstdio>
#include <cstdlib>

#define KEEL_ENV_CHECK(condition)                                                \
  do {                                                                           \
    if (!(condition)) {                                                          \
      std::fprintf(stderr, "%s:%d: KEEL_ENV_CHECK failed: %s\n", __FILE__,       \
                   __LINE__, #condition);                                        \
      std::abort();                                                              \
    }                                                                            \
  } while (0)

#endif  // KEEL_ENV_CHECK_H_
