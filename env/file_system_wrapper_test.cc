#include "env/file_system_wrapper.h"

#include <stdlib.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "env/posix_fs.h"
#include "env/posix_loop.h"
#include "gtest/gtest.h"

namespace keel::env {
namespace {

// A wrapper that refuses mutations once "frozen" and counts what it admitted: the
// contract every fault-injecting wrapper relies on.
class FreezableFs final : public FileSystemWrapper {
 public:
  using FileSystemWrapper::FileSystemWrapper;
  void Freeze() { frozen_ = true; }
  int reads() const { return reads_; }
  int mutations() const { return mutations_; }

 protected:
  absl::Status Admit(Access access) override {
    if (access == Access::kRead) {
      ++reads_;
      return absl::OkStatus();
    }
    if (frozen_) return absl::UnavailableError("frozen");
    ++mutations_;
    return absl::OkStatus();
  }

 private:
  bool frozen_ = false;
  int reads_ = 0;
  int mutations_ = 0;
};

class FileSystemWrapperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    dir_ = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/fs_wrapper_test");
    ASSERT_EQ(std::system(absl::StrCat("rm -rf '", dir_, "' && mkdir -p '", dir_, "'").c_str()),
              0);
    loop_ = *PosixLoop::Create();
    PosixFileSystem::Options options;
    options.loop = loop_.get();
    base_ = *PosixFileSystem::Create(options);
    fs_ = std::make_unique<FreezableFs>(base_.get());
  }
  void TearDown() override {
    fs_.reset();
    base_.reset();
    loop_.reset();
  }

  std::string dir_;
  std::unique_ptr<PosixLoop> loop_;
  std::unique_ptr<PosixFileSystem> base_;
  std::unique_ptr<FreezableFs> fs_;
};

TEST_F(FileSystemWrapperTest, ForwardsEveryCallToTheTarget) {
  const std::string a = dir_ + "/a";
  auto file = fs_->NewWritableFile(a);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_TRUE((*file)->Append("hello").ok());
  ASSERT_TRUE((*file)->Sync().ok());
  ASSERT_TRUE((*file)->Close().ok());
  EXPECT_TRUE(base_->FileExists(a));
  EXPECT_TRUE(fs_->FileExists(a));
  EXPECT_EQ(*fs_->GetFileSize(a), 5u);
  ASSERT_TRUE(fs_->Rename(a, dir_ + "/b").ok());
  EXPECT_FALSE(base_->FileExists(a));
  ASSERT_TRUE(fs_->Truncate(dir_ + "/b", 2).ok());
  EXPECT_EQ(*base_->GetFileSize(dir_ + "/b"), 2u);
  EXPECT_EQ(fs_->mutations(), 3);  // create, rename, truncate
  EXPECT_EQ(fs_->reads(), 2);      // FileExists, GetFileSize
}

TEST_F(FileSystemWrapperTest, RefusedCallsNeverReachTheTarget) {
  const std::string a = dir_ + "/a";
  ASSERT_TRUE(fs_->NewWritableFile(a).ok());
  fs_->Freeze();
  EXPECT_EQ(fs_->NewWritableFile(dir_ + "/c").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(base_->FileExists(dir_ + "/c"));
  EXPECT_EQ(fs_->RemoveFile(a).code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(base_->FileExists(a));
  EXPECT_EQ(fs_->Rename(a, dir_ + "/d").code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(base_->FileExists(a));
  EXPECT_EQ(fs_->CreateDir(dir_ + "/sub").code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(base_->FileExists(dir_ + "/sub"));
  // Reads still pass.
  EXPECT_TRUE(fs_->FileExists(a));
  EXPECT_TRUE(fs_->GetChildren(dir_).ok());
}

}  // namespace
}  // namespace keel::env
