// The client history that the checkers judge: what each simulated (or chaos) client asked,
// when, and what it was told.
//
// One Operation is one etcd request as the client saw it:
//   - invoke_ns: simulated time the client sent it; complete_ns: time the response arrived.
//   - outcome:
//       kOk      the response arrived; the output fields below hold what etcd returned.
//       kFailed  a definite failure: the request did NOT take effect (e.g. the server
//                rejected it before proposing). The checkers drop it.
//       kUnknown timeout or lost connection: it may or may not have taken effect, at any time
//                after invoke_ns. Linearizability treats its completion as +infinity and
//                ignores its outputs; durability treats it as a write that may have happened.
//
// What etcd returns that makes checking sharper (fill these whenever known):
//   - header_revision: every response carries ResponseHeader.revision. For a write that
//     changed the store (Put, a DeleteRange that deleted something, a Txn whose taken branch
//     wrote) it is the revision of that write, which is also the mod_revision of every key it
//     wrote. For a read (Range, a Txn that wrote nothing, a DeleteRange that deleted nothing)
//     it is the store revision the read observed. Revisions give a total order of writes.
//   - read_mod_revision / read_version: a Range returns each key's mod_revision and version.
// A zero header_revision / read_mod_revision / read_version means "not recorded".
#ifndef KEEL_SIM_CHECKERS_HISTORY_H_
#define KEEL_SIM_CHECKERS_HISTORY_H_

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace keel::sim::checkers {

// Completion time of an operation whose outcome is unknown.
inline constexpr int64_t kNeverCompletedNs = std::numeric_limits<int64_t>::max();

enum class OpKind {
  kPut,     // Put(key, value)
  kGet,     // linearizable Range(key) of a single key
  kDelete,  // DeleteRange(key) of a single key
  kCas,     // Txn(If(compare(key) == expected) Then(Put(key, value)) Else())
  kRange,   // linearizable Range([key, range_end)) over several keys
};

enum class Outcome { kOk, kFailed, kUnknown };

// What a kCas compares, always with EQUAL. etcd semantics on a missing key: a VALUE compare
// is false, VERSION and MOD_REVISION compare against 0.
enum class CasTarget { kValue, kVersion, kModRevision };

// One key as a Range returns it.
struct KeyValue {
  std::string key;
  std::string value;
  int64_t mod_revision = 0;
  int64_t version = 0;
};

struct Operation {
  uint64_t client_id = 0;
  OpKind kind = OpKind::kGet;

  // ---- input ----
  std::string key;        // the key; for kRange the first key of the range
  std::string range_end;  // kRange only: exclusive end of [key, range_end)
  std::string value;      // kPut, kCas: the value written
  CasTarget cas_target = CasTarget::kValue;  // kCas only
  std::string cas_expected_value;            // kCas with kValue
  int64_t cas_expected_number = 0;           // kCas with kVersion / kModRevision

  // ---- timing (simulated ns) ----
  int64_t invoke_ns = 0;
  int64_t complete_ns = 0;  // ignored (treated as +infinity) when outcome is kUnknown

  // ---- outcome and output ----
  Outcome outcome = Outcome::kOk;
  int64_t header_revision = 0;  // ResponseHeader.revision; 0 = not recorded

  bool found = false;             // kGet: the key existed
  std::string read_value;         // kGet: its value
  int64_t read_mod_revision = 0;  // kGet: its mod_revision (0 = not recorded)
  int64_t read_version = 0;       // kGet: its version (0 = not recorded)

  bool deleted = false;  // kDelete: DeleteRangeResponse.deleted was 1

  bool cas_succeeded = false;  // kCas: TxnResponse.succeeded

  std::vector<KeyValue> range_result;  // kRange: the keys returned, any order
};

using History = std::vector<Operation>;

// True if this acknowledged operation changed the store, i.e. consumed a revision: a put, a
// delete that deleted, a CAS that succeeded. Requires outcome == kOk.
bool IsEffectiveWrite(const Operation& op);

// True if the operation may change the store when it takes effect (put, delete, cas).
bool IsWriteKind(OpKind kind);

// One line for humans: "#12 client 3 put(k1, v7) -> ok rev 40 [100, 250]".
std::string DescribeOperation(const History& history, size_t index);

}  // namespace keel::sim::checkers

#endif  // KEEL_SIM_CHECKERS_HISTORY_H_
