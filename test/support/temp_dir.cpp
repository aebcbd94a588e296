#include "support/temp_dir.hpp"

#include "support/throw_errno.hpp"

#include <fmt/format.h>

#include <stdlib.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>

namespace detour::test {

temp_dir::temp_dir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "detour-test-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw_errno("mkdtemp");
  path_ = pattern;
}

temp_dir::~temp_dir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::filesystem::path temp_dir::write(std::string_view name, std::string_view contents) const {
  auto file = path_ / name;
  FILE* f = std::fopen(file.c_str(), "we");
  if (f == nullptr) throw_errno(fmt::format("create {}", file.string()));
  std::fwrite(contents.data(), 1, contents.size(), f);
  std::fclose(f);
  return file;
}

std::string file_contents(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace detour::test
