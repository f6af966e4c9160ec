// Terse constructors for hand-written histories in tests.
#ifndef KEEL_SIM_CHECKERS_HISTORY_BUILDERS_H_
#define KEEL_SIM_CHECKERS_HISTORY_BUILDERS_H_

#include <string>

#include "sim/checkers/history.h"

namespace keel::sim::checkers::testing {

inline Operation Base(uint64_t client, OpKind kind, std::string key, int64_t invoke_ns,
                      int64_t complete_ns, int64_t revision) {
  Operation op;
  op.client_id = client;
  op.kind = kind;
  op.key = std::move(key);
  op.invoke_ns = invoke_ns;
  op.complete_ns = complete_ns;
  op.header_revision = revision;
  return op;
}

inline Operation Put(uint64_t client, std::string key, std::string value, int64_t invoke_ns,
                     int64_t complete_ns, int64_t revision = 0) {
  Operation op = Base(client, OpKind::kPut, std::move(key), invoke_ns, complete_ns, revision);
  op.value = std::move(value);
  return op;
}

// A get that found `value` written at `mod_revision` (0: not recorded).
inline Operation GetFound(uint64_t client, std::string key, std::string value,
                          int64_t invoke_ns, int64_t complete_ns, int64_t revision = 0,
                          int64_t mod_revision = 0) {
  Operation op = Base(client, OpKind::kGet, std::move(key), invoke_ns, complete_ns, revision);
  op.found = true;
  op.read_value = std::move(value);
  op.read_mod_revision = mod_revision;
  return op;
}

inline Operation GetMissing(uint64_t client, std::string key, int64_t invoke_ns,
                            int64_t complete_ns, int64_t revision = 0) {
  return Base(client, OpKind::kGet, std::move(key), invoke_ns, complete_ns, revision);
}

inline Operation Delete(uint64_t client, std::string key, bool deleted, int64_t invoke_ns,
                        int64_t complete_ns, int64_t revision = 0) {
  Operation op = Base(client, OpKind::kDelete, std::move(key), invoke_ns, complete_ns, revision);
  op.deleted = deleted;
  return op;
}

inline Operation CasValue(uint64_t client, std::string key, std::string expected,
                          std::string value, bool succeeded, int64_t invoke_ns,
                          int64_t complete_ns, int64_t revision = 0) {
  Operation op = Base(client, OpKind::kCas, std::move(key), invoke_ns, complete_ns, revision);
  op.cas_target = CasTarget::kValue;
  op.cas_expected_value = std::move(expected);
  op.value = std::move(value);
  op.cas_succeeded = succeeded;
  return op;
}

inline Operation CasModRevision(uint64_t client, std::string key, int64_t expected,
                                std::string value, bool succeeded, int64_t invoke_ns,
                                int64_t complete_ns, int64_t revision = 0) {
  Operation op = Base(client, OpKind::kCas, std::move(key), invoke_ns, complete_ns, revision);
  op.cas_target = CasTarget::kModRevision;
  op.cas_expected_number = expected;
  op.value = std::move(value);
  op.cas_succeeded = succeeded;
  return op;
}

inline Operation Unknown(Operation op) {
  op.outcome = Outcome::kUnknown;
  op.complete_ns = kNeverCompletedNs;
  op.header_revision = 0;
  return op;
}

inline Operation Failed(Operation op) {
  op.outcome = Outcome::kFailed;
  op.header_revision = 0;
  return op;
}

}  // namespace keel::sim::checkers::testing

#endif  // KEEL_SIM_CHECKERS_HISTORY_BUILDERS_H_
