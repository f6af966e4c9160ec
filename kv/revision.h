// A revision names one change to the key space: `main` is the store revision of the
// transaction (every write txn gets exactly one), `sub` numbers the changes inside it.
//
// On disk a revision is etcd's 17-byte key, so that LevelDB's bytewise order is revision
// order:
//
//   bytes 0..7   main, big-endian
//   byte  8      '_'
//   bytes 9..16  sub, big-endian
//   byte  17     't' (only for a tombstone: the change deleted the key)
#ifndef KEEL_KV_REVISION_H_
#define KEEL_KV_REVISION_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace keel::kv {

struct Revision {
  int64_t main = 0;
  int64_t sub = 0;

  friend bool operator==(const Revision& a, const Revision& b) {
    return a.main == b.main && a.sub == b.sub;
  }
  friend bool operator!=(const Revision& a, const Revision& b) { return !(a == b); }
  friend bool operator<(const Revision& a, const Revision& b) {
    return a.main != b.main ? a.main < b.main : a.sub < b.sub;
  }
  friend bool operator>(const Revision& a, const Revision& b) { return b < a; }
  friend bool operator<=(const Revision& a, const Revision& b) { return !(b < a); }
  friend bool operator>=(const Revision& a, const Revision& b) { return !(a < b); }
};

inline constexpr size_t kRevisionBytes = 17;
inline constexpr size_t kMarkedRevisionBytes = kRevisionBytes + 1;
inline constexpr char kTombstoneMark = 't';

// Encodes `rev` (main and sub must be >= 0, so that byte order is numeric order).
std::string EncodeRevision(Revision rev, bool tombstone = false);

struct DecodedRevision {
  Revision rev;
  bool tombstone = false;
};
// Parses a key written by EncodeRevision; nullopt for anything else (corruption).
std::optional<DecodedRevision> DecodeRevision(std::string_view bytes);

}  // namespace keel::kv

#endif  // KEEL_KV_REVISION_H_
