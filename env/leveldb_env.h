// LevelDbEnv: leveldb::Env implemented over our FileSystem, so that every file LevelDB
// touches goes through the seam (the real disk in keeld, the simulated, fault-injecting
// disk in keelsim) and its clock is the Env's clock.
//
// Background work (compactions) has two modes:
//   * kThread: like LevelDB's PosixEnv, one background thread runs Schedule()d work in
//     FIFO order. For keeld.
//   * kQueued: Schedule() only queues; the owner calls RunQueuedWork() from its own thread
//     to run the queue until it is empty. For the deterministic simulator: no thread, no
//     race. Running the work inline inside Schedule() is NOT an option: DBImpl calls
//     Schedule with its mutex held and the work (BackgroundCall) takes that mutex, so it
//     would self-deadlock. The owner must drain after every DB call (reads too: a Get can
//     schedule a seek compaction) and before deleting the DB (its destructor waits for
//     scheduled work). Draining after every call keeps MakeRoomForWrite from ever waiting
//     on background work: one Write switches memtables at most once.
//
// Durability is stricter than LevelDB's PosixEnv (env/README.md, "LevelDB durability"):
//   * the first Sync of every new file first syncs its directory (PosixEnv does this only
//     for MANIFEST files), so a synced write to a freshly switched-to log is durable with
//     its directory entry;
//   * a write-ahead log ("*.log") is synced before it is closed or, since LevelDB 1.23
//     (Debian 12's) switches logs by deleting the old log's file object without calling
//     Close, before that object is destroyed (PosixEnv does neither), so the log LevelDB
//     switched away from keeps every write that preceded the switch, including unsynced
//     ones a later synced write vouches for. A sync that fails in the destructor cannot
//     be reported there: it fails every later write and sync through this Env instead
//     (never a silent success).
// Without both, a crash after a log switch but before the background flush writes the
// next MANIFEST loses writes acknowledged as synced. RenameFile (CURRENT) syncs the
// directory through FileSystem::Rename. SyncRule::kPosixEnv restores PosixEnv's rule for
// tests and the bug zoo only (to prove they can see the gap).
//
// Errors: absl::Status codes become leveldb::Status NotFound (kNotFound) or IOError
// whose message starts with the code name ("IO error: RESOURCE_EXHAUSTED: ..."), so that
// FromLevelDbStatus can recover the precise code from a status LevelDB passed through.
//
// Lifetime: every DB using this Env must be deleted before the Env; the FileSystem must
// outlive it.
#ifndef KEEL_ENV_LEVELDB_ENV_H_
#define KEEL_ENV_LEVELDB_ENV_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "env/env.h"
#include "leveldb/env.h"
#include "leveldb/status.h"

namespace keel::env {

namespace internal {
struct LevelDbFileState;  // leveldb_env.cc
}  // namespace internal

// absl -> LevelDB, as described above.
leveldb::Status ToLevelDbStatus(const absl::Status& status);
// LevelDB -> absl: NotFound -> kNotFound, Corruption -> kDataLoss, InvalidArgument ->
// kInvalidArgument, NotSupported -> kUnimplemented, IOError -> the code named at the start
// of its message if ToLevelDbStatus produced it, else kInternal.
absl::Status FromLevelDbStatus(const leveldb::Status& status);

class LevelDbEnv final : public leveldb::Env {
 public:
  enum class BackgroundMode { kThread, kQueued };
  enum class LogMode { kDiscard, kFile };
  // kComplete: the rule above. kPosixEnv: LevelDB's PosixEnv rule (directory synced only
  // for MANIFEST files, logs closed without a sync): loses synced writes on power loss.
  // Test-only (sim/leveldb_crash_test, the bug zoo's "leveldb-log-switch-gap").
  enum class SyncRule { kComplete, kPosixEnv };

