// The backend's contract with the simulator and with crash recovery: identical inputs give
// byte-identical LevelDB files, and a failed write poisons every later call.
#include "kv/backend.h"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "gtest/gtest.h"
#include "kv/testing/temp_dir.h"

namespace keel::kv {
namespace {

std::map<std::string, std::string> ReadFiles(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    // LevelDB's info log carries wall-clock timestamps; the simulator's Env replaces it.
    if (name == "LOG" || name == "LOG.old" || name == "LOCK") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    out[name] = bytes.str();
  }
  return out;
}

void WriteHistory(Backend& b) {
  for (int i = 0; i < 200; ++i) {
    // Staged in an order that differs from key order: the batch must still be canonical.
    b.Put(kKeyBucket, "k" + std::to_string((i * 37) % 101), std::string(i % 50, 'x'));
    b.Put(kMetaBucket, "consistent_index", std::to_string(i));
    if (i % 3 == 0) b.Delete(kKeyBucket, "k" + std::to_string(i % 17));
    if (i % 4 == 3) {
      ASSERT_TRUE(b.Commit().ok());
    }
  }
  ASSERT_TRUE(b.Commit().ok());
}

TEST(BackendTest, SameHistorySameBytes) {
  testing::TempDir dir;
  for (const char* name : {"one", "two"}) {
    BackendOptions o;
    o.path = dir.Sub(name);
    auto b = Backend::Open(o);
    ASSERT_TRUE(b.ok()) << b.status();
    WriteHistory(**b);
  }
  const auto one = ReadFiles(dir.Sub("one"));
  const auto two = ReadFiles(dir.Sub("two"));
  ASSERT_FALSE(one.empty());
  EXPECT_EQ(one, two);
}

TEST(BackendTest, ScanReadsOneBucketInKeyOrderWithBounds) {
  testing::TempDir dir;
  BackendOptions o;
  o.path = dir.Sub("db");
  auto b = std::move(*Backend::Open(o));
  for (const char* k : {"c", "a", "b", "d"}) b->Put(kKeyBucket, k, k);
  b->Put(kMetaBucket, "a", "meta");
  b->Put("keyz", "a", "other bucket sharing a prefix");
  EXPECT_TRUE((*b->Get(kKeyBucket, "a")).has_value());  // staged writes are visible
  ASSERT_TRUE(b->Commit().ok());
  std::string seen;
  ASSERT_TRUE(b->Scan(kKeyBucket, "b", "", 0, [&](std::string_view k, std::string_view v) {
                 seen += std::string(k) + "=" + std::string(v) + ";";
                 return true;
               }).ok());
  EXPECT_EQ(seen, "b=b;c=c;d=d;");
  seen.clear();
  ASSERT_TRUE(b->Scan(kKeyBucket, "a", "c", 0, [&](std::string_view k, std::string_view) {
                 seen += std::string(k);
                 return true;
               }).ok());
  EXPECT_EQ(seen, "ab");
  seen.clear();
  ASSERT_TRUE(b->Scan(kKeyBucket, "", "", 3, [&](std::string_view k, std::string_view) {
                 seen += std::string(k);
                 return true;
               }).ok());
  EXPECT_EQ(seen, "abc");
}

// Fails every file write once armed, like a disk returning EIO.
class FailingEnv : public leveldb::EnvWrapper {
 public:
  FailingEnv() : leveldb::EnvWrapper(leveldb::Env::Default()) {}
  class File : public leveldb::WritableFile {
   public:
    File(leveldb::WritableFile* base, const std::atomic<bool>* fail) : base_(base), fail_(fail) {}
    ~File() override { delete base_; }
    leveldb::Status Append(const leveldb::Slice& data) override {
      if (*fail_) return leveldb::Status::IOError("injected EIO");
      return base_->Append(data);
    }
    leveldb::Status Close() override { return base_->Close(); }
    leveldb::Status Flush() override { return base_->Flush(); }
    leveldb::Status Sync() override { return base_->Sync(); }

