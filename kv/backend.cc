#include "kv/backend.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "kv/table_scrub.h"
#include "leveldb/write_batch.h"

namespace keel::kv {
namespace {

std::string FullKey(std::string_view bucket, std::string_view key) {
  KEEL_CHECK(bucket.find('\0') == std::string_view::npos);
  std::string out(bucket);
  out.push_back('\0');
  out.append(key);
  return out;
}

// The smallest LevelDB key after every key of `bucket`.
std::string BucketEnd(std::string_view bucket) {
  std::string out(bucket);
  out.push_back('\1');
  return out;
}

}  // namespace

absl::Status FromLevelDb(const leveldb::Status& s, std::string_view context) {
  if (s.ok()) return absl::OkStatus();
  const std::string msg = absl::StrCat("leveldb ", std::string(context), ": ", s.ToString());
  if (s.IsCorruption()) return absl::DataLossError(msg);
  if (s.IsIOError()) return absl::DataLossError(msg);
  if (s.IsNotFound()) return absl::NotFoundError(msg);
  if (s.IsInvalidArgument()) return absl::InvalidArgumentError(msg);
  return absl::InternalError(msg);
}

bool WriteCouldWaitForQueuedWork(leveldb::DB* db, const leveldb::Cache* block_cache,
                                 size_t write_buffer_size) {
  std::string usage;
  KEEL_CHECK(db->GetProperty("leveldb.approximate-memory-usage", &usage));
  uint64_t total = 0;
  KEEL_CHECK(absl::SimpleAtoi(usage, &total));
  const uint64_t cache = block_cache->TotalCharge();
  const uint64_t memtables = total >= cache ? total - cache : 0;
  return memtables > 2 * static_cast<uint64_t>(write_buffer_size);
}

absl::StatusOr<std::unique_ptr<Backend>> Backend::Open(BackendOptions options) {
  leveldb::Options opts;
  opts.create_if_missing = true;
  opts.paranoid_checks = true;  // refuse to open over corruption instead of skipping it
  opts.write_buffer_size = options.write_buffer_size_bytes;
  if (options.env != nullptr) opts.env = options.env;
  // LevelDB's default block cache size.
  constexpr size_t kBlockCacheBytes = 8 << 20;
  std::unique_ptr<leveldb::Cache> block_cache(leveldb::NewLRUCache(kBlockCacheBytes));
  opts.block_cache = block_cache.get();
  leveldb::DB* raw = nullptr;
  const leveldb::Status s = leveldb::DB::Open(opts, options.path, &raw);
  if (options.after_db_call) options.after_db_call();
  if (!s.ok()) return FromLevelDb(s, absl::StrCat("open ", options.path));
  std::unique_ptr<leveldb::DB> db(raw);
  return std::unique_ptr<Backend>(
      new Backend(std::move(options), std::move(block_cache), std::move(db)));
}

Backend::Backend(BackendOptions options, std::unique_ptr<leveldb::Cache> block_cache,
                 std::unique_ptr<leveldb::DB> db)
    : options_(std::move(options)), block_cache_(std::move(block_cache)), db_(std::move(db)) {}

Backend::~Backend() {
  // Queued background work must run before the DB waits for it in its destructor.
  const std::function<void()>& drain =
      options_.run_queued_work ? options_.run_queued_work : options_.after_db_call;
  if (drain) drain();
  db_.reset();
  if (drain) drain();
}

void Backend::AfterDbCall() const {
  if (options_.after_db_call) options_.after_db_call();
}

void Backend::BeforeDbWrite() const {
  if (!options_.run_queued_work) return;
  if (WriteCouldWaitForQueuedWork(db_.get(), block_cache_.get(),
                                       options_.write_buffer_size_bytes)) {
    options_.run_queued_work();
  }
}

absl::StatusOr<std::optional<std::string>> Backend::Get(std::string_view bucket,
                                                        std::string_view key) const {
  if (!sticky_error_.ok()) return sticky_error_;
  const std::string full = FullKey(bucket, key);
  if (auto it = staged_.find(full); it != staged_.end()) return it->second;
  leveldb::ReadOptions ro;
  ro.verify_checksums = true;
  std::string value;
  const leveldb::Status s = db_->Get(ro, full, &value);
  AfterDbCall();
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return ReadError(s, "get");
  return std::optional<std::string>(std::move(value));
}

absl::Status Backend::ReadError(const leveldb::Status& s, std::string_view context) const {
  absl::Status status = FromLevelDb(s, context);
  if (!s.IsCorruption()) return status;
  // LevelDB does not say which file: name it (kv/table_scrub.h).
  const std::string where = LocateTableCorruption(
      options_.env != nullptr ? options_.env : leveldb::Env::Default(), options_.path);
  if (where.empty()) return status;
  return absl::DataLossError(absl::StrCat(status.message(), " (", where, ")"));
}

void Backend::Put(std::string_view bucket, std::string_view key, std::string_view value) {
  staged_.insert_or_assign(FullKey(bucket, key), std::string(value));
}

void Backend::Delete(std::string_view bucket, std::string_view key) {
  staged_.insert_or_assign(FullKey(bucket, key), std::nullopt);
}

absl::Status Backend::Commit() {
  if (!sticky_error_.ok()) return sticky_error_;
  if (staged_.empty()) return absl::OkStatus();
  leveldb::WriteBatch batch;
  for (const auto& [key, value] : staged_) {
    if (value.has_value()) {
      batch.Put(key, *value);
    } else {
      batch.Delete(key);
    }
  }
  leveldb::WriteOptions wo;
  wo.sync = options_.sync;
  BeforeDbWrite();
  const leveldb::Status s = db_->Write(wo, &batch);
  AfterDbCall();
  staged_.clear();
  if (!s.ok()) sticky_error_ = FromLevelDb(s, "write");
  return sticky_error_;
}

absl::Status Backend::Sync() {
  absl::Status committed = Commit();
  if (!committed.ok()) return committed;
  // An empty synced batch fsyncs LevelDB's log, which holds every write not yet in a
  // (synced) table file; logs it switched away from were synced when closed
  // (env/leveldb_env.cc).
  leveldb::WriteBatch empty;
  leveldb::WriteOptions wo;
  wo.sync = true;
  BeforeDbWrite();
  const leveldb::Status s = db_->Write(wo, &empty);
  AfterDbCall();
  if (!s.ok()) sticky_error_ = FromLevelDb(s, "sync");
  return sticky_error_;
}

absl::Status Backend::ScanAll(
    absl::FunctionRef<bool(std::string_view raw_key, std::string_view value)> fn) const {
  if (!sticky_error_.ok()) return sticky_error_;
  KEEL_CHECK(staged_.empty());
  leveldb::ReadOptions ro;
  ro.verify_checksums = true;
  absl::Status status;
  {
    std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(ro));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (!fn(std::string_view(it->key().data(), it->key().size()),
              std::string_view(it->value().data(), it->value().size()))) {
        break;
      }
    }
    status = ReadError(it->status(), "scan all");
  }
  AfterDbCall();
  return status;
}

