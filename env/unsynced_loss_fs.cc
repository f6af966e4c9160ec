#include "env/unsynced_loss_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "base/check.h"
#include "env/rng.h"

namespace keel::env {
namespace {

// Absolute, with "//", "/./" and a trailing "/" removed, so that a file and the directory
// synced for it compare equal however the caller spelled them.
std::string Normalize(std::string_view path) {
  std::string joined;
  if (path.empty() || path.front() != '/') {
    char cwd[4096];
    KEEL_CHECK(::getcwd(cwd, sizeof(cwd)) != nullptr);
    joined = absl::StrCat(cwd, "/", std::string(path));
  } else {
    joined = std::string(path);
  }
  std::string out;
  for (const std::string& part :
       std::vector<std::string>(absl::StrSplit(joined, '/', absl::SkipEmpty()))) {
    if (part == ".") continue;
    absl::StrAppend(&out, "/", part);
  }
  return out.empty() ? "/" : out;
}

std::string Parent(const std::string& normalized) {
  const size_t slash = normalized.rfind('/');
  return slash == 0 ? "/" : normalized.substr(0, slash);
}

// The journal's line format cannot carry these; no path Keel uses contains them.
void CheckJournalable(const std::string& path) {
  KEEL_CHECK(path.find('\n') == std::string::npos);
  KEEL_CHECK(path.find('\t') == std::string::npos);
}

}  // namespace

// The append-only journal. Each record is one write(2) of one line; SIGKILL keeps what
// write(2) returned for, and a line cut short by a kill mid-write has no '\n' and is
// ignored by Recover.
class UnsyncedLossJournal {
 public:
  explicit UnsyncedLossJournal(int fd) : fd_(fd) {}
  ~UnsyncedLossJournal() { ::close(fd_); }

  void Append(std::string line) {
    line.push_back('\n');
    absl::MutexLock lock(&mu_);
    size_t done = 0;
    // Bounded: each pass writes > 0 bytes or is interrupted by a signal.
    while (done < line.size()) {
      const ssize_t w = ::write(fd_, line.data() + done, line.size() - done);
      if (w < 0 && errno == EINTR) continue;
      // A journal we cannot write would make Recover over-report durability: stop loudly.
      KEEL_CHECK(w > 0);
      done += static_cast<size_t>(w);
    }
  }

  // Directory-entry changes (create, truncate-on-open, rename) and directory syncs are
  // serialised with their records, so that a record's position in the journal matches
  // the order the operations took on disk: a directory sync recorded after a create
  // really started after it.
  absl::Mutex& namespace_mu() { return namespace_mu_; }

 private:
  const int fd_;
  absl::Mutex mu_;
  absl::Mutex namespace_mu_;
};

namespace {

class JournaledWritableFile final : public WritableFileWrapper {
 public:
  JournaledWritableFile(std::unique_ptr<WritableFile> base, std::string path,
                        std::shared_ptr<UnsyncedLossJournal> journal)
      : WritableFileWrapper(std::move(base)), path_(std::move(path)), journal_(std::move(journal)) {}

  absl::Status Sync() override {
    // Taken before the sync: every byte appended so far is covered by it.
    const uint64_t size = target()->Size();
    absl::Status status = target()->Sync();
    if (status.ok()) journal_->Append(absl::StrCat("S ", size, " ", path_));
    return status;
  }
  void SyncAsync(StatusCallback done) override {
    // Size() counts queued appends, which the base executes before this sync (FIFO).
    const uint64_t size = target()->Size();
    target()->SyncAsync([journal = journal_, path = path_, size,
                      done = std::move(done)](absl::Status status) mutable {
      if (status.ok()) journal->Append(absl::StrCat("S ", size, " ", path));
      std::move(done)(std::move(status));
    });
  }

