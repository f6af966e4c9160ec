#include "env/posix_env.h"

#include <chrono>
#include <random>
#include <utility>

namespace keel::env {
namespace {

// The one place std::random_device is allowed: the real Env's start-up seed.
uint64_t SeedFromOs() {
  std::random_device device;
  return (static_cast<uint64_t>(device()) << 32) ^ static_cast<uint64_t>(device());
}

}  // namespace

absl::StatusOr<std::unique_ptr<PosixEnv>> PosixEnv::Create(Options options) {
  absl::StatusOr<std::unique_ptr<PosixLoop>> loop = PosixLoop::Create(options.loop);
  if (!loop.ok()) return loop.status();
  options.fs.loop = loop->get();
  absl::StatusOr<std::unique_ptr<PosixFileSystem>> fs = PosixFileSystem::Create(options.fs);
  if (!fs.ok()) return fs.status();
  std::unique_ptr<TcpTransport> transport;
  if (options.transport.has_value()) {
    absl::StatusOr<std::unique_ptr<TcpTransport>> created =
        TcpTransport::Create(loop->get(), *options.transport);
    if (!created.ok()) return created.status();
    transport = *std::move(created);
  }
  const uint64_t seed = options.seed.has_value() ? *options.seed : SeedFromOs();
  return std::unique_ptr<PosixEnv>(
      new PosixEnv(seed, *std::move(loop), *std::move(fs), std::move(transport)));
}

PosixEnv::PosixEnv(uint64_t seed, std::unique_ptr<PosixLoop> loop,
                   std::unique_ptr<PosixFileSystem> fs, std::unique_ptr<TcpTransport> transport)
    : seed_(seed), loop_(std::move(loop)), fs_(std::move(fs)), transport_(std::move(transport)) {}

int64_t PosixEnv::WallClockMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

PosixEnv::~PosixEnv() {
  loop_->Stop();
  transport_.reset();
  fs_.reset();
  loop_.reset();
}

}  // namespace keel::env
