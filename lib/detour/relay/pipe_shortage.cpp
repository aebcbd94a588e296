#include "detour/relay/pipe_shortage.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <limits>

namespace detour::relay {

namespace {

std::string sysctl_value(const char* name) {
  std::string path = "/proc/sys/";
  for (const char* c = name; *c != '\0'; ++c) path += *c == '.' ? '/' : *c;
  std::ifstream in(path);
  std::string value;
  if (!(in >> value)) return "unreadable";
  return value;
}

std::string kib(std::size_t bytes) { return fmt::format("{} KiB", bytes / 1024); }

}  // namespace

std::string describe_pipe_shortage(pipe_shortage kind, int error, std::size_t wanted, std::size_t got) {
  const char* reason = std::strerror(error);
  if (kind == pipe_shortage::no_pipe) {
    // pipe2() says ENFILE both when the system is out of files and when the user is over the hard
    // limit on pipe pages; naming the sysctl lets the reader tell which.
    const char* cause = error == EMFILE   ? "out of descriptors (RLIMIT_NOFILE)"
                        : error == ENFILE ? "system out of files, or over fs.pipe-user-pages-hard="
                                          : "";
    std::string detail = error == ENFILE ? cause + sysctl_value("fs.pipe-user-pages-hard") : std::string(cause);
    return fmt::format("relay: no pipe: pipe2: {}{}{}; relaying through copy buffers until one can be had", reason,
                       detail.empty() ? "" : ": ", detail);
  }
  const std::string detail =
      error == EPERM ? fmt::format(
                           ": over fs.pipe-user-pages-soft={} pages for this user (or above fs.pipe-max-size={}) "
                           "without CAP_SYS_RESOURCE",
                           sysctl_value("fs.pipe-user-pages-soft"), sysctl_value("fs.pipe-max-size"))
                     : std::string();
  return fmt::format("relay: pipes smaller than asked: F_SETPIPE_SZ {}: {}{}; got {}", kib(wanted), reason, detail,
                     kib(got));
}

void warn_pipe_shortage(pipe_shortage kind, int error, std::size_t wanted, std::size_t got) {
  static std::atomic<std::int64_t> last_warned{std::numeric_limits<std::int64_t>::min()};
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  auto last = last_warned.load(std::memory_order_relaxed);
  constexpr auto period = std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::seconds(1));
  if (last != std::numeric_limits<std::int64_t>::min() && now - last < period.count()) return;
  // Workers race here only when both hit a shortage in the same second; one of them wins.
  if (!last_warned.compare_exchange_strong(last, now, std::memory_order_relaxed)) return;
  spdlog::warn("{}", describe_pipe_shortage(kind, error, wanted, got));
}

}  // namespace detour::relay