 private:
  const std::string path_;
  const std::shared_ptr<UnsyncedLossJournal> journal_;
};

// What the journal says about one file.
struct FileState {
  bool entry_durable = false;
  uint64_t durable_size = 0;
};

// Applies one journal line to `files`. Returns false for a line it does not understand.
bool Replay(std::string_view line, std::map<std::string, FileState>* files) {
  if (line.size() < 3 || line[1] != ' ') return false;
  const char op = line[0];
  std::string_view rest = line.substr(2);
  auto sized = [&rest](uint64_t* size) {
    const size_t space = rest.find(' ');
    if (space == std::string_view::npos ||
        !absl::SimpleAtoi(std::string(rest.substr(0, space)), size)) {
      return false;
    }
    rest.remove_prefix(space + 1);
    return true;
  };
  uint64_t size = 0;
  switch (op) {
    case 'C':
      (*files)[std::string(rest)] = FileState{false, 0};
      return true;
    case 'T': {
      // Untracked: it existed when the journal started, so its entry is durable.
      auto [it, inserted] = files->try_emplace(std::string(rest), FileState{true, 0});
      it->second.durable_size = 0;
      return true;
    }
    case 'A':
      if (!sized(&size)) return false;
      files->try_emplace(std::string(rest), FileState{true, size});
      return true;
    case 'S': {
      if (!sized(&size)) return false;
      auto [it, inserted] = files->try_emplace(std::string(rest), FileState{true, 0});
      it->second.durable_size = size;
      return true;
    }
    case 'D':
      for (auto& [path, state] : *files) {
        if (Parent(path) == std::string(rest)) state.entry_durable = true;
      }
      return true;
    case 'R':
      files->erase(std::string(rest));
      return true;
    case 'M': {
      const size_t tab = rest.find('\t');
      if (tab == std::string_view::npos) return false;
      const std::string from(rest.substr(0, tab));
      const std::string to(rest.substr(tab + 1));
      auto it = files->find(from);
      if (it == files->end()) {
        files->erase(to);  // an untracked (fully durable) file now lives at `to`
        return true;
      }
      FileState moved = it->second;
      moved.entry_durable = true;
      files->erase(it);
      (*files)[to] = moved;
      return true;
    }
    default:
      return false;
  }
}

}  // namespace

absl::StatusOr<UnsyncedLossFileSystem::RecoveryReport> UnsyncedLossFileSystem::Recover(
    FileSystem* fs, const std::string& journal_path, std::optional<uint64_t> torn_seed) {
  RecoveryReport report;
  if (!fs->FileExists(journal_path)) return report;
  std::string text;
  {
    absl::StatusOr<std::unique_ptr<SequentialFile>> file = fs->NewSequentialFile(journal_path);
    if (!file.ok()) return file.status();
    // Bounded by the journal's size: each pass reads more or reaches the end.
    constexpr size_t kChunkBytes = 1 << 20;
    while (true) {
      const size_t before = text.size();
      if (absl::Status s = (*file)->Read(kChunkBytes, &text); !s.ok()) return s;
      if (text.size() == before) break;
    }
  }
  std::map<std::string, FileState> files;
  // A kill in the middle of a record leaves a last line without '\n': not written.
  const size_t complete = text.rfind('\n');
  const std::string lines = complete == std::string::npos ? "" : text.substr(0, complete);
  for (const std::string& line :
       std::vector<std::string>(absl::StrSplit(lines, '\n', absl::SkipEmpty()))) {
    if (!Replay(line, &files)) {
      return absl::DataLossError(
          absl::StrCat("unsynced-loss journal ", journal_path, ": bad record \"", line, "\""));
    }
    ++report.records;
  }
  std::set<std::string> dirs_to_sync;
  for (const auto& [path, state] : files) {
    if (!fs->FileExists(path)) continue;
    if (!state.entry_durable) {
      if (absl::Status s = fs->RemoveFile(path); !s.ok()) return s;
      dirs_to_sync.insert(Parent(path));
      ++report.files_removed;
      continue;
    }
    absl::StatusOr<uint64_t> size = fs->GetFileSize(path);
    if (!size.ok()) return size.status();
    if (*size < state.durable_size) {
      return absl::DataLossError(absl::StrCat("unsynced-loss journal ", journal_path, ": ", path,
                                              " has ", *size, " bytes, ", state.durable_size,
                                              " of them journaled as durable"));
    }
    uint64_t keep = state.durable_size;
    if (torn_seed.has_value()) {
      keep += Rng(*torn_seed).Stream(path).Uniform(*size - state.durable_size + 1);
    }
    if (keep == *size) continue;
    if (absl::Status s = fs->Truncate(path, keep); !s.ok()) return s;  // also syncs
    ++report.files_truncated;
    report.bytes_dropped += *size - keep;
  }
  for (const std::string& dir : dirs_to_sync) {
    if (absl::Status s = fs->SyncDir(dir); !s.ok()) return s;
  }
  // Everything on disk is now as durable as the journal said; the next journal starts
  // from here.
  if (absl::Status s = fs->Truncate(journal_path, 0); !s.ok()) return s;
  return report;
}

absl::StatusOr<std::unique_ptr<UnsyncedLossFileSystem>> UnsyncedLossFileSystem::Create(
    FileSystem* base, const std::string& journal_path) {
  if (base == nullptr) return absl::InvalidArgumentError("UnsyncedLossFileSystem: no base");
  const int fd = ::open(journal_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    return absl::Status(err == ENOENT ? absl::StatusCode::kNotFound : absl::StatusCode::kInternal,
                        absl::StrCat("open unsynced-loss journal ", journal_path, ": ",
                                     std::strerror(err)));
  }
  return std::unique_ptr<UnsyncedLossFileSystem>(
      new UnsyncedLossFileSystem(base, std::make_shared<UnsyncedLossJournal>(fd)));
}

UnsyncedLossFileSystem::UnsyncedLossFileSystem(FileSystem* base,
                                               std::shared_ptr<UnsyncedLossJournal> journal)
    : FileSystemWrapper(base), journal_(std::move(journal)) {}

UnsyncedLossFileSystem::~UnsyncedLossFileSystem() = default;

absl::StatusOr<std::unique_ptr<WritableFile>> UnsyncedLossFileSystem::NewWritableFile(
    std::string_view path) {
  const std::string normalized = Normalize(path);
  CheckJournalable(normalized);
  absl::MutexLock lock(&journal_->namespace_mu());
  const bool existed = target()->FileExists(path);
  absl::StatusOr<std::unique_ptr<WritableFile>> file = target()->NewWritableFile(path);
  if (!file.ok()) return file.status();
  journal_->Append(absl::StrCat(existed ? "T " : "C ", normalized));
  return std::make_unique<JournaledWritableFile>(*std::move(file), normalized, journal_);
}

absl::StatusOr<std::unique_ptr<WritableFile>> UnsyncedLossFileSystem::NewAppendableFile(
    std::string_view path) {
  const std::string normalized = Normalize(path);
  CheckJournalable(normalized);
  absl::MutexLock lock(&journal_->namespace_mu());
  const bool existed = target()->FileExists(path);
  absl::StatusOr<std::unique_ptr<WritableFile>> file = target()->NewAppendableFile(path);
  if (!file.ok()) return file.status();
  journal_->Append(existed ? absl::StrCat("A ", (*file)->Size(), " ", normalized)
                           : absl::StrCat("C ", normalized));
  return std::make_unique<JournaledWritableFile>(*std::move(file), normalized, journal_);
}

absl::Status UnsyncedLossFileSystem::CreateDir(std::string_view path) {
  const std::string normalized = Normalize(path);
  CheckJournalable(normalized);
  absl::MutexLock lock(&journal_->namespace_mu());
  absl::Status status = target()->CreateDir(path);
  // The base (PosixFileSystem) syncs the parent: entries created there so far are durable.
  if (status.ok()) journal_->Append(absl::StrCat("D ", Parent(normalized)));
  return status;
}

absl::Status UnsyncedLossFileSystem::RemoveFile(std::string_view path) {
  const std::string normalized = Normalize(path);
  CheckJournalable(normalized);
  absl::MutexLock lock(&journal_->namespace_mu());
  absl::Status status = target()->RemoveFile(path);
  if (status.ok()) journal_->Append(absl::StrCat("R ", normalized));
  return status;
}

absl::Status UnsyncedLossFileSystem::Rename(std::string_view from, std::string_view to) {
  const std::string from_normalized = Normalize(from);
  const std::string to_normalized = Normalize(to);
  CheckJournalable(from_normalized);
  CheckJournalable(to_normalized);
  absl::MutexLock lock(&journal_->namespace_mu());
  absl::Status status = target()->Rename(from, to);
  if (!status.ok()) return status;
  // The base syncs both parents before returning OK (env.h, posix_fs.h).
  journal_->Append(absl::StrCat("M ", from_normalized, "\t", to_normalized));
  journal_->Append(absl::StrCat("D ", Parent(to_normalized)));
  if (Parent(from_normalized) != Parent(to_normalized)) {
    journal_->Append(absl::StrCat("D ", Parent(from_normalized)));
  }
  return status;
}

absl::Status UnsyncedLossFileSystem::Truncate(std::string_view path, uint64_t size) {
  const std::string normalized = Normalize(path);
  CheckJournalable(normalized);
  absl::Status status = target()->Truncate(path, size);
  // The base fsyncs the file: the new size is durable.
  if (status.ok()) journal_->Append(absl::StrCat("S ", size, " ", normalized));
  return status;
}

absl::Status UnsyncedLossFileSystem::SyncDir(std::string_view dir) {
  const std::string normalized = Normalize(dir);
  CheckJournalable(normalized);
  absl::MutexLock lock(&journal_->namespace_mu());
  absl::Status status = target()->SyncDir(dir);
  if (status.ok()) journal_->Append(absl::StrCat("D ", normalized));
  return status;
}

}  // namespace keel::env
