#pragma once
// A scratch directory for one test.

#include <filesystem>
#include <string>
#include <string_view>

namespace keyless::testing {

/// A fresh directory under the system's temporary directory ($TMPDIR, else /tmp), named
/// `prefix`-XXXXXX; removed with everything in it when destroyed.
class temp_dir {
 public:
  explicit temp_dir(std::string_view prefix = "keyless-test");
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::filesystem::path& path() const noexcept { return path_; }
  std::filesystem::path operator/(std::string_view name) const { return path_ / name; }
  /// Writes `content` to `name` inside the directory and returns the file's path.
  std::string write(std::string_view name, std::string_view content) const;

 private:
  std::filesystem::path path_;
};

}  // namespace keyless::testing
