// Small synchronous file helpers shared by the WAL and the snapshotter. All go through
// env::FileSystem, never the OS.
#ifndef KEEL_STORAGE_FILE_UTIL_H_
#define KEEL_STORAGE_FILE_UTIL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "env/env.h"

namespace keel::storage {

// Debian's Abseil is built with its own absl::string_view (not std::string_view), so
// absl::StrCat/EndsWith do not take our std::string_view; these small helpers do.
bool HasSuffix(std::string_view s, std::string_view suffix);

std::string JoinPath(std::string_view dir, std::string_view name);

// The directory holding `path` ("." for a bare name, "/" for a top-level entry).
std::string ParentDir(std::string_view path);

// CreateDir, then SyncDir of its parent: env.h makes a new directory entry durable only
// after that, and a WAL whose directory vanishes on power loss is no WAL at all.
absl::Status CreateDirDurably(env::FileSystem* fs, std::string_view dir);

// Reads all of `path` (its size at the time of the call).
absl::StatusOr<std::string> ReadWholeFile(env::FileSystem* fs, std::string_view path);

// Creates/truncates `path`, appends `data`, syncs and closes it. Does not sync the parent.
absl::Status WriteFileSync(env::FileSystem* fs, std::string_view path, std::string_view data);

// Removes every entry of `dir` whose name ends with `suffix`.
absl::Status RemoveFilesWithSuffix(env::FileSystem* fs, std::string_view dir,
                                   std::string_view suffix);

// Parses "%016x-%016x<suffix>" (lower-case hex, exactly 16 digits each).
std::optional<std::pair<uint64_t, uint64_t>> ParseHexPairName(std::string_view name,
                                                              std::string_view suffix);

}  // namespace keel::storage

#endif  // KEEL_STORAGE_FILE_UTIL_H_
