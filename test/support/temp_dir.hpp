#pragma once
#include <filesystem>
#include <string>
#include <string_view>

namespace detour::test {

// A temporary directory (mode 0700), removed with its contents when destroyed.
class temp_dir {
 public:
  temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir();
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path write(std::string_view name, std::string_view contents) const;

 private:
  std::filesystem::path path_;
};

// The whole of a file; empty if it cannot be read.
std::string file_contents(const std::filesystem::path& path);

}  // namespace detour::test
