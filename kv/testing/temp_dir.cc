#include "kv/testing/temp_dir.h"

#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace keel::kv::testing {

TempDir::TempDir(bool on_disk) {
  const char* test_tmpdir = std::getenv("TEST_TMPDIR");
  std::string base = test_tmpdir != nullptr ? test_tmpdir : "/tmp";
  std::error_code ignored;
  if (!on_disk && std::filesystem::is_directory("/dev/shm", ignored)) base = "/dev/shm";
  std::string pattern = base + "/kvtest.XXXXXX";
  char* made = mkdtemp(pattern.data());
  if (made == nullptr) {
    std::perror("mkdtemp");
    std::abort();
  }
  path_ = made;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace keel::kv::testing
