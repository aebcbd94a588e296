#include "detour/config/bounded_file.hpp"

#include "detour/config/config.hpp"

#include <fmt/format.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace detour::config_detail {
namespace {

[[noreturn]] void fail_errno(const std::filesystem::path& path, std::string_view what) {
  throw config_error(
      fmt::format("{}: {}: {}", path.string(), what, std::error_code(errno, std::generic_category()).message()));
}

[[noreturn]] void fail_size(const std::filesystem::path& path, std::string_view size, std::size_t max_bytes) {
  throw config_error(fmt::format("{}: {} bytes, over the limit of {}", path.string(), size, max_bytes));
}

struct fd_closer {
  explicit fd_closer(int f) : fd(f) {}
  int fd;
  fd_closer(const fd_closer&) = delete;
  fd_closer& operator=(const fd_closer&) = delete;
  ~fd_closer() { ::close(fd); }
};

}  // namespace

std::string read_bounded_file(const std::filesystem::path& path, std::size_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail_errno(path, "cannot open");
  fd_closer closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) fail_errno(path, "cannot stat");
  // A regular file says its size up front; pipes and /proc files say 0, so the read below is
  // bounded as well.
  if (S_ISREG(st.st_mode) && static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    fail_size(path, std::to_string(st.st_size), max_bytes);
  }
  std::string text;
  char buffer[65536];
  while (true) {
    const auto n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_errno(path, "cannot read");
    if (n == 0) break;
    if (text.size() + static_cast<std::size_t>(n) > max_bytes)
      fail_size(path, fmt::format("more than {}", max_bytes), max_bytes);
    text.append(buffer, static_cast<std::size_t>(n));
  }
  return text;
}

}  // namespace detour::config_detail
