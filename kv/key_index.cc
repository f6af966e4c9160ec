#include "kv/key_index.h"

#include "absl/strings/str_cat.h"
#include "base/check.h"

namespace keel::kv {

KeyIndex::KeyIndex(std::string key) : key_(std::move(key)) {}

void KeyIndex::Put(Revision rev) {
  // Revisions of one key strictly increase: anything else means the caller replayed or
  // reordered history, and every later read would be wrong.
  KEEL_CHECK(rev > modified_);
  if (generations_.empty()) generations_.emplace_back();
  Generation& g = generations_.back();
  if (g.revs.empty()) g.created = rev;
  g.revs.push_back(rev);
  ++g.version;
  modified_ = rev;
}

void KeyIndex::Restore(Revision created, Revision modified, int64_t version) {
  KEEL_CHECK(generations_.empty());
  KEEL_CHECK(version >= 1 && created <= modified);
  modified_ = modified;
  generations_.push_back(Generation{version, created, {modified}});
}

bool KeyIndex::Tombstone(Revision rev) {
  if (generations_.empty() || generations_.back().revs.empty()) return false;
  Put(rev);
  generations_.emplace_back();
  return true;
}

int KeyIndex::FindGeneration(int64_t rev) const {
  const int last = static_cast<int>(generations_.size()) - 1;
  for (int i = last; i >= 0; --i) {
    const Generation& g = generations_[i];
    if (g.revs.empty()) continue;
    // A closed generation whose tombstone is at or before `rev` means the key was
    // deleted at `rev`: no older generation can be visible either.
    if (i != last && g.revs.back().main <= rev) return -1;
    if (g.revs.front().main <= rev) return i;
  }
  return -1;
}

std::optional<KeyIndex::Lookup> KeyIndex::Get(int64_t at_rev) const {
  const int gi = FindGeneration(at_rev);
  if (gi < 0) return std::nullopt;
  const Generation& g = generations_[gi];
  for (int n = static_cast<int>(g.revs.size()) - 1; n >= 0; --n) {
    if (g.revs[n].main <= at_rev) {
      const int64_t newer = static_cast<int64_t>(g.revs.size()) - n - 1;
      return Lookup{g.revs[n], g.created, g.version - newer};
    }
  }
  return std::nullopt;
}

std::vector<Revision> KeyIndex::Since(int64_t rev) const {
  const Revision since{rev, 0};
  size_t gi = generations_.empty() ? 0 : generations_.size() - 1;
  for (; gi > 0; --gi) {
    const Generation& g = generations_[gi];
    if (g.revs.empty()) continue;
    if (since > g.created) break;
  }
  std::vector<Revision> out;
  int64_t last_main = 0;
  for (; gi < generations_.size(); ++gi) {
    for (const Revision& r : generations_[gi].revs) {
      if (since > r) continue;
      if (r.main == last_main) {
        out.back() = r;
        continue;
      }
      out.push_back(r);
      last_main = r.main;
    }
  }
  return out;
}

std::pair<size_t, int> KeyIndex::DoCompact(int64_t at_rev, RevisionSet* available) const {
  KEEL_CHECK(!generations_.empty());
  size_t gi = 0;
  // Skip generations closed at or before at_rev: nobody can read them any more.
  while (gi + 1 < generations_.size() && generations_[gi].revs.back().main <= at_rev) ++gi;
  const Generation& g = generations_[gi];
  for (int n = static_cast<int>(g.revs.size()) - 1; n >= 0; --n) {
    if (g.revs[n].main <= at_rev) {
      available->insert(g.revs[n]);
      return {gi, n};
    }
  }
  return {gi, -1};
}

void KeyIndex::Compact(int64_t at_rev, RevisionSet* available) {
  auto [gi, ri] = DoCompact(at_rev, available);
  Generation& g = generations_[gi];
  if (!g.revs.empty()) {
    if (ri != -1) g.revs.erase(g.revs.begin(), g.revs.begin() + ri);
    // A closed generation reduced to its tombstone holds nothing readable: drop it.
    if (g.revs.size() == 1 && gi + 1 != generations_.size()) {
      available->erase(g.revs[0]);
      ++gi;
    }
  }
  generations_.erase(generations_.begin(), generations_.begin() + gi);
  KEEL_CHECK(!generations_.empty());
}

void KeyIndex::Keep(int64_t at_rev, RevisionSet* available) const {
  if (IsEmpty()) return;
  auto [gi, ri] = DoCompact(at_rev, available);
  const Generation& g = generations_[gi];
  if (!g.revs.empty() && ri == static_cast<int>(g.revs.size()) - 1 &&
      gi + 1 != generations_.size()) {
    available->erase(g.revs[ri]);
  }
}

bool KeyIndex::IsEmpty() const {
  return generations_.size() == 1 && generations_[0].revs.empty();
}

bool operator==(const KeyIndex& a, const KeyIndex& b) {
  if (a.key_ != b.key_ || a.modified_ != b.modified_) return false;
  if (a.generations_.size() != b.generations_.size()) return false;
  for (size_t i = 0; i < a.generations_.size(); ++i) {
    const Generation& x = a.generations_[i];
    const Generation& y = b.generations_[i];
    // etcd compares version and revisions only: `created` of an empty generation is
    // meaningless.
    if (x.version != y.version || x.revs != y.revs) return false;
  }
  return true;
}

std::string KeyIndex::DebugString() const {
  std::string out = absl::StrCat(key_, ": modified ", modified_.main, ".", modified_.sub);
  for (const Generation& g : generations_) {
    absl::StrAppend(&out, " {created ", g.created.main, ".", g.created.sub, " ver ", g.version,
                    " [");
    for (const Revision& r : g.revs) absl::StrAppend(&out, " ", r.main, ".", r.sub);
    absl::StrAppend(&out, " ]}");
  }
  return out;
}

std::string TreeIndex::DebugString() const {
  std::string out;
  for (const auto& [key, ki] : keys_) absl::StrAppend(&out, ki.DebugString(), "\n");
  return out;
}

bool KeyRange::Contains(std::string_view k) const {
  if (IsSingleKey()) return k == key;
  if (k < key) return false;
  return IsUnbounded() || k < end;
}

template <typename Fn>
void TreeIndex::Visit(KeyRange range, Fn&& fn) const {
  if (range.IsSingleKey()) {
    auto it = keys_.find(range.key);
    if (it != keys_.end()) fn(it->second);
    return;
  }
  for (auto it = keys_.lower_bound(range.key); it != keys_.end(); ++it) {
    if (!range.IsUnbounded() && it->first >= range.end) break;
    fn(it->second);
  }
}

std::optional<KeyIndex::Lookup> TreeIndex::Get(std::string_view key, int64_t at_rev) const {
  auto it = keys_.find(key);
  if (it == keys_.end()) return std::nullopt;
  return it->second.Get(at_rev);
}

std::vector<std::pair<std::string, Revision>> TreeIndex::Range(KeyRange range,
                                                               int64_t at_rev, size_t limit,
                                                               int64_t* count) const {
  std::vector<std::pair<std::string, Revision>> out;
  int64_t n = 0;
  Visit(range, [&](const KeyIndex& ki) {
    auto l = ki.Get(at_rev);
    if (!l) return;
    ++n;
    if (limit == 0 || out.size() < limit) out.emplace_back(ki.key(), l->modified);
  });
  if (count != nullptr) *count = n;
  return out;
}

int64_t TreeIndex::Count(KeyRange range, int64_t at_rev) const {
  int64_t n = 0;
  Visit(range, [&](const KeyIndex& ki) {
    if (ki.Get(at_rev)) ++n;
  });
  return n;
}

void TreeIndex::Put(std::string_view key, Revision rev) {
  auto it = keys_.find(key);
  if (it == keys_.end()) it = keys_.emplace(std::string(key), KeyIndex(std::string(key))).first;
  it->second.Put(rev);
}

bool TreeIndex::Tombstone(std::string_view key, Revision rev) {
  auto it = keys_.find(key);
  if (it == keys_.end()) return false;
  return it->second.Tombstone(rev);
}

RevisionSet TreeIndex::Compact(int64_t at_rev) {
  RevisionSet available;
  for (auto it = keys_.begin(); it != keys_.end();) {
    it->second.Compact(at_rev, &available);
    it = it->second.IsEmpty() ? keys_.erase(it) : std::next(it);
  }
  return available;
}

RevisionSet TreeIndex::Keep(int64_t at_rev) const {
  RevisionSet available;
  for (const auto& [key, ki] : keys_) ki.Keep(at_rev, &available);
  return available;
}

KeyIndex* TreeIndex::Find(std::string_view key) {
  auto it = keys_.find(key);
  return it == keys_.end() ? nullptr : &it->second;
}

void TreeIndex::Insert(KeyIndex key_index) {
  std::string key = key_index.key();
  keys_.insert_or_assign(std::move(key), std::move(key_index));
}

}  // namespace keel::kv
