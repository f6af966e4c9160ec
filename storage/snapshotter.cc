#include "storage/snapshotter.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/check.h"
#include "storage/file_util.h"
#include "storage/format.h"
#include "storage/snapshot_file.h"

namespace keel::storage {

absl::StatusOr<std::unique_ptr<Snapshotter>> Snapshotter::Create(env::FileSystem* fs,
                                                                 std::string_view dir) {
  KEEL_CHECK(fs != nullptr);
  absl::Status s = CreateDirDurably(fs, dir);
  if (!s.ok()) return s;
  s = RemoveFilesWithSuffix(fs, dir, std::string(kSnapSuffix) + std::string(kTmpSuffix));
  if (!s.ok()) return s;
  return std::unique_ptr<Snapshotter>(new Snapshotter(fs, std::string(dir)));
}

absl::Status Snapshotter::Save(const raftpb::Snapshot& snapshot) {
  const raftpb::SnapshotMetadata& meta = snapshot.metadata();
  if (meta.index() == 0) {
    return absl::InvalidArgumentError("storage/snapshot: cannot save a snapshot at index 0");
  }
  const std::string name = SnapshotFileName(meta.term(), meta.index());
  const std::string path = JoinPath(dir_, name);
  if (fs_->FileExists(path)) {
    return absl::AlreadyExistsError(absl::StrFormat("storage/snapshot: %s exists", path));
  }
  const std::string payload = snapshot.SerializeAsString();
  SnapshotHeader header;
  header.term = meta.term();
  header.index = meta.index();
  header.payload_size_bytes = payload.size();
  header.payload_crc = ExtendCrc(0, payload);
  const std::string tmp_path = path + std::string(kTmpSuffix);
  absl::StatusOr<std::unique_ptr<env::WritableFile>> file = fs_->NewWritableFile(tmp_path);
  if (!file.ok()) return file.status();
  absl::Status s = (*file)->Append(EncodeSnapshotHeader(header));
  if (s.ok()) s = (*file)->Append(payload);
  if (s.ok()) s = (*file)->Sync();
  absl::Status close = (*file)->Close();
  if (s.ok()) s = close;
  if (s.ok()) s = fs_->Rename(tmp_path, path);
  if (s.ok()) s = fs_->SyncDir(dir_);
  if (!s.ok()) {
    // Best effort: the temp file is never loaded, and Create removes leftovers anyway.
    fs_->RemoveFile(tmp_path).IgnoreError();
  }
  return s;
}

absl::StatusOr<std::vector<SnapshotFileInfo>> Snapshotter::List() {
  absl::StatusOr<std::vector<std::string>> children = fs_->GetChildren(dir_);
  if (!children.ok()) return children.status();
  std::vector<SnapshotFileInfo> infos;
  for (const std::string& name : *children) {
    std::optional<std::pair<uint64_t, uint64_t>> parsed = ParseHexPairName(name, kSnapSuffix);
    if (!parsed.has_value()) continue;
    infos.push_back(SnapshotFileInfo{parsed->first, parsed->second, name});
  }
  std::sort(infos.begin(), infos.end(), [](const SnapshotFileInfo& a, const SnapshotFileInfo& b) {
    return std::make_pair(a.index, a.term) > std::make_pair(b.index, b.term);
  });
  return infos;
}

absl::StatusOr<raftpb::Snapshot> Snapshotter::Load(std::string_view name) {
  bool verification_failed = false;
  return LoadFile(name, &verification_failed);
}

absl::StatusOr<raftpb::Snapshot> Snapshotter::LoadFile(std::string_view name,
                                                       bool* verification_failed) {
  *verification_failed = false;
  const std::string path = JoinPath(dir_, name);
  absl::StatusOr<std::string> data = ReadWholeFile(fs_, path);
  if (!data.ok()) return data.status();
  *verification_failed = true;
  auto corrupt = [&path](std::string_view reason) {
    return absl::DataLossError(absl::StrFormat("storage/snapshot: %s: %s", path, reason));
  };
  absl::StatusOr<SnapshotHeader> header = DecodeSnapshotHeader(*data, path);
  if (!header.ok()) return header.status();
  if (name != SnapshotFileName(header->term, header->index)) {
    return corrupt(absl::StrFormat("header says term %d index %d, the name disagrees", header->term,
                                   header->index));
  }
  const std::string_view payload = std::string_view(*data).substr(kSnapshotHeaderBytes);
  if (payload.size() != header->payload_size_bytes) {
    return corrupt(absl::StrFormat("payload is %d bytes, header says %d", payload.size(),
                                   header->payload_size_bytes));
  }
  if (ExtendCrc(0, payload) != header->payload_crc) return corrupt("payload checksum mismatch");
  raftpb::Snapshot snapshot;
  if (!snapshot.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return corrupt("unparsable raftpb::Snapshot");
  }
  if (snapshot.metadata().term() != header->term || snapshot.metadata().index() != header->index) {
    return corrupt("metadata (index, term) disagrees with the header");
  }
  *verification_failed = false;
  return snapshot;
}

absl::StatusOr<LoadedSnapshot> Snapshotter::LoadNewest() {
  return LoadNewestMatching(/*filter=*/false, {});
}

absl::StatusOr<LoadedSnapshot> Snapshotter::LoadNewestAvailable(
    absl::Span<const WalSnapshot> wal_markers) {
  return LoadNewestMatching(/*filter=*/true, wal_markers);
}

absl::StatusOr<LoadedSnapshot> Snapshotter::LoadNewestMatching(
    bool filter, absl::Span<const WalSnapshot> wal_markers) {
  absl::StatusOr<std::vector<SnapshotFileInfo>> infos = List();
  if (!infos.ok()) return infos.status();
  LoadedSnapshot result;
  for (const SnapshotFileInfo& info : *infos) {
    if (filter && std::find(wal_markers.begin(), wal_markers.end(),
                            WalSnapshot{info.index, info.term}) == wal_markers.end()) {
      continue;
    }
    bool verification_failed = false;
    absl::StatusOr<raftpb::Snapshot> snapshot = LoadFile(info.name, &verification_failed);
    if (snapshot.ok()) {
      result.snapshot = *std::move(snapshot);
      result.name = info.name;
      return result;
    }
    if (!verification_failed) return snapshot.status();  // I/O trouble: do not guess
    const std::string path = JoinPath(dir_, info.name);
    absl::Status s = fs_->Rename(path, path + std::string(kBrokenSuffix));
    if (!s.ok()) return s;
    result.broken.push_back(info.name);
  }
  return absl::NotFoundError(absl::StrFormat(
      "storage/snapshot: no usable snapshot in %s%s%s", dir_,
      result.broken.empty() ? "" : "; renamed broken: ", absl::StrJoin(result.broken, ", ")));
}

absl::Status Snapshotter::Purge(size_t keep) {
  KEEL_CHECK(keep >= 1);
  absl::StatusOr<std::vector<SnapshotFileInfo>> infos = List();
  if (!infos.ok()) return infos.status();
  if (infos->size() <= keep) return absl::OkStatus();
  for (size_t i = keep; i < infos->size(); ++i) {
    absl::Status s = fs_->RemoveFile(JoinPath(dir_, (*infos)[i].name));
    if (!s.ok()) return s;
  }
  return fs_->SyncDir(dir_);
}

}  // namespace keel::storage
