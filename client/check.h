// A tiny always-on assertion for client invariants (a broken endpoint index, a builder used
// after Commit). Abseil's CHECK is not in Debian's build and assert() vanishes under NDEBUG.
#ifndef KEEL_CLIENT_CHECK_H_
#define KEEL_CLIENT_CHECK_H_

#include <cstdio>
#include <cstdlib>

#define KEEL_CLIENT_CHECK(cond)                                                    \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      std::fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, __LINE__, \
                   #cond);                                                         \
      std::abort();                                                                \
    }                                                                              \
  } while (0)

#endif  // KEEL_CLIENT_CHECK_H_
