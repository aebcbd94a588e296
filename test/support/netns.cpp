#include "support/netns.hpp"

#include "support/deadline.hpp"
#include "support/tcp.hpp"
#include "support/throw_errno.hpp"

#include <fmt/format.h>

#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace detour::test {

namespace {

constexpr const char* bridge_name = "detour-test0";
bool bridge_exists = false;

void ensure_bridge() {
  if (bridge_exists) return;
  sh(fmt::format("ip link add {0} type bridge && ip link set {0} up", bridge_name));
  bridge_exists = true;
}

int open_own_netns() {
  int fd = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_errno("open /proc/thread-self/ns/net");
  return fd;
}

void switch_netns(int fd) {
  if (::setns(fd, CLONE_NEWNET) != 0) throw_errno("setns");
}

// The peer's end of a link, already moved into it as "eth0": its addresses, and its default
// routes through the gateway. The IPv6 route needs the gateway's address usable first.
void configure_peer_end(const peer_netns& peer, std::string_view net4, std::string_view net6) {
  peer.run(
      fmt::format("ip addr add {0}.2/24 dev eth0 && ip addr add {1}::2/64 dev eth0 nodad && "
                  "ip link set eth0 up && ip route add default via {0}.1",
                  net4, net6));
  wait_for_ipv6_addresses({fmt::format("{}::1", net6)});
  wait_for_ipv6_addresses({fmt::format("{}::2", net6)}, &peer);
  peer.run(fmt::format("ip -6 route add default via {}::1", net6));
}

}  // namespace

void enter_new_netns() {
  if (::unshare(CLONE_NEWNET) != 0) throw_errno("unshare(CLONE_NEWNET) (integration tests need root)");
  bridge_exists = false;
  sh("ip link set lo up");
}

std::string sh(std::string_view command) {
  // stderr joins stdout up front, so commands with here-documents work too.
  std::string full = fmt::format("exec 2>&1\n{}", command);
  FILE* pipe = ::popen(full.c_str(), "re");
  if (pipe == nullptr) throw_errno("popen");
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

namespace {

// The lowest port the kernel hands out on bind(0) and connect() in this namespace.
unsigned ephemeral_low() {
  unsigned low = 32768;
  if (std::FILE* f = std::fopen("/proc/sys/net/ipv4/ip_local_port_range", "re")) {
    if (std::fscanf(f, "%u", &low) != 1) low = 32768;
    std::fclose(f);
  }
  return low;
}

bool bindable(std::uint16_t port) {
  socket_fd s(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) throw_errno("socket");
  int off = 0;
  ::setsockopt(s.get(), IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
  auto any = at("::", port);
  return ::bind(s.get(), any.data(), static_cast<socklen_t>(any.size())) == 0;
}

}  // namespace

// A port below the ephemeral range, each one once per process: a port the kernel chose for
// bind(0) would be free again once its probe socket closes, and a peer bound to port 0 later
// could then be given the same one (seen in CI: detourd's listener and an echo server's).
std::uint16_t free_port() {
  constexpr unsigned lowest = 10000;
  const unsigned highest = std::min(ephemeral_low(), 32768U) - 1;
  if (highest > lowest + 1000) {
    static unsigned next = lowest + static_cast<unsigned>(::getpid()) % (highest - lowest);
    for (unsigned tries = 0; tries < highest - lowest; ++tries) {
      const auto candidate = static_cast<std::uint16_t>(lowest + (next++ - lowest) % (highest - lowest));
      if (bindable(candidate)) return candidate;
    }
  }
  socket_fd s(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) throw_errno("socket");
  int off = 0;
  ::setsockopt(s.get(), IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
  auto any = at("::", 0);
  if (::bind(s.get(), any.data(), static_cast<socklen_t>(any.size())) != 0) throw_errno("bind to port 0");
  return local_endpoint_of(s.get()).port();
}

peer_netns::peer_netns() : home_fd_(open_own_netns()) {
  if (::unshare(CLONE_NEWNET) != 0) {
    int e = errno;
    ::close(home_fd_);
    throw_errno("unshare(CLONE_NEWNET) for a peer namespace", e);
  }
  try {
    peer_fd_ = open_own_netns();
    sh("ip link set lo up");
    switch_netns(home_fd_);
  } catch (...) {
    ::setns(home_fd_, CLONE_NEWNET);
    if (peer_fd_ >= 0) ::close(peer_fd_);
    ::close(home_fd_);
    throw;
  }
}

peer_netns::~peer_netns() {
  ::close(peer_fd_);
  ::close(home_fd_);
}

std::string peer_netns::run(std::string_view command) const {
  return inside([&] { return sh(command); });
}

// iproute2 opens a `netns` argument that contains a slash as a path: this process's descriptor of
// the namespace will do.
std::string peer_netns::path() const { return fmt::format("/proc/{}/fd/{}", ::getpid(), peer_fd_); }

void peer_netns::enter() const { switch_netns(peer_fd_); }

void peer_netns::leave() const {
  // Failing to return would leave the rest of the test in the wrong namespace: better to stop.
  if (::setns(home_fd_, CLONE_NEWNET) != 0) std::abort();
}

void link_by_veth(const peer_netns& peer, std::string_view name, std::string_view net4, std::string_view net6) {
  sh(
      fmt::format("ip link add {0} type veth peer name eth0 netns {1} && ip addr add {2}.1/24 dev {0} && "
                  "ip addr add {3}::1/64 dev {0} nodad && ip link set {0} up",
                  name, peer.path(), net4, net6));
  configure_peer_end(peer, net4, net6);
}

void link_by_bridge(const peer_netns& peer, std::string_view bridge, std::string_view port, std::string_view net4,
                    std::string_view net6) {
  sh(fmt::format(
      "ip link add {0} type bridge && ip addr add {2}.1/24 dev {0} && ip addr add {3}::1/64 dev {0} nodad && "
      "ip link set {0} up && ip link add {1} type veth peer name eth0 netns {4} && "
      "ip link set {1} master {0} && ip link set {1} up",
      bridge, port, net4, net6, peer.path()));
  configure_peer_end(peer, net4, net6);
}

void wait_for_ipv6_addresses(const std::vector<std::string>& addresses, const peer_netns* peer) {
  auto usable = [&] {
    auto routes = peer ? peer->run("ip -6 route show table local") : sh("ip -6 route show table local");
    return std::all_of(addresses.begin(), addresses.end(),
                       [&](const std::string& a) { return routes.find("local " + a + " ") != std::string::npos; });
  };
  if (!poll_until(usable, 5s)) {
    throw std::runtime_error(fmt::format("IPv6 addresses {} never became usable", fmt::join(addresses, ", ")));
  }
}

}  // namespace detour::test
