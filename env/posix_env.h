// PosixEnv: the whole real world of one keeld node: a PosixLoop, a PosixFileSystem whose
// async completions run on that loop, a TcpTransport delivering to that loop, and random
// streams seeded once from the OS.
//
// Shutdown order (the destructor): stop the Loop first, so no node code runs again; then
// the transport (joins its I/O thread); then the file system (finishes queued writes,
// joins its I/O thread); then the Loop object. Callbacks posted during that sequence are
// dropped by the stopped Loop, by its documented rule.
#ifndef KEEL_ENV_POSIX_ENV_H_
#define KEEL_ENV_POSIX_ENV_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "absl/status/statusor.h"
#include "env/env.h"
#include "env/posix_fs.h"
#include "env/posix_loop.h"
#include "env/rng.h"
#include "env/tcp_transport.h"

namespace keel::env {

class PosixEnv final : public Env {
 public:
  struct Options {
    PosixLoop::Options loop;
    // `loop` is filled in by Create.
    PosixFileSystem::Options fs;
    // Set to listen for peers (self_id required). Unset: transport() returns nullptr,
    // for tools that only need files.
    std::optional<TcpTransport::Options> transport;
    // Replaces the OS seed (for reproducing a run); unset draws from std::random_device.
    std::optional<uint64_t> seed;
  };

  static absl::StatusOr<std::unique_ptr<PosixEnv>> Create(Options options);
  ~PosixEnv() override;

  Loop* loop() override { return loop_.get(); }
  FileSystem* fs() override { return fs_.get(); }
  Transport* transport() override { return transport_.get(); }
  // The stream for `purpose` derived from the start-up seed: the same purpose gives the
  // same stream within one process, as in simulation. Thread-safe.
  Rng NewRng(std::string_view purpose) override { return Rng(seed_).Stream(purpose); }
  // Unix time (CLOCK_REALTIME).
  int64_t WallClockMillis() override;

  PosixLoop* posix_loop() { return loop_.get(); }
  TcpTransport* tcp_transport() { return transport_.get(); }
  uint64_t seed() const { return seed_; }

 private:
  PosixEnv(uint64_t seed, std::unique_ptr<PosixLoop> loop, std::unique_ptr<PosixFileSystem> fs,
           std::unique_ptr<TcpTransport> transport);

  const uint64_t seed_;
  std::unique_ptr<PosixLoop> loop_;
  std::unique_ptr<PosixFileSystem> fs_;
  std::unique_ptr<TcpTransport> transport_;
};

}  // namespace keel::env

#endif  // KEEL_ENV_POSIX_ENV_H_
