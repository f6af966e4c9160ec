// The run trace: one record per simulated event, folded into a running 64-bit hash.
//
// Two runs of one seed must print the same `trace_hash`; the first differing record is
// where determinism broke. The hash is computed over an explicit little-endian byte
// encoding of each record (never over in-memory layout, std::hash or absl::Hash), so it is
// stable across builds, compilers and platforms. An optional JSON-lines sink writes the
// same records for humans and tools (`keelsim run --trace=FILE`):
//   {"t_ns":1500,"node":2,"kind":"net.deliver","detail":{"from":1,"size":42}}
#ifndef KEEL_SIM_TRACE_H_
#define KEEL_SIM_TRACE_H_

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "xxhash.h"

namespace keel::sim {

// Node id used for events that belong to the world rather than to one node.
inline constexpr uint64_t kWorldNode = 0;

// One key/value of a record's detail. Values are integers, booleans or strings; the type
// is part of the hash, so {"n", 1} and {"n", "1"} differ.
struct TraceField {
  enum class Type : uint8_t { kInt = 1, kUint = 2, kString = 3, kBool = 4 };

  template <typename T, typename std::enable_if_t<std::is_integral_v<T> &&
                                                      !std::is_same_v<T, bool>,
                                                  int> = 0>
  TraceField(std::string_view k, T v) : key(k) {
    if constexpr (std::is_signed_v<T>) {
      type = Type::kInt;
      int_value = v;
    } else {
      type = Type::kUint;
      uint_value = v;
    }
  }
  TraceField(std::string_view k, bool v) : key(k), type(Type::kBool), uint_value(v) {}
  TraceField(std::string_view k, std::string_view v)
      : key(k), type(Type::kString), string_value(v) {}
  TraceField(std::string_view k, const char* v) : TraceField(k, std::string_view(v)) {}

  std::string_view key;
  Type type;
  int64_t int_value = 0;
  uint64_t uint_value = 0;
  std::string_view string_value;
};

// The trace hash: XXH3-64 (Debian's libxxhash, a stable, specified algorithm) over the
// byte encoding documented at Trace::Record. Pieces are gathered in a small buffer and
// handed to XXH3 a buffer at a time, because records are many and short (~60 bytes) and
// XXH3's streaming update has a fixed cost per call. The same bytes give the same digest
// on every machine and in every process.
class StableHasher {
 public:
  StableHasher();
  StableHasher(const StableHasher&) = delete;
  StableHasher& operator=(const StableHasher&) = delete;
  ~StableHasher();

  void AddBytes(std::string_view bytes);
  void AddU64(uint64_t v);  // 8 bytes, little-endian
  void AddByte(unsigned char b);
  // The digest of everything added so far; adding more afterwards is allowed.
  uint64_t Digest() const;

 private:
  void Flush() const;

  static constexpr size_t kBufferBytes = 512;
  // mutable: Digest() folds buffered bytes into the state, which changes no digest.
  mutable unsigned char buffer_[kBufferBytes];
  mutable size_t buffered_ = 0;
  XXH3_state_t* const state_;  // owned; XXH3's state wants 64-byte alignment
};

class Trace {
 public:
  Trace() = default;
  Trace(const Trace&) = delete;
  Trace& operator=(const Trace&) = delete;

  // Appends one record. `kind` names the event ("net.send", "disk.sync", "loop.timer");
  // field order is significant and must itself be deterministic.
  void Record(int64_t t_ns, uint64_t node, std::string_view kind,
              std::initializer_list<TraceField> detail = {});

  // Also writes every later record as one JSON line to `sink` (nullptr stops). The sink
  // is not owned and must outlive its use.
  void set_json_sink(std::ostream* sink) { sink_ = sink; }
  bool has_json_sink() const { return sink_ != nullptr; }

  // Writes one record to the JSON sink only: neither hashed nor counted, a no-op without
  // a sink. For records derived from state the hash already covers (the raft.* events of
  // sim/cluster/raft_trace.h), so that trace_hash never depends on whether a file is
  // written and runs without --trace pay nothing for them.
  void Annotate(int64_t t_ns, uint64_t node, std::string_view kind,
                std::initializer_list<TraceField> detail = {}) {
    if (sink_ != nullptr) WriteJson(t_ns, node, kind, detail);
  }

  uint64_t hash() const { return hasher_.Digest(); }
  // hash() as 16 lowercase hex digits, the form `keelsim` prints as trace_hash.
  std::string HashHex() const;
  uint64_t record_count() const { return record_count_; }

  // Counts, by kind, the later records whose kind starts with `prefix` (coverage: e.g.
  // "fault." counts the triggered faults that fired). Empty (the default) counts none;
  // otherwise a record costs one prefix comparison more.
  void set_tally_prefix(std::string prefix) { tally_prefix_ = std::move(prefix); }
  const std::map<std::string, uint64_t, std::less<>>& tally() const { return tally_; }

 private:
  void WriteJson(int64_t t_ns, uint64_t node, std::string_view kind,
                 std::initializer_list<TraceField> detail);

  StableHasher hasher_;
  uint64_t record_count_ = 0;
  std::ostream* sink_ = nullptr;
  std::string tally_prefix_;
  std::map<std::string, uint64_t, std::less<>> tally_;
};

}  // namespace keel::sim

#endif  // KEEL_SIM_TRACE_H_
