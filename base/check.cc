#include "base/check.h"

#include <cstdio>
#include <cstdlib>

namespace keel::base {

void CheckFailed(const char* file, int line, const char* condition, const char* message) {
  if (message != nullptr) {
    std::fprintf(stderr, "%s:%d: invariant violated: %s (%s)\n", file, line, condition, message);
  } else {
    std::fprintf(stderr, "%s:%d: invariant violated: %s\n", file, line, condition);
  }
  std::fflush(stderr);
  std::abort();
}

}  // namespace keel::base
