// A tiny always-on assertion for invariants whose violation means the store's state is no
// longer trustworthy (a corrupted index, a broken revision order). Abseil's CHECK is not
// available in Debian's build, and assert() vanishes under NDEBUG, which is exactly the
// build (-c opt) that serves real data.
#ifndef KEEL_KV_CHECK_H_
#define KEEL_KV_CHECK_H_

#include <cstdio>
#include <cstdlib>

#define KEEL_KV_CHECK(cond)                                                        \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      std::fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, __LINE__, \
                   #cond);                                                         \
      std::abort();                                                                \
    }                                                                              \
  } while (0)

#endif  // KEEL_KV_CHECK_H_