   private:
    leveldb::WritableFile* base_;
    const std::atomic<bool>* fail_;
  };
  leveldb::Status NewWritableFile(const std::string& f, leveldb::WritableFile** r) override {
    leveldb::Status s = target()->NewWritableFile(f, r);
    if (s.ok()) *r = new File(*r, &fail);
    return s;
  }
  std::atomic<bool> fail{false};
};

TEST(BackendTest, FailedCommitIsSticky) {
  testing::TempDir dir;
  FailingEnv env;
  BackendOptions o;
  o.path = dir.Sub("db");
  o.env = &env;
  auto b = std::move(*Backend::Open(o));
  b->Put(kKeyBucket, "a", "1");
  ASSERT_TRUE(b->Commit().ok());
  env.fail = true;
  b->Put(kKeyBucket, "b", "2");
  const absl::Status failed = b->Commit();
  EXPECT_EQ(failed.code(), absl::StatusCode::kDataLoss);
  env.fail = false;  // the disk "recovers"; we must not believe it
  b->Put(kKeyBucket, "c", "3");
  EXPECT_EQ(b->Commit(), failed);
  EXPECT_EQ(b->Get(kKeyBucket, "a").status(), failed);
}

}  // namespace
}  // namespace keel::kv

namespace keel::kv {
namespace {

// A flipped byte inside a table file's data block: LevelDB's block checksum catches it on
// read, and the error names the file and a byte range holding the flipped byte (LevelDB's
// own message names neither).
TEST(BackendTest, ABlockChecksumFailureNamesTheTableFileAndOffset) {
  testing::TempDir dir;
  const std::string path = dir.Sub("db");
  {
    BackendOptions o;
    o.path = path;
    auto b = Backend::Open(o);
    ASSERT_TRUE(b.ok()) << b.status();
    // Incompressible values (LevelDB compresses blocks with snappy): a file of many blocks.
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 400; ++i) {
      std::string value(300, '\0');
      for (char& c : value) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;  // xorshift64
        c = static_cast<char>(x);
      }
      (*b)->Put(kKeyBucket, "k" + std::to_string(1000 + i), value);
    }
    ASSERT_TRUE((*b)->Commit().ok());
    (*b)->CompactAll();  // everything into table files
  }
  std::string table;
  uint64_t size = 0;
  for (const auto& entry : std::filesystem::directory_iterator(path)) {
    if (entry.path().extension() == ".ldb" && entry.file_size() > size) {
      table = entry.path().string();
      size = entry.file_size();
    }
  }
  ASSERT_GT(size, 100000u) << "expected the data in one table file of many blocks";
  const uint64_t flipped = size / 3;  // inside a data block (the index sits at the end)
  {
    std::fstream f(table, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(flipped));
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x40);
    f.seekp(static_cast<std::streamoff>(flipped));
    f.write(&c, 1);
  }
  BackendOptions o;
  o.path = path;
  auto b = Backend::Open(o);
  ASSERT_TRUE(b.ok()) << b.status();  // opening reads no data block
  absl::Status scan = (*b)->Scan(kKeyBucket, "", "", 0, [](auto, auto) { return true; });
  ASSERT_EQ(scan.code(), absl::StatusCode::kDataLoss) << scan;
  const std::string message(scan.message());
  EXPECT_NE(message.find("block checksum mismatch"), std::string::npos) << message;
  ASSERT_NE(message.find(table + ": "), std::string::npos) << message;
  // "... between offsets LO and HI": the flipped byte is in that range.
  const size_t at = message.find("between offsets ");
  ASSERT_NE(at, std::string::npos) << message;
  unsigned long long lo = 0, hi = 0;
  ASSERT_EQ(std::sscanf(message.c_str() + at, "between offsets %llu and %llu", &lo, &hi), 2) << message;
  EXPECT_LE(lo, flipped);
  EXPECT_GT(hi, flipped);
  EXPECT_LT(hi - lo, 16384u) << "a block's worth, not the whole file";
}

}  // namespace
}  // namespace keel::kv
