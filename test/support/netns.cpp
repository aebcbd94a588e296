#include "support/netns.hpp"

#include <fmt/format.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace detour::test {

namespace {

constexpr const char* bridge_name = "detour-test0";
bool bridge_exists = false;

void ensure_bridge() {
  if (bridge_exists) return;
  sh(fmt::format("ip link add {0} type bridge && ip link set {0} up", bridge_name));
  bridge_exists = true;
}

}  // namespace

void enter_new_netns() {
  if (::unshare(CLONE_NEWNET) != 0) {
    throw std::system_error(errno, std::generic_category(), "unshare(CLONE_NEWNET) (integration tests need root)");
  }
  bridge_exists = false;
  sh("ip link set lo up");
}

std::string sh(std::string_view command) {
  // stderr joins stdout up front, so commands with here-documents work too.
  std::string full = fmt::format("exec 2>&1\n{}", command);
  FILE* pipe = ::popen(full.c_str(), "re");
  if (pipe == nullptr) throw std::system_error(errno, std::generic_category(), "popen");
  std::string output;
  std::array<char, 4096> buffer{};
  while (auto n = std::fread(buffer.data(), 1, buffer.size(), pipe)) output.append(buffer.data(), n);
  int status = ::pclose(pipe);
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error(fmt::format("command failed (status {}): {}\n{}", status, command, output));
  }
  return output;
}

void add_local_address(std::string_view cidr) {
  ensure_bridge();
  bool v6 = cidr.find(':') != std::string_view::npos;
  sh(fmt::format("ip addr add {} dev {}{}", cidr, bridge_name, v6 ? " nodad" : ""));
}

void add_route_to_nowhere(std::string_view cidr) {
  ensure_bridge();
  sh(fmt::format("ip route add {} dev {}", cidr, bridge_name));
}

std::uint16_t free_port() {
  int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
  int off = 0;
  ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
  sockaddr_in6 any{};
  any.sin6_family = AF_INET6;
  any.sin6_addr = in6addr_any;
  socklen_t len = sizeof any;
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&any), len) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&any), &len) != 0) {
    int e = errno;
    ::close(fd);
    throw std::system_error(e, std::generic_category(), "bind to port 0");
  }
  ::close(fd);
  return ntohs(any.sin6_port);
}

void redirect_outgoing_tcp_to(std::uint16_t port, std::uint32_t skip_mark) {
  sh(fmt::format("nft -f - <<'EOF'\n"
                 "table inet detour_test {{\n"
                 "  chain output {{\n"
                 "    type nat hook output priority -99;\n"
                 "    meta mark != {:#x} meta l4proto tcp redirect to :{}\n"
                 "  }}\n"
                 "}}\n"
                 "EOF",
                 skip_mark, port));
}

void redirect_incoming_tcp_to(std::uint16_t port, std::string_view interface) {
  sh(fmt::format("nft -f - <<'EOF'\n"
                 "table inet detour_test {{\n"
                 "  chain prerouting {{\n"
                 "    type nat hook prerouting priority -99;\n"
                 "    iifname \"{}\" meta l4proto tcp redirect to :{}\n"
                 "  }}\n"
                 "}}\n"
                 "EOF",
                 interface, port));
}

namespace {

int open_own_netns() {
  int fd = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "open /proc/thread-self/ns/net");
  return fd;
}

void switch_netns(int fd) {
  if (::setns(fd, CLONE_NEWNET) != 0) throw std::system_error(errno, std::generic_category(), "setns");
}

}  // namespace

veth_peer::veth_peer() : home_fd_(open_own_netns()) {
  if (::unshare(CLONE_NEWNET) != 0) {
    int e = errno;
    ::close(home_fd_);
    throw std::system_error(e, std::generic_category(), "unshare(CLONE_NEWNET) for a peer namespace");
  }
  peer_fd_ = open_own_netns();
  try {
    sh("ip link set lo up");
    switch_netns(home_fd_);
    // iproute2 takes a path for `netns`: this process's descriptor of the peer namespace.
    sh(fmt::format("ip link add {0} type veth peer name detour-veth1 netns /proc/{1}/fd/{2} && "
                   "ip addr add 10.88.0.1/24 dev {0} && ip addr add fd88::1/64 dev {0} nodad && ip link set {0} up",
                   interface, ::getpid(), peer_fd_));
    inside([] {
      sh("ip addr add 10.88.0.2/24 dev detour-veth1 && ip addr add fd88::2/64 dev detour-veth1 nodad && "
         "ip link set detour-veth1 up && ip route add default via 10.88.0.1 && ip -6 route add default via fd88::1");
    });
  } catch (...) {
    ::setns(home_fd_, CLONE_NEWNET);
    ::close(peer_fd_);
    ::close(home_fd_);
    throw;
  }
}

veth_peer::~veth_peer() {
  ::close(peer_fd_);
  ::close(home_fd_);
}

void veth_peer::enter() { switch_netns(peer_fd_); }

void veth_peer::leave() {
  // Failing to return would leave the rest of the test in the wrong namespace: better to stop.
  if (::setns(home_fd_, CLONE_NEWNET) != 0) std::abort();
}

}  // namespace detour::test
