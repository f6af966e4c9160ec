// The in-memory index from user key to the revisions that changed it (etcd's keyIndex and
// treeIndex). LevelDB is keyed by revision, so this index is the only way to find a key's
// value at a given revision; it is rebuilt from the backend on open.
//
// A key's history is a list of generations. A generation starts with the put that created
// the key and ends with the tombstone that deleted it; the last generation is open (no
// tombstone yet) and is empty when the key is currently deleted. Example, key "foo":
//
//   put@1.0 put@2.0 del@3.0 put@4.0 put@5.0
//   generations: {created 1.0, ver 3, revs [1.0 2.0 3.0(t)]}  {created 4.0, ver 2, revs
//   [4.0 5.0]}
//
// Invariants (asserted): revisions of one key strictly increase across all generations;
// every generation except the last is non-empty and ends with its tombstone; `version` of a
// generation equals the number of puts and tombstones appended to it since creation.
#ifndef KEEL_KV_KEY_INDEX_H_
#define KEEL_KV_KEY_INDEX_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "kv/revision.h"

namespace keel::kv {

// Ordered, so that anything iterating it (compaction, hashing) is deterministic.
using RevisionSet = absl::btree_set<Revision>;

struct Generation {
  int64_t version = 0;         // puts + tombstone in this generation so far
  Revision created;            // first put of the generation
  std::vector<Revision> revs;  // ascending; last one is the tombstone if closed
};

class KeyIndex {
 public:
  // What a key looked like at some revision.
  struct Lookup {
    Revision modified;  // the change visible at that revision
    Revision created;   // the put that started its generation
    int64_t version = 0;
  };

  explicit KeyIndex(std::string key);

  const std::string& key() const { return key_; }
  Revision modified() const { return modified_; }
  const std::vector<Generation>& generations() const { return generations_; }

  // Appends a put. `rev` must be greater than every revision already recorded.
  void Put(Revision rev);
  // Rebuilds a key from the first backend record found for it after compaction, where
  // earlier revisions are gone (kvstore.go restore). Requires an empty index.
  void Restore(Revision created, Revision modified, int64_t version);
  // Appends a tombstone and opens a new empty generation. Returns false (and changes
  // nothing) if the key is not live.
  bool Tombstone(Revision rev);

  // The key's state at `at_rev`, or nullopt if it did not exist then.
  std::optional<Lookup> Get(int64_t at_rev) const;
  // Revisions with main >= rev, keeping only the last change per main revision.
  std::vector<Revision> Since(int64_t rev) const;

  // Drops history that no reader at revision >= at_rev can see; adds to `available` the
  // revisions the backend must keep. Afterwards IsEmpty() may be true: remove the key.
  void Compact(int64_t at_rev, RevisionSet* available);
  // Adds to `available` what Compact(at_rev) would keep, without changing anything.
  void Keep(int64_t at_rev, RevisionSet* available) const;

  // True when no generation holds a revision (a fully compacted, deleted key).
  bool IsEmpty() const;

  friend bool operator==(const KeyIndex& a, const KeyIndex& b);
  // "key: {created ver [main.sub ...]} ..." for test failure messages.
  std::string DebugString() const;

 private:
  // Index of the generation visible at `rev` among generations_, or -1.
  int FindGeneration(int64_t rev) const;
  // Shared walk of Compact and Keep: the first generation still relevant at `at_rev`, and
  // within it the index of the newest revision <= at_rev (or -1).
  std::pair<size_t, int> DoCompact(int64_t at_rev, RevisionSet* available) const;

  std::string key_;
  Revision modified_;  // the last change of any kind
  std::vector<Generation> generations_;
};

// A key range in etcd's wire convention: `end` empty = the single key `key`; `end` "\0" =
// every key >= `key`; otherwise the half-open interval [key, end).
struct KeyRange {
  std::string_view key;
  std::string_view end;

  bool IsSingleKey() const { return end.empty(); }
  bool IsUnbounded() const { return end.size() == 1 && end[0] == '\0'; }
  bool Contains(std::string_view k) const;
};

class TreeIndex {
 public:
  std::optional<KeyIndex::Lookup> Get(std::string_view key, int64_t at_rev) const;

  // (key, visible revision) of the keys in `range` live at `at_rev`, in key order: the
  // first `limit` of them (0 = all). `*count`, if given, receives how many there are in
  // all, so a limited range still reports etcd's `count` without building every pair.
  std::vector<std::pair<std::string, Revision>> Range(KeyRange range, int64_t at_rev,
                                                      size_t limit = 0,
                                                      int64_t* count = nullptr) const;
  // Same as the count of Range(...) without building anything.
  int64_t Count(KeyRange range, int64_t at_rev) const;

  void Put(std::string_view key, Revision rev);
  // False if the key is not live.
  bool Tombstone(std::string_view key, Revision rev);

  // Compacts every key at `at_rev`, dropping keys left empty; returns what the backend
  // must keep at or below at_rev.
  RevisionSet Compact(int64_t at_rev);
  RevisionSet Keep(int64_t at_rev) const;

  KeyIndex* Find(std::string_view key);
  void Insert(KeyIndex key_index);

  size_t size() const { return keys_.size(); }
  std::string DebugString() const;
  friend bool operator==(const TreeIndex& a, const TreeIndex& b) { return a.keys_ == b.keys_; }

 private:
  template <typename Fn>
  void Visit(KeyRange range, Fn&& fn) const;

  absl::btree_map<std::string, KeyIndex, std::less<>> keys_;
};

}  // namespace keel::kv

#endif  // KEEL_KV_KEY_INDEX_H_
