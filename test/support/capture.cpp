#include "support/capture.hpp"

#include "support/netns.hpp"
#include "support/tcp.hpp"
#include "support/throw_errno.hpp"

#include "detour/net/original_dst.hpp"
#include "detour/net/sockaddr.hpp"

#include <fmt/format.h>

#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace detour::test {

namespace {

// Connects and returns 0 when the connection was accepted, else the errno (small enough to be an
// exit status).
int try_connect(const std::string& address, std::uint16_t port, const client_options& options) {
  auto to = at(address, port);
  socket_fd s(::socket(to.protocol().family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) return errno;
  // A dropped SYN would otherwise block connect() for minutes.
  timeval timeout{3, 0};
  ::setsockopt(s.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  if (options.mark && ::setsockopt(s.get(), SOL_SOCKET, SO_MARK, &*options.mark, sizeof(std::uint32_t)) != 0) {
    return errno;
  }
  return ::connect(s.get(), to.data(), static_cast<socklen_t>(to.size())) == 0 ? 0 : errno;
}

}  // namespace

config config_for_port(std::uint16_t port, std::string_view yaml) {
  auto cfg = parse_config(yaml, "test.yaml");
  cfg.port = port;
  return cfg;
}

redirect_listener::redirect_listener() {
  fd_ = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw_errno("socket");
  int zero = 0;
  ::setsockopt(fd_, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  auto any = at("::", 0);
  if (::bind(fd_, any.data(), static_cast<socklen_t>(any.size())) != 0) throw_errno("bind");
  if (::listen(fd_, 4096) != 0) throw_errno("listen");
  port_ = local_endpoint_of(fd_).port();
}

redirect_listener::~redirect_listener() { ::close(fd_); }

std::optional<std::string> redirect_listener::accept_original_destination() {
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, 2000) <= 0) return std::nullopt;
  socket_fd conn(::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC));
  if (!conn) return std::nullopt;
  std::error_code ec;
  auto dst = net::original_destination(conn.get(), ec);
  if (!dst) return "(no original destination: " + ec.message() + ")";
  return net::to_string(*dst);
}

std::string connect_outcome(redirect_listener& listener, const std::string& address, std::uint16_t port,
                            const client_options& options) {
  int result = 0;
  if (options.uid || options.gid || options.from) {
    pid_t child = ::fork();
    if (child < 0) throw_errno("fork");
    if (child == 0) {
      if (options.from && ::setns(options.from->fd(), CLONE_NEWNET) != 0) ::_exit(errno);
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

detail::fresh_netns_with::fresh_netns_with(const std::vector<std::string>& local_addresses) {
  enter_new_netns();
  std::vector<std::string> v6;
  for (const auto& address : local_addresses) {
    bool is_v6 = address.find(':') != std::string::npos;
    sh(fmt::format("ip addr add {}/{} dev lo{}", address, is_v6 ? 128 : 32, is_v6 ? " nodad" : ""));
    if (is_v6) v6.push_back(address);
  }
  if (!v6.empty()) wait_for_ipv6_addresses(v6);
}

capture_namespace::capture_namespace(const std::vector<std::string>& local_addresses)
    : detail::fresh_netns_with(local_addresses) {}

rules::rule_plan capture_namespace::plan_for(std::string_view yaml) const {
  return rules::make_plan(config_for_port(listener.port(), yaml));
}

std::string capture_namespace::outcome(const std::string& address, std::uint16_t port, const client_options& options) {
  return connect_outcome(listener, address, port, options);
}

}  // namespace detour::test
