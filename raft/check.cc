#include "raft/check.h"

#include <cstdio>
#include <cstdlib>

namespace keel::raft::internal {

void CheckFailed(const char* file, int line, const char* condition, const char* message) {
  std::fprintf(stderr, "%s:%d: raft invariant violated: %s (%s)\n", file, line, condition,
               message);
  std::abort();
}

}  // namespace keel::raft::internal
