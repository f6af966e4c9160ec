// A tiny CHECK for invariants whose violation means the Raft state is corrupt.
//
// Raft's safety rests on invariants such as "commit never goes backwards" and "match <
// next". If one is broken, continuing would risk acknowledging or applying the wrong
// data, so we abort loudly (as etcd-io/raft panics) instead of limping on.
#ifndef KEEL_RAFT_CHECK_H_
#define KEEL_RAFT_CHECK_H_

namespace keel::raft::internal {

[[noreturn]] void CheckFailed(const char* file, int line, const char* condition,
                              const char* message);

}  // namespace keel::raft::internal

#define KEEL_RAFT_CHECK(condition, message)                                          \
  do {                                                                               \
    if (!(condition)) {                                                              \
      ::keel::raft::internal::CheckFailed(__FILE__, __LINE__, #condition, (message)); \
    }                                                                                \
  } while (0)

#endif  // KEEL_RAFT_CHECK_H_
