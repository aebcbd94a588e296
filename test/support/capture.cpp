#include "support/capture.hpp"

#include "support/netns.hpp"

#include "detour/net/original_dst.hpp"

#include <fmt/format.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace detour::test {
namespace {

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what + ": " + std::strerror(errno)); }

// Connects and returns 0 when the connection was accepted, else the errno (small enough to be an
// exit status).
int try_connect(const std::string& address, std::uint16_t port, const client_options& options) {
  auto addr = boost::asio::ip::make_address(address);
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (addr.is_v4()) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    auto bytes = addr.to_v4().to_bytes();
    std::memcpy(&sin->sin_addr, bytes.data(), 4);
    len = sizeof(sockaddr_in);
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    auto bytes = addr.to_v6().to_bytes();
    std::memcpy(&sin6->sin6_addr, bytes.data(), 16);
    len = sizeof(sockaddr_in6);
  }
  int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  // A dropped SYN would otherwise block connect() for minutes.
  timeval timeout{3, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  if (options.mark && ::setsockopt(fd, SOL_SOCKET, SO_MARK, &*options.mark, sizeof(std::uint32_t)) != 0) {
    int e = errno;
    ::close(fd);
    return e;
  }
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&ss), len);
  int e = errno;
  ::close(fd);
  return rc == 0 ? 0 : e;
}

}  // namespace

std::string normalize_whitespace(const std::string& text) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

void wait_for_ipv6_addresses(const std::vector<std::string>& addresses, const peer_netns* peer) {
  for (int attempt = 0; attempt < 500; ++attempt) {
    auto routes = peer ? peer->run("ip -6 route show table local") : sh("ip -6 route show table local");
    bool all = std::all_of(addresses.begin(), addresses.end(),
                           [&](const std::string& a) { return routes.find("local " + a + " ") != std::string::npos; });
    if (all) return;
    ::usleep(10000);
  }
  throw std::runtime_error(fmt::format("IPv6 addresses {} never became usable", fmt::join(addresses, ", ")));
}

redirect_listener::redirect_listener() {
  fd_ = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) fail("socket");
  int zero = 0;
  ::setsockopt(fd_, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  sin6.sin6_addr = in6addr_any;
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&sin6), sizeof sin6) != 0) fail("bind");
  if (::listen(fd_, 4096) != 0) fail("listen");
  socklen_t len = sizeof sin6;
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&sin6), &len);
  port_ = ntohs(sin6.sin6_port);
}

redirect_listener::~redirect_listener() { ::close(fd_); }

std::optional<std::string> redirect_listener::accept_original_destination() {
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, 2000) <= 0) return std::nullopt;
  int conn = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (conn < 0) return std::nullopt;
  std::error_code ec;
  auto dst = net::original_destination(conn, ec);
  ::close(conn);
  if (!dst) return "(no original destination: " + ec.message() + ")";
  auto a = dst->address();
  return a.is_v4() ? fmt::format("{}:{}", a.to_string(), dst->port()) : fmt::format("[{}]:{}", a.to_string(), dst->port());
}

peer_netns::peer_netns() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) fail("pipe");
  pid_ = ::fork();
  if (pid_ < 0) fail("fork");
  if (pid_ == 0) {
    char ok = ::unshare(CLONE_NEWNET) == 0 ? 'y' : 'n';
    if (::write(fds[1], &ok, 1) != 1 || ok != 'y') ::_exit(1);
    for (;;) ::pause();
  }
  ::close(fds[1]);
  char ok = 0;
  auto n = ::read(fds[0], &ok, 1);
  ::close(fds[0]);
  if (n != 1 || ok != 'y') throw std::runtime_error("peer namespace: unshare failed");
  run("ip link set lo up");
}

peer_netns::~peer_netns() {
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
}

std::string peer_netns::run(const std::string& command) const {
  return sh(fmt::format("nsenter -t {} -n sh -c '{}'", pid_, command));
}

std::string connect_outcome(redirect_listener& listener, const std::string& address, std::uint16_t port,
                            const client_options& options) {
  int result = 0;
  if (options.uid || options.gid || options.from) {
    pid_t child = ::fork();
    if (child < 0) fail("fork");
    if (child == 0) {
      if (options.from) {
        int ns = ::open(fmt::format("/proc/{}/ns/net", options.from->pid()).c_str(), O_RDONLY | O_CLOEXEC);
        if (ns < 0 || ::setns(ns, CLONE_NEWNET) != 0) ::_exit(errno);
      }
      if (options.gid && ::setgid(*options.gid) != 0) ::_exit(errno);
      if (options.uid && ::setuid(*options.uid) != 0) ::_exit(errno);
      ::_exit(try_connect(address, port, options));
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    result = WIFEXITED(status) ? WEXITSTATUS(status) : EINTR;
  } else {
    result = try_connect(address, port, options);
  }
  if (result == ECONNREFUSED) return "not redirected";
  if (result != 0) return fmt::format("error: {}", std::strerror(result));
  auto dst = listener.accept_original_destination();
  if (!dst) return "connected, but not to the listener";
  return "redirected to " + *dst;
}

}  // namespace detour::test
