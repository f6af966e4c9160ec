// KEEL_SERVER_CHECK: an invariant that must hold in every build. Abseil's logging is not available
// here, and a violated invariant in a server is safer as a crash with a location than as
// silent corruption.
#ifndef KEEL_SERVER_CHECK_H_
#define KEEL_SERVER_CHECK_H_

#include <cstdio>
#include <cstdlib>

#define KEEL_SERVER_CHECK(condition)                                                       \
  do {                                                                                   \
    if (!(condition)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (false)

#endif  // KEEL_SERVER_CHECK_H_
