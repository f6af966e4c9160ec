// UnsyncedLossFileSystem: a failpoint FileSystem that lets a real process, killed with
// SIGKILL, restart on a disk that looks as if the machine had lost power instead.
//
// SIGKILL keeps the page cache: every byte a killed process wrote is still there for the
// next process, synced or not. Power loss keeps only what was made durable. This wrapper
// forwards every call to `base` and appends to a journal (a plain file outside the data
// directory, written with write(2) so that SIGKILL keeps it too) what became durable:
//
//   record (one line)     written after                          meaning at recovery
//   C <path>              NewWritableFile/NewAppendableFile      new file; its directory
//                         created the file                       entry is not durable
//   T <path>              NewWritableFile truncated an           durable size 0 (the truncation
//                         existing file                          may have reached the disk)
//   A <size> <path>       NewAppendableFile opened an existing   durable size <size> unless
//                         file not yet journaled                 journaled before
//   S <size> <path>       a successful Sync/SyncAsync (size =    durable size <size>
//                         bytes appended before it) or Truncate
//   D <dir>               a successful SyncDir, CreateDir        entries of files in <dir>
//                         (PosixFileSystem syncs the parent),    are durable
//                         Rename (both parents)
//   R <path>              a successful RemoveFile                forgotten (see limits)
//   M <from>\t<to>        a successful Rename                    <to> has <from>'s state,
//                                                                its entry durable
//
// A record is written only after the operation succeeded, never before: the journal may
// under-report durability (a kill between an fsync and its record), never over-report it.
// Paths are made absolute when journaled.
//
// Recover(), run at the next start before anything opens the data directory, replays the
// journal and makes the disk look as after power loss: every journaled file whose
// directory entry never became durable is deleted; every other journaled file is cut to
// its last durable size, or, with a torn-write seed, to that size plus a seeded random
// prefix of its unsynced tail (a torn write). It then syncs what it changed and truncates
// the journal, so a fresh one starts empty. Files never journaled (older lives, locks)
// are left alone: they were durable when the journal started.
//
// Limits (what this model does not do):
//   * RemoveFile and RemoveDir are durable at once: the content is gone from the page
//     cache, so a file that power loss would bring back cannot be restored. (Callers that
//     rely on a removal being durable must still SyncDir; nothing checks that they do.)
//   * Directories themselves are not tracked: a directory created without syncing its
//     parent survives. PosixFileSystem::CreateDir syncs the parent anyway.
//   * Renames are modelled as durable when they return (PosixFileSystem syncs both
//     parents); a rename over a base that did not sync would be over-reported.
//   * Unsynced bytes are lost as a suffix (with the seed: a random prefix of the unsynced
//     tail is kept). Real disks may also reorder unsynced writes within a file or keep
//     later pages but not earlier ones; LevelDB's and our WAL's checksums would see that
//     as corruption, which is not what this failpoint is for.
//   * Only operations through this wrapper are journaled. Everything the process writes
//     to the data directory must go through it (keeld: the server core and LevelDbEnv).
//   * A killed Recover() is safe to repeat (it only cuts further or deletes again).
//
// Threading: the wrapper is as thread-safe as `base`. Journal appends are serialised by a
// mutex; SyncAsync completions (which PosixFileSystem runs on the Loop) journal before
// calling the caller's callback. The journal is shared with queued callbacks, so a
// completion that runs after the wrapper is destroyed still journals safely.
//
// Ownership: `base` must outlive the wrapper and every file it returns.
#ifndef KEEL_ENV_UNSYNCED_LOSS_FS_H_
#define KEEL_ENV_UNSYNCED_LOSS_FS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "env/env.h"
#include "env/file_system_wrapper.h"

namespace keel::env {

class UnsyncedLossJournal;

class UnsyncedLossFileSystem final : public FileSystemWrapper {
 public:
  // What Recover() did, for the caller's log line.
  struct RecoveryReport {
    size_t records = 0;          // journal records replayed
    size_t files_removed = 0;    // directory entry never durable
    size_t files_truncated = 0;  // cut back to their durable size (plus a torn tail)
    uint64_t bytes_dropped = 0;  // unsynced bytes discarded
  };

  // Replays `journal_path` (missing or empty: nothing to do) over `fs`, as described
  // above. `torn_seed` unset: every unsynced byte is dropped; set: each file keeps a
  // random prefix of its unsynced tail, drawn from Rng(*torn_seed).Stream(path), so the
  // same journal and seed cut the same bytes. Truncates the journal when done.
  // kDataLoss if a journaled file is shorter than its durable size (the journal does not
  // describe this disk).
  static absl::StatusOr<RecoveryReport> Recover(FileSystem* fs, const std::string& journal_path,
                                                std::optional<uint64_t> torn_seed);

  // Opens (creating or appending to) `journal_path` and wraps `base`.
  static absl::StatusOr<std::unique_ptr<UnsyncedLossFileSystem>> Create(
      FileSystem* base, const std::string& journal_path);
  ~UnsyncedLossFileSystem() override;

  // Reads, queries, RemoveDir and LockFile are forwarded unjournaled (FileSystemWrapper).
  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(
      std::string_view path) override;
  absl::StatusOr<std::unique_ptr<WritableFile>> NewAppendableFile(
      std::string_view path) override;

  absl::Status CreateDir(std::string_view path) override;
  absl::Status RemoveFile(std::string_view path) override;
  absl::Status Rename(std::string_view from, std::string_view to) override;
  absl::Status Truncate(std::string_view path, uint64_t size) override;
  absl::Status SyncDir(std::string_view dir) override;

 private:
  UnsyncedLossFileSystem(FileSystem* base, std::shared_ptr<UnsyncedLossJournal> journal);

  const std::shared_ptr<UnsyncedLossJournal> journal_;
};

}  // namespace keel::env

#endif  // KEEL_ENV_UNSYNCED_LOSS_FS_H_
