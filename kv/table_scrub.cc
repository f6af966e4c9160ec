#include "kv/table_scrub.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "leveldb/iterator.h"
#include "leveldb/options.h"
#include "leveldb/table.h"

namespace keel::kv {
namespace {

// The first failure in one table file, or "".
std::string ScrubTable(leveldb::Env* env, const std::string& path) {
  uint64_t size = 0;
  leveldb::Status s = env->GetFileSize(path, &size);
  if (!s.ok()) return s.ToString();
  leveldb::RandomAccessFile* raw_file = nullptr;
  s = env->NewRandomAccessFile(path, &raw_file);
  if (!s.ok()) return s.ToString();
  std::unique_ptr<leveldb::RandomAccessFile> file(raw_file);
  leveldb::Options options;  // footer and index are verified by Table::Open itself
  options.env = env;
  leveldb::Table* raw_table = nullptr;
  s = leveldb::Table::Open(options, file.get(), size, &raw_table);
  if (!s.ok()) return s.ToString();
  std::unique_ptr<leveldb::Table> table(raw_table);
  leveldb::ReadOptions ro;
  ro.verify_checksums = true;
  ro.fill_cache = false;
  std::unique_ptr<leveldb::Iterator> it(table->NewIterator(ro));
  // A block that fails leaves the iterator's status set and moves on to the next block;
  // the last key read before and the first after bound the bad block's offset (LevelDB's
  // ApproximateOffsetOf = the offset of the block holding a key, from the index alone).
  std::string last_good;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (!it->status().ok()) break;
    last_good = it->key().ToString();
  }
  if (it->status().ok()) return "";
  const uint64_t lo = last_good.empty() ? 0 : table->ApproximateOffsetOf(last_good);
  const uint64_t hi = it->Valid() ? table->ApproximateOffsetOf(it->key()) : size;
  return absl::StrCat(it->status().ToString(), " in a data block between offsets ", lo,
                      " and ", hi);
}

}  // namespace

std::string LocateTableCorruption(leveldb::Env* env, const std::string& dir) {
  std::vector<std::string> children;
  if (!env->GetChildren(dir, &children).ok()) return "";
  std::sort(children.begin(), children.end());
  // Bounded by the directory's table files; each is read once.
  for (const std::string& name : children) {
    if (!absl::EndsWith(name, ".ldb") && !absl::EndsWith(name, ".sst")) continue;
    const std::string path = absl::StrCat(dir, "/", name);
    std::string failure = ScrubTable(env, path);
    if (!failure.empty()) return absl::StrCat(path, ": ", failure);
  }
  return "";
}

}  // namespace keel::kv
