#include "detour/daemon/pidfile.hpp"

#include <fmt/format.h>

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <limits>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

namespace detour::daemon {
namespace {

[[noreturn]] void fail(const std::filesystem::path& path, std::string_view problem) {
  throw pidfile_error(fmt::format("pid file {}: {}", path.string(), problem));
}

// nullopt with errno set when the file cannot be opened or read.
std::optional<std::string> read_all(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string text;
  std::array<char, 256> buffer{};
  // A pid file is a few bytes; more than 4 KiB is not one, and what was read is enough to say so.
  while (text.size() < 4096) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      errno = e;
      return std::nullopt;
    }
    if (n == 0) break;
    text.append(buffer.data(), static_cast<std::size_t>(n));
  }
  ::close(fd);
  return text;
}

void write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::system_error(errno, std::generic_category());
    text.remove_prefix(static_cast<std::size_t>(n));
  }
}

// The file's contents as a pid: digits, then at most one newline.
std::optional<pid_t> parse_pid(std::string_view text) {
  if (text.ends_with('\n')) text.remove_suffix(1);
  long long value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value <= 0 ||
      value > std::numeric_limits<pid_t>::max()) {
    return std::nullopt;
  }
  return static_cast<pid_t>(value);
}

// The contents as a client prints them back: one line, printable, short.
std::string printable_quoted(std::string_view text) {
  constexpr std::size_t most = 32;
  std::string out = "\"";
  for (char c : text.substr(0, most)) {
    if (c == '\n') {
      out += "\\n";
    } else {
      out += (c >= 0x20 && c < 0x7f) ? c : '?';
    }
  }
  return out + (text.size() > most ? "...\"" : "\"");
}

}  // namespace

pidfile::pidfile(std::filesystem::path path) : path_(std::move(path)), pid_(::getpid()) {
  auto dir = path_.parent_path().empty() ? std::filesystem::path(".") : path_.parent_path();
  std::string temp = (dir / ("." + path_.filename().string() + ".XXXXXX")).string();
  int fd = ::mkostemp(temp.data(), O_CLOEXEC);
  if (fd < 0)
    fail(path_, fmt::format("cannot create a file in {}: {}", dir.string(), std::generic_category().message(errno)));
  try {
    // mkostemp makes it 0600; a pid file is for everyone to read.
    if (::fchmod(fd, 0644) != 0) throw std::system_error(errno, std::generic_category());
    write_all(fd, fmt::format("{}\n", pid_));
    if (::close(std::exchange(fd, -1)) != 0) throw std::system_error(errno, std::generic_category());
    if (::rename(temp.c_str(), path_.c_str()) != 0) throw std::system_error(errno, std::generic_category());
  } catch (const std::system_error& e) {
    if (fd >= 0) ::close(fd);
    ::unlink(temp.c_str());
    fail(path_, fmt::format("cannot write it: {}", e.code().message()));
  }
}

pidfile::~pidfile() {
  auto text = read_all(path_);
  if (text && parse_pid(*text) == pid_) ::unlink(path_.c_str());
}

pid_t running_detourd(const std::filesystem::path& path) {
  auto text = read_all(path);
  if (!text) fail(path, fmt::format("cannot read it: {}", std::generic_category().message(errno)));
  auto pid = parse_pid(*text);
  if (!pid) fail(path, fmt::format("expected a process id (a positive integer), got {}", printable_quoted(*text)));
  auto comm = read_all(fmt::format("/proc/{}/comm", *pid));
  if (!comm) fail(path, fmt::format("no process has pid {}: detourd is not running, or the file is stale", *pid));
  if (comm->ends_with('\n')) comm->pop_back();
  if (*comm != "detourd") fail(path, fmt::format("pid {} is {}, not detourd", *pid, printable_quoted(*comm)));
  return *pid;
}

}  // namespace detour::daemon
