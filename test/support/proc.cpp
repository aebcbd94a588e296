#include "support/proc.hpp"

#include "support/deadline.hpp"
#include "support/throw_errno.hpp"

#include <fmt/format.h>

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace detour::test {

namespace {

// Calls f(local_address, state) for every TCP socket of this namespace, from /proc/net/tcp and
// tcp6: "sl local_address rem_address st ...", an address as "0A4D000A:0438", a state as "0A".
template <typename F>
void for_each_tcp_socket(F&& f) {
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
      f(local, state);
    }
  }
}

bool listening_on(std::uint16_t port) {
  auto suffix = fmt::format(":{:04X}", port);
  bool found = false;
  for_each_tcp_socket([&](const std::string& local, const std::string& state) {
    found = found || (state == "0A" && local.ends_with(suffix));  // 0A: LISTEN
  });
  return found;
}

}  // namespace

namespace {

std::uint64_t status_kib(pid_t pid, std::string_view field) {
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with(field)) return std::stoull(line.substr(field.size()));
  }
  return 0;
}

}  // namespace

std::uint64_t resident_kib(pid_t pid) { return status_kib(pid, "VmRSS:"); }

std::uint64_t peak_resident_kib(pid_t pid) { return status_kib(pid, "VmHWM:"); }

void reset_peak_resident(pid_t pid) {
  auto path = fmt::format("/proc/{}/clear_refs", pid);
  std::ofstream out(path);
  out << "5\n";
  out.flush();
  if (!out) throw std::runtime_error(fmt::format("cannot write 5 to {}", path));
}

double cpu_seconds(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
  auto close = stat.rfind(')');
  if (close == std::string::npos) throw std::runtime_error(fmt::format("/proc/{}/stat: unreadable", pid));
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  // Fields 3 to 13, then utime (14) and stime (15).
  for (int i = 3; i <= 13; ++i) fields >> field;
  double utime = 0;
  double stime = 0;
  if (!(fields >> utime >> stime)) throw std::runtime_error(fmt::format("/proc/{}/stat: no utime/stime", pid));
  return (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
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

std::size_t connects_in_flight() {
  std::size_t count = 0;
  for_each_tcp_socket([&](const std::string&, const std::string& state) {
    if (state == "02") ++count;  // SYN_SENT
  });
  return count;
}

}  // namespace detour::test
