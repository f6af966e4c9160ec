#include "sim/disk.h"

#include <algorithm>
#include <utility>

#include "base/check.h"
#include "sim/disk_files.h"

namespace keel::sim {
namespace {

using disk_internal::Msg;

// Trailing slashes are not part of a name ("/a/" is "/a"); the root stays "/".
std::string_view Clean(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  return path;
}

// "/a/b" -> "/a", "/a" -> "/", "a" -> "" (the relative root).
std::string_view Parent(std::string_view path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return "";
  if (slash == 0) return path.size() > 1 ? "/" : "";
  return path.substr(0, slash);
}

std::string_view BaseName(std::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

bool IsRoot(std::string_view path) { return path.empty() || path == "/"; }

size_t Depth(std::string_view path) { return std::count(path.begin(), path.end(), '/'); }

}  // namespace

SimDisk::SimDisk(World* world, NodeLoop* loop, DiskOptions options, env::Rng rng)
    : world_(world), loop_(loop), options_(options), rng_(rng) {
  KEEL_CHECK(world_ != nullptr && loop_ != nullptr);
  KEEL_CHECK(loop_->world() == world_);
}

SimDisk::~SimDisk() {
  // Queued completions point at this disk.
  for (EventId id : pending_async_) world_->Cancel(id);
}

void SimDisk::Trace(std::string_view kind, std::initializer_list<TraceField> detail) {
  world_->trace().Record(world_->now_ns(), loop_->node_id(), kind, detail);
}

absl::Status SimDisk::Fault(std::string_view op, std::string_view path, absl::Status status) {
  Trace("disk.fault", {{"op", op}, {"path", path},
                       {"code", absl::StatusCodeToString(status.code())}});
  return status;
}

int64_t SimDisk::AsyncWriteLatency() {
  const DiskFaults& f = options_.faults;
  return rng_.UniformRange(f.write_latency_min_ns, std::max(f.write_latency_min_ns,
                                                            f.write_latency_max_ns));
}

int64_t SimDisk::AsyncSyncLatency() {
  const DiskFaults& f = options_.faults;
  if (rng_.Chance(f.slow_sync_probability)) return f.slow_sync_latency_ns;
  return rng_.UniformRange(f.sync_latency_min_ns,
                           std::max(f.sync_latency_min_ns, f.sync_latency_max_ns));
}

bool SimDisk::IsDir(std::string_view path) const {
  if (IsRoot(path)) return true;
  auto it = live_.find(path);
  return it != live_.end() && it->second.is_dir;
}

absl::Status SimDisk::CheckParentExists(std::string_view path) const {
  if (IsRoot(path)) return absl::FailedPreconditionError("cannot replace the root");
  if (!IsDir(Parent(path))) {
    return absl::NotFoundError(Msg(path, ": parent directory does not exist"));
  }
  return absl::OkStatus();
}

void SimDisk::PrepareOverwrite(Inode* inode) {
  if (!inode->durable_override) {
    inode->durable_override = inode->data.substr(0, inode->durable_size);
  }
}

std::string SimDisk::DurableContent(const Inode& inode) {
  if (inode.durable_override) return *inode.durable_override;
  return inode.data.substr(0, inode.durable_size);
}

void SimDisk::SetData(Inode* inode, std::string data) {
  if (inode->live_links > 0) used_bytes_ = used_bytes_ - inode->data.size() + data.size();
  inode->data = std::move(data);
  if (!inode->durable_override) {
    inode->durable_size = std::min<uint64_t>(inode->durable_size, inode->data.size());
  }
}

void SimDisk::Link(const std::string& path, Entry entry) {
  if (entry.inode) {
    ++entry.inode->live_links;
    if (entry.inode->live_links == 1) used_bytes_ += entry.inode->data.size();
  }
  live_[path] = std::move(entry);
}

void SimDisk::Unlink(Namespace::iterator it) {
  if (it->second.inode) {
    Inode* inode = it->second.inode.get();
    KEEL_CHECK(inode->live_links > 0);
    --inode->live_links;
    if (inode->live_links == 0) used_bytes_ -= inode->data.size();
  }
  live_.erase(it);
}

absl::Status SimDisk::ReadAt(const std::shared_ptr<Inode>& inode, std::string_view path,
                             uint64_t offset, size_t n, char* out, size_t* read) {
  world_->CheckOnWorldThread();
  ++counters_.reads;
  if (rng_.Chance(options_.faults.read_error_probability)) {
    ++counters_.read_errors;
    return Fault("read", path, absl::DataLossError(Msg(path, ": EIO on read")));
  }
  const std::string& data = inode->data;
  *read = offset >= data.size() ? 0 : std::min<uint64_t>(n, data.size() - offset);
  if (*read > 0) std::copy_n(data.data() + offset, *read, out);
  counters_.bytes_read += *read;
  Trace("disk.read", {{"path", path}, {"offset", offset}, {"size", *read}});
  if (*read > 0 && rng_.Chance(options_.faults.read_bit_flip_probability)) {
    const uint64_t bit = rng_.Uniform(*read * 8);
    out[bit / 8] = static_cast<char>(out[bit / 8] ^ (1u << (bit % 8)));
    ++counters_.bit_flips;
    Trace("disk.fault", {{"op", "read"}, {"path", path}, {"bit_flip", offset * 8 + bit}});
  }
  return absl::OkStatus();
}

absl::Status SimDisk::WriteAppend(Inode* inode, std::string_view path, std::string_view data) {
  world_->CheckOnWorldThread();
  ++counters_.appends;
  if (rng_.Chance(options_.faults.write_error_probability)) {
    ++counters_.write_errors;
    return Fault("write", path, absl::DataLossError(Msg(path, ": EIO on write")));
  }
  const uint64_t capacity = options_.faults.capacity_bytes;
  if (capacity > 0 && inode->live_links > 0 && used_bytes_ + data.size() > capacity) {
    ++counters_.full_errors;
    return Fault("write", path,
                 absl::ResourceExhaustedError(Msg(path, ": ENOSPC, disk full")));
  }
  counters_.bytes_written += data.size();
  Trace("disk.append", {{"path", path}, {"offset", inode->data.size()},
                        {"size", data.size()}});
  if (rng_.Chance(options_.faults.misdirected_write_probability)) {
    MisdirectWrite(inode, path, data);
    return absl::OkStatus();
  }
  if (inode->live_links > 0) used_bytes_ += data.size();
  inode->data.append(data);
  return absl::OkStatus();
}

void SimDisk::MisdirectWrite(Inode* inode, std::string_view path, std::string_view data) {
  ++counters_.misdirected_writes;
  // The file's size grows (its metadata was written) but its new range holds zeros.
  if (inode->live_links > 0) used_bytes_ += data.size();
  inode->data.append(data.size(), '\0');
  // The bytes land somewhere else: any non-empty file, this one included.
  std::vector<const std::pair<const std::string, Entry>*> victims;
  for (const auto& entry : live_) {
    if (entry.second.inode && !entry.second.inode->data.empty()) victims.push_back(&entry);
  }
  if (victims.empty()) {
    Trace("disk.fault", {{"op", "write"}, {"path", path}, {"misdirected_to", ""}});
    return;
  }
  const auto* victim = victims[rng_.Uniform(victims.size())];
  Inode* target = victim->second.inode.get();
  const uint64_t offset = rng_.Uniform(target->data.size());
  const size_t n = std::min<uint64_t>(data.size(), target->data.size() - offset);
  target->data.replace(offset, n, data.substr(0, n));
  if (target->durable_override && offset < target->durable_override->size()) {
    const size_t m = std::min<uint64_t>(n, target->durable_override->size() - offset);
    target->durable_override->replace(offset, m, data.substr(0, m));
  }
  Trace("disk.fault", {{"op", "write"}, {"path", path}, {"misdirected_to", victim->first},
                       {"offset", offset}, {"size", n}});
}

absl::Status SimDisk::SyncInode(Inode* inode, std::string_view path) {
  world_->CheckOnWorldThread();
  ++counters_.syncs;
  if (rng_.Chance(options_.faults.sync_error_probability)) {
    ++counters_.sync_errors;
    return Fault("sync", path, absl::DataLossError(Msg(path, ": EIO on fsync")));
  }
  inode->durable_override.reset();
  inode->durable_size = inode->data.size();
  Trace("disk.sync", {{"path", path}, {"size", inode->durable_size}});
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<env::SequentialFile>> SimDisk::NewSequentialFile(
    std::string_view path) {
  world_->CheckOnWorldThread();
  path = Clean(path);
  auto it = live_.find(path);
  if (it == live_.end() || it->second.is_dir) {
    return absl::NotFoundError(Msg(path, ": no such file"));
  }
  return std::make_unique<SimSequentialFile>(this, it->second.inode, std::string(path));
}

absl::StatusOr<std::unique_ptr<env::RandomAccessFile>> SimDisk::NewRandomAccessFile(
    std::string_view path) {
  world_->CheckOnWorldThread();
  path = Clean(path);
  auto it = live_.find(path);
  if (it == live_.end() || it->second.is_dir) {
    return absl::NotFoundError(Msg(path, ": no such file"));
  }
  return std::make_unique<SimRandomAccessFile>(this, it->second.inode, std::string(path));
}

absl::StatusOr<std::unique_ptr<env::WritableFile>> SimDisk::OpenWritable(
    std::string_view path, bool truncate) {
  world_->CheckOnWorldThread();
  path = Clean(path);
  absl::Status s = CheckParentExists(path);
  if (!s.ok()) return s;
  auto it = live_.find(path);
  if (it != live_.end() && it->second.is_dir) {
    return absl::FailedPreconditionError(Msg(path, ": is a directory"));
  }
  std::shared_ptr<Inode> inode;
  if (it != live_.end()) {
    inode = it->second.inode;
    if (truncate && !inode->data.empty()) {
      PrepareOverwrite(inode.get());
      SetData(inode.get(), "");
    }
  } else {
    inode = std::make_shared<Inode>();
    Link(std::string(path), Entry{false, inode});
  }
  Trace("disk.open", {{"path", path}, {"truncate", truncate}});
  return std::make_unique<SimWritableFile>(this, std::move(inode), std::string(path));
}

absl::StatusOr<std::unique_ptr<env::WritableFile>> SimDisk::NewWritableFile(
    std::string_view path) {
  return OpenWritable(path, /*truncate=*/true);
}

absl::StatusOr<std::unique_ptr<env::WritableFile>> SimDisk::NewAppendableFile(
    std::string_view path) {
  return OpenWritable(path, /*truncate=*/false);
}

bool SimDisk::FileExists(std::string_view path) {
  world_->CheckOnWorldThread();
  path = Clean(path);
  return IsRoot(path) || live_.find(path) != live_.end();
}

absl::StatusOr<std::vector<std::string>> SimDisk::GetChildren(std::string_view dir) {
  world_->CheckOnWorldThread();
  dir = Clean(dir);
  if (!IsDir(dir)) return absl::NotFoundError(Msg(dir, ": no such directory"));
  std::vector<std::string> names;
  for (const auto& [path, entry] : live_) {  // std::map: already sorted by path
    if (Parent(path) == dir) names.emplace_back(BaseName(path));
  }
  std::sort(names.begin(), names.end());
  return names;
}

absl::StatusOr<uint64_t> SimDisk::GetFileSize(std::string_view path) {
  world_->CheckOnWorldThread();
  path = Clean(path);
  auto it = live_.find(path);
  if (it == live_.end() || it->second.is_dir) {
    return absl::NotFoundError(Msg(path, ": no such file"));
  }
  return it->second.inode->data.size();
}

absl::Status SimDisk::CreateDir(std::string_view path) {
  world_->CheckOnWorldThread();
  path = Clean(path);
  if (IsDir(path)) return absl::OkStatus();
  absl::Status s = CheckParentExists(path);
  if (!s.ok()) return s;
  if (live_.find(path) != live_.end()) {
    return absl::AlreadyExistsError(Msg(path, ": a file has this name"));
  }
  Link(std::string(path), Entry{true, nullptr});
  Trace("disk.mkdir", {{"path", path}});
  return options_.implicit_syncs ? SyncDir(Parent(path)) : absl::OkStatus();
}

absl::Status SimDisk::RemoveFile(std::string_view path) {
  world_->CheckOnWorldThread();
  path = Clean(path);
  auto it = live_.find(path);
  if (it == live_.end()) return absl::NotFoundError(Msg(path, ": no such file"));
  if (it->second.is_dir) {
    return absl::FailedPreconditionError(Msg(path, ": is a directory"));
  }
  Unlink(it);
  Trace("disk.unlink", {{"path", path}});
  return absl::OkStatus();
}

absl::Status SimDisk::RemoveDir(std::string_view path) {
  world_->CheckOnWorldThread();
  path = Clean(path);
  auto it = live_.find(path);
  if (it == live_.end()) return absl::NotFoundError(Msg(path, ": no such directory"));
  if (!it->second.is_dir) {
    return absl::FailedPreconditionError(Msg(path, ": not a directory"));
  }
  for (const auto& entry : live_) {
    if (Parent(entry.first) == path) {
      return absl::FailedPreconditionError(Msg(path, ": directory not empty"));
    }
  }
  Unlink(it);
  Trace("disk.rmdir", {{"path", path}});
  return absl::OkStatus();
}

absl::Status SimDisk::Rename(std::string_view from, std::string_view to) {
  world_->CheckOnWorldThread();
  from = Clean(from);
  to = Clean(to);
  auto src = live_.find(from);
  if (src == live_.end()) return absl::NotFoundError(Msg(from, ": no such file"));
  if (src->second.is_dir) {
    // Directory renames would need to move every descendant; nothing in Keel needs them.
    return absl::UnimplementedError(Msg(from, ": renaming directories"));
  }
  absl::Status s = CheckParentExists(to);
  if (!s.ok()) return s;
  if (from == to) return absl::OkStatus();
  auto dst = live_.find(to);
  if (dst != live_.end()) {
    if (dst->second.is_dir) {
      return absl::FailedPreconditionError(Msg(to, ": is a directory"));
    }
    Unlink(dst);
  }
  Entry moved = live_.find(from)->second;
  Unlink(live_.find(from));
  Link(std::string(to), std::move(moved));
  Trace("disk.rename", {{"from", from}, {"to", to}});
  if (!options_.implicit_syncs) return absl::OkStatus();
  // As env/posix_fs: on failure the new name is visible but of unknown durability.
  s = SyncDir(Parent(to));
  if (!s.ok() || Parent(from) == Parent(to)) return s;
  return SyncDir(Parent(from));
}

absl::Status SimDisk::Truncate(std::string_view path, uint64_t size) {
  world_->CheckOnWorldThread();
  path = Clean(path);
  auto it = live_.find(path);
  if (it == live_.end() || it->second.is_dir) {
    return absl::NotFoundError(Msg(path, ": no such file"));
  }
  Inode* inode = it->second.inode.get();
  const uint64_t capacity = options_.faults.capacity_bytes;
  if (size > inode->data.size() && capacity > 0 &&
      used_bytes_ + (size - inode->data.size()) > capacity) {
    ++counters_.full_errors;
    return Fault("truncate", path, absl::ResourceExhaustedError(
                                       Msg(path, ": ENOSPC, disk full")));
  }
  if (size < inode->data.size()) PrepareOverwrite(inode);
  std::string data = inode->data;
  data.resize(size, '\0');
  SetData(inode, std::move(data));
  Trace("disk.truncate", {{"path", path}, {"size", size}});
  return options_.implicit_syncs ? SyncInode(inode, path) : absl::OkStatus();
}

absl::Status SimDisk::SyncDir(std::string_view dir) {
  world_->CheckOnWorldThread();
  dir = Clean(dir);
  if (!IsDir(dir)) return absl::NotFoundError(Msg(dir, ": no such directory"));
  ++counters_.dir_syncs;
  if (rng_.Chance(options_.faults.dir_sync_error_probability)) {
    ++counters_.dir_sync_errors;
    return Fault("syncdir", dir, absl::DataLossError(Msg(dir, ": EIO on fsync")));
  }
  // The directory's durable entries become exactly its live entries.
  for (auto it = durable_.begin(); it != durable_.end();) {
    it = Parent(it->first) == dir ? durable_.erase(it) : std::next(it);
  }
  for (const auto& [path, entry] : live_) {
    if (Parent(path) == dir) durable_[path] = entry;
  }
  Trace("disk.syncdir", {{"path", dir}});
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<env::FileLock>> SimDisk::LockFile(std::string_view path) {
  world_->CheckOnWorldThread();
  path = Clean(path);
  if (locks_.find(path) != locks_.end()) {
    return absl::FailedPreconditionError(Msg(path, ": lock held"));
  }
  if (live_.find(path) == live_.end()) {
    absl::StatusOr<std::unique_ptr<env::WritableFile>> created = NewAppendableFile(path);
    if (!created.ok()) return created.status();
  }
  locks_.emplace(path);
  Trace("disk.lock", {{"path", path}});
  return std::make_unique<SimFileLock>(this, std::string(path));
}

void SimDisk::Crash() {
  world_->CheckOnWorldThread();
  ++counters_.crashes;
  ++generation_;
  for (EventId id : pending_async_) world_->Cancel(id);
  pending_async_.clear();
  locks_.clear();

  // Keep only durable entries whose every ancestor is durable too (parents first).
  std::vector<std::pair<size_t, std::string>> order;
  for (const auto& entry : durable_) order.emplace_back(Depth(entry.first), entry.first);
  std::sort(order.begin(), order.end());
  Namespace survivors;
  for (const auto& [depth, path] : order) {
    const std::string_view parent = Parent(path);
    auto p = survivors.find(parent);
    if (IsRoot(parent) || (p != survivors.end() && p->second.is_dir)) {
      survivors[path] = durable_[path];
    }
  }

  // Each surviving file reverts to its durable content, perhaps plus a torn tail. The
  // same inode may be reachable from two names (an undone rename); visit it once.
  std::set<const Inode*> done;
  for (auto& [path, entry] : survivors) {
    Inode* inode = entry.inode.get();
    if (inode == nullptr || !done.insert(inode).second) continue;
    std::string content = DurableContent(*inode);
    const bool extends = !inode->durable_override && inode->data.size() > content.size();
    if (extends && rng_.Chance(options_.torn_write_probability)) {
      const uint64_t unsynced = inode->data.size() - content.size();
      const uint64_t kept = rng_.UniformRange(0, static_cast<int64_t>(unsynced));
      content.append(inode->data, content.size(), kept);
      ++counters_.torn_writes;
      Trace("disk.torn", {{"path", path}, {"kept", kept}, {"lost", unsynced - kept}});
    }
    inode->data = std::move(content);
    inode->durable_override.reset();
    inode->durable_size = inode->data.size();
  }

  // Rebuild the live namespace and the space accounting from the survivors.
  for (auto& entry : live_) {
    if (entry.second.inode) entry.second.inode->live_links = 0;
  }
  live_.clear();
  used_bytes_ = 0;
  durable_ = survivors;
  for (auto& [path, entry] : survivors) Link(path, entry);
  Trace("disk.crash", {{"files", survivors.size()}});
}

std::vector<std::string> SimDisk::ListFiles() const {
  std::vector<std::string> files;
  for (const auto& [path, entry] : live_) {
    if (!entry.is_dir) files.push_back(path);
  }
  return files;
}

absl::StatusOr<std::string> SimDisk::ReadContents(std::string_view path) const {
  auto it = live_.find(Clean(path));
  if (it == live_.end() || it->second.is_dir) {
    return absl::NotFoundError(Msg(path, ": no such file"));
  }
  return it->second.inode->data;
}

absl::StatusOr<std::string> SimDisk::DurableContents(std::string_view path) const {
  auto it = live_.find(Clean(path));
  if (it == live_.end() || it->second.is_dir) {
    return absl::NotFoundError(Msg(path, ": no such file"));
  }
  return DurableContent(*it->second.inode);
}

absl::Status SimDisk::CorruptByte(std::string_view path, uint64_t offset) {
  auto it = live_.find(Clean(path));
  if (it == live_.end() || it->second.is_dir) {
    return absl::NotFoundError(Msg(path, ": no such file"));
  }
  Inode* inode = it->second.inode.get();
  if (offset >= inode->data.size()) {
    return absl::OutOfRangeError(Msg(path, ": offset past end"));
  }
  inode->data[offset] = static_cast<char>(~inode->data[offset]);
  if (inode->durable_override && offset < inode->durable_override->size()) {
    (*inode->durable_override)[offset] = static_cast<char>(~(*inode->durable_override)[offset]);
  }
  Trace("disk.corrupt", {{"path", path}, {"offset", offset}});
  return absl::OkStatus();
}

}  // namespace keel::sim
