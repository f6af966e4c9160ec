#include "storage/file_util.h"

#include <algorithm>
#include <vector>

namespace keel::storage {
namespace {

constexpr size_t kReadChunkBytes = 1 << 20;

std::optional<uint64_t> ParseHex16(std::string_view digits) {
  if (digits.size() != 16) return std::nullopt;
  uint64_t v = 0;
  for (char c : digits) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else {
      return std::nullopt;
    }
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  return v;
}

}  // namespace

bool HasSuffix(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string JoinPath(std::string_view dir, std::string_view name) {
  std::string path(dir);
  if (!path.empty() && path.back() != '/') path.push_back('/');
  path.append(name.data(), name.size());
  return path;
}

std::string ParentDir(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  const size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

absl::Status CreateDirDurably(env::FileSystem* fs, std::string_view dir) {
  const bool existed = fs->FileExists(dir);
  absl::Status s = fs->CreateDir(dir);
  if (!s.ok() || existed) return s;
  return fs->SyncDir(ParentDir(dir));
}

absl::StatusOr<std::string> ReadWholeFile(env::FileSystem* fs, std::string_view path) {
  absl::StatusOr<uint64_t> size_bytes = fs->GetFileSize(path);
  if (!size_bytes.ok()) return size_bytes.status();
  absl::StatusOr<std::unique_ptr<env::SequentialFile>> file = fs->NewSequentialFile(path);
  if (!file.ok()) return file.status();
  std::string data;
  data.reserve(*size_bytes);
  // Bounded: each round reads a chunk or stops at end of file.
  const uint64_t max_rounds = *size_bytes / kReadChunkBytes + 2;
  for (uint64_t round = 0; round < max_rounds && data.size() < *size_bytes; ++round) {
    const size_t before = data.size();
    absl::Status s =
        (*file)->Read(std::min<uint64_t>(kReadChunkBytes, *size_bytes - data.size()), &data);
    if (!s.ok()) return s;
    if (data.size() == before) break;  // end of file came early (file shrank)
  }
  return data;
}

absl::Status WriteFileSync(env::FileSystem* fs, std::string_view path, std::string_view data) {
  absl::StatusOr<std::unique_ptr<env::WritableFile>> file = fs->NewWritableFile(path);
  if (!file.ok()) return file.status();
  absl::Status s = (*file)->Append(data);
  if (s.ok()) s = (*file)->Sync();
  absl::Status close = (*file)->Close();
  return s.ok() ? close : s;
}

absl::Status RemoveFilesWithSuffix(env::FileSystem* fs, std::string_view dir,
                                   std::string_view suffix) {
  absl::StatusOr<std::vector<std::string>> children = fs->GetChildren(dir);
  if (!children.ok()) return children.status();
  for (const std::string& name : *children) {
    if (!HasSuffix(name, suffix)) continue;
    absl::Status s = fs->RemoveFile(JoinPath(dir, name));
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

std::optional<std::pair<uint64_t, uint64_t>> ParseHexPairName(std::string_view name,
                                                              std::string_view suffix) {
  if (name.size() != 33 + suffix.size() || !HasSuffix(name, suffix) || name[16] != '-') {
    return std::nullopt;
  }
  std::optional<uint64_t> a = ParseHex16(name.substr(0, 16));
  std::optional<uint64_t> b = ParseHex16(name.substr(17, 16));
  if (!a.has_value() || !b.has_value()) return std::nullopt;
  return std::make_pair(*a, *b);
}

}  // namespace keel::storage
