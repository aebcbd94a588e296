#include "support/proc.hpp"

#include "support/deadline.hpp"
#include "support/throw_errno.hpp"

#include <fmt/format.h>

#include <sys/resource.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace detour::test {

namespace {

bool listening_on(std::uint16_t port) {
  // /proc/net/tcp: "sl local_address rem_address st ...", address "0A4D000A:0438", state 0A LISTEN.
  auto suffix = fmt::format(":{:04X}", port);
  for (const char* file : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(file);
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot;
      std::string local;
      std::string remote;
      std::string state;
      fields >> slot >> local >> remote >> state;
      if (state == "0A" && local.ends_with(suffix)) return true;
    }
  }
  return false;
}

}  // namespace

std::uint64_t resident_kib(pid_t pid) {
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmRSS:")) return std::stoull(line.substr(6));
  }
  return 0;
}

descriptor_counts open_descriptors(pid_t pid) {
  descriptor_counts counts;
  for (const auto& entry : std::filesystem::directory_iterator(fmt::format("/proc/{}/fd", pid))) {
    std::error_code ec;
    auto target = std::filesystem::read_symlink(entry.path(), ec).string();
    ++counts.total;
    if (target.starts_with("socket:")) ++counts.sockets;
    if (target.starts_with("pipe:")) ++counts.pipes;
  }
  return counts;
}

void raise_descriptor_limit(std::size_t needed) {
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) != 0) throw_errno("getrlimit(RLIMIT_NOFILE)");
  files.rlim_cur = files.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &files) != 0) throw_errno("setrlimit(RLIMIT_NOFILE)");
  if (files.rlim_cur < needed) {
    throw std::runtime_error(fmt::format("RLIMIT_NOFILE is {}, the test needs {}", files.rlim_cur, needed));
  }
}

void wait_until_listening(std::uint16_t port, std::chrono::milliseconds timeout) {
  if (!poll_until([&] { return listening_on(port); }, timeout)) {
    throw std::runtime_error(fmt::format("nothing listens on port {}", port));
  }
}

}  // namespace detour::test
