#include "detour/relay/pipe_shortage.hpp"

#include "detour/net/exhaustion_warning.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <fstream>
#include <system_error>

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
  const std::string reason = std::error_code(error, std::generic_category()).message();
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
  net::warn_exhausted(net::exhausted::pipes, [&] { return describe_pipe_shortage(kind, error, wanted, got); });
}

}  // namespace detour::relay
