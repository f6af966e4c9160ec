// KEEL_CHECK: the one always-on assertion of the codebase.
//
// An invariant that fails means the process's state can no longer be trusted: it prints
// where and what, and aborts (no unwinding, no cleanup that could write bad state to
// disk). It stays on in optimised builds, where users run; assert() does not, so Keel does
// not use assert().
//
//   KEEL_CHECK(cond)            the condition is the message
//   KEEL_CHECK_MSG(cond, msg)   adds why it must hold (a C string)
//   KEEL_DCHECK(cond)           debug builds only: for checks too costly for a hot path
//                               (say so at the site); compiled but not evaluated under
//                               NDEBUG, so it cannot rot.
#ifndef KEEL_BASE_CHECK_H_
#define KEEL_BASE_CHECK_H_

namespace keel::base {

[[noreturn]] void CheckFailed(const char* file, int line, const char* condition,
                              const char* message);

}  // namespace keel::base

#define KEEL_CHECK_MSG(condition, message)                                       \
  do {                                                                           \
    if (__builtin_expect(!(condition), 0)) {                                     \
      ::keel::base::CheckFailed(__FILE__, __LINE__, #condition, (message));      \
    }                                                                            \
  } while (false)

#define KEEL_CHECK(condition) KEEL_CHECK_MSG(condition, nullptr)

#ifdef NDEBUG
#define KEEL_DCHECK(condition) \
  do {                         \
    if (false) {               \
      (void)(condition);       \
    }                          \
  } while (false)
#else
#define KEEL_DCHECK(condition) KEEL_CHECK(condition)
#endif

#endif  // KEEL_BASE_CHECK_H_