  struct Options {
    FileSystem* fs = nullptr;  // required; outlives this Env
    BackgroundMode background = BackgroundMode::kThread;
    // kFile: NewLogger writes "<now_micros> <message>" lines to the named file through
    // `fs`. kDiscard: no file is created and messages are dropped.
    LogMode log = LogMode::kDiscard;
    // Required. Monotonic microseconds: the real clock in keeld, simulated time in keelsim.
    std::function<uint64_t()> now_micros;
    std::string test_directory = "/tmp/leveldb-test";
    // Bounds on Schedule()d work waiting to run and on StartThread threads. LevelDB keeps
    // at most one compaction scheduled per DB, so reaching either is a bug: it aborts.
    size_t max_queued_work = 1024;
    size_t max_started_threads = 16;
    SyncRule sync_rule = SyncRule::kComplete;
  };

  static absl::StatusOr<std::unique_ptr<LevelDbEnv>> Create(Options options);
  // Joins the background thread (after it finishes queued work) and StartThread threads.
  ~LevelDbEnv() override;

  // kQueued only: runs queued work, including work it schedules, until the queue is empty.
  // Returns how many functions ran. Call from the thread that makes the DB calls, never
  // from inside a LevelDB callback.
  size_t RunQueuedWork();
  // Work waiting to run (kQueued) or not yet picked up by the thread (kThread).
  size_t QueuedWork() const;

  // From now on every file operation through this Env, and through every file it opened,
  // fails with an IOError that names the fence: the simulator's model of a process killed
  // while LevelDB work was pending (keelsim's deferred timing). The owner still has to run
  // the queue and delete the DB, and none of that reaches the disk. Irreversible.
  void Fence();

  leveldb::Status NewSequentialFile(const std::string& fname,
                                    leveldb::SequentialFile** result) override;
  leveldb::Status NewRandomAccessFile(const std::string& fname,
                                      leveldb::RandomAccessFile** result) override;
  leveldb::Status NewWritableFile(const std::string& fname,
                                  leveldb::WritableFile** result) override;
  leveldb::Status NewAppendableFile(const std::string& fname,
                                    leveldb::WritableFile** result) override;
  bool FileExists(const std::string& fname) override;
  leveldb::Status GetChildren(const std::string& dir, std::vector<std::string>* result) override;
  leveldb::Status RemoveFile(const std::string& fname) override;
  leveldb::Status CreateDir(const std::string& dirname) override;
  leveldb::Status RemoveDir(const std::string& dirname) override;
  leveldb::Status GetFileSize(const std::string& fname, uint64_t* file_size) override;
  leveldb::Status RenameFile(const std::string& src, const std::string& target) override;
  leveldb::Status LockFile(const std::string& fname, leveldb::FileLock** lock) override;
  leveldb::Status UnlockFile(leveldb::FileLock* lock) override;
  void Schedule(void (*function)(void* arg), void* arg) override;
  void StartThread(void (*function)(void* arg), void* arg) override;
  leveldb::Status GetTestDirectory(std::string* path) override;
  leveldb::Status NewLogger(const std::string& fname, leveldb::Logger** result) override;
  uint64_t NowMicros() override;
  // kThread: sleeps. kQueued: returns at once; no background work could progress during
  // the sleep anyway (it runs only when the owner drains), so sleeping would only waste
  // real time.
  void SleepForMicroseconds(int micros) override;

 private:
  struct Work {
    void (*function)(void*);
    void* arg;
  };

  explicit LevelDbEnv(Options options);
  void BackgroundThreadMain();
  leveldb::WritableFile* NewWritableFileAdapter(const std::string& fname,
                                                std::unique_ptr<env::WritableFile> file);

  const Options options_;
  std::thread background_thread_;  // kThread only
  // Shared with every file this Env opened: the fence and a failed sync that LevelDB
  // could not be told about (leveldb_env.cc).
  const std::unique_ptr<internal::LevelDbFileState> file_state_;

  mutable absl::Mutex mu_;
  absl::CondVar work_changed_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<Work> queue_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> started_threads_ ABSL_GUARDED_BY(mu_);
};

}  // namespace keel::env

#endif  // KEEL_ENV_LEVELDB_ENV_H_
