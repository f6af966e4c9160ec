// A fresh directory, removed with its contents on destruction. By default it lives in
// /dev/shm when that exists: LevelDB fsyncs its manifest on every open, and the randomized
// tests open thousands of databases, which on a real disk costs 10x the CPU time. Pass
// on_disk = true (benchmarks) for $TEST_TMPDIR (or /tmp).
#ifndef KEEL_KV_TESTING_TEMP_DIR_H_
#define KEEL_KV_TESTING_TEMP_DIR_H_

#include <string>

namespace keel::kv::testing {

class TempDir {
 public:
  explicit TempDir(bool on_disk = false);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // A path inside the directory (not created).
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace keel::kv::testing

#endif  // KEEL_KV_TESTING_TEMP_DIR_H_