absl::Status Backend::ReplaceAll(const std::vector<std::pair<std::string, std::string>>& records) {
  if (!sticky_error_.ok()) return sticky_error_;
  KEEL_CHECK(staged_.empty());
  leveldb::WriteBatch batch;
  {
    // Verified like every other read: a bit flip in an unverified block could name a key
    // that does not exist (and leave the real one behind) and would stay in the cache.
    leveldb::ReadOptions ro;
    ro.verify_checksums = true;
    ro.fill_cache = false;
    std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(ro));
    for (it->SeekToFirst(); it->Valid(); it->Next()) batch.Delete(it->key());
    if (!it->status().ok()) {
      sticky_error_ = ReadError(it->status(), "replace all");
      AfterDbCall();
      return sticky_error_;
    }
  }
  for (const auto& [key, value] : records) batch.Put(key, value);
  leveldb::WriteOptions wo;
  // Durable before the snapshot that carried it is acknowledged to Raft: the WAL does not
  // hold these records, so nothing could replay them.
  wo.sync = true;
  BeforeDbWrite();
  const leveldb::Status s = db_->Write(wo, &batch);
  AfterDbCall();
  if (!s.ok()) sticky_error_ = FromLevelDb(s, "replace all");
  return sticky_error_;
}

void Backend::CompactAll() {
  // CompactRange waits for the compactions it schedules: with queued background work
  // (simulation) it would wait on this very thread forever, so keelsim never defragments.
  db_->CompactRange(nullptr, nullptr);
  AfterDbCall();
}

absl::Status Backend::Scan(
    std::string_view bucket, std::string_view start, std::string_view end,
    size_t limit_records,
    absl::FunctionRef<bool(std::string_view key, std::string_view value)> fn) const {
  if (!sticky_error_.ok()) return sticky_error_;
  KEEL_CHECK(staged_.empty());
  const std::string lo = FullKey(bucket, start);
  const std::string hi = end.empty() ? BucketEnd(bucket) : FullKey(bucket, end);
  const size_t prefix_bytes = bucket.size() + 1;
  leveldb::ReadOptions ro;
  ro.verify_checksums = true;
  absl::Status status;
  {
    std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(ro));
    size_t seen = 0;
    for (it->Seek(lo); it->Valid(); it->Next()) {
      const leveldb::Slice k = it->key();
      if (k.compare(hi) >= 0) break;
      const leveldb::Slice v = it->value();
      ++seen;
      if (!fn(std::string_view(k.data() + prefix_bytes, k.size() - prefix_bytes),
              std::string_view(v.data(), v.size()))) {
        break;
      }
      if (limit_records != 0 && seen >= limit_records) break;
    }
    status = ReadError(it->status(), "scan");
  }
  AfterDbCall();
  return status;
}

uint64_t Backend::ApproximateSizeBytes() const {
  const std::string lo(1, '\0');
  const std::string hi(8, '\xff');
  leveldb::Range range(lo, hi);
  uint64_t size = 0;
  db_->GetApproximateSizes(&range, 1, &size);
  AfterDbCall();
  return size;
}

}  // namespace keel::kv
