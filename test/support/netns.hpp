#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace detour::test {

// The mark detourd puts on its upstream sockets by default; the tests' redirect rules skip it.
inline constexpr std::uint32_t detour_mark = 0x1d7;

// Moves this process into a fresh network namespace with only `lo`, up. CTest runs each test case
// in its own process, so the namespace isolates the test's addresses, rules and ports from the
// host and from tests running in parallel; the kernel discards it when the process and its
// children (detourd is killed with it) are gone, even after a crash. Call it first, before any
// thread starts: a namespace belongs to the thread that unshares it and to what it starts later.
void enter_new_netns();

// Runs `command` with /bin/sh; returns its output (stdout and stderr). Throws std::runtime_error
// carrying the command, exit status and output when it fails.
std::string sh(std::string_view command);

// Adds a local address ("10.77.0.2/32", "fd77::2/128") on a bridge with no ports: this kernel has
// no dummy driver, and a port-less bridge holds addresses just as well. IPv6 ones skip duplicate
// address detection (nodad), or they stay tentative and unusable for a second or more.
void add_local_address(std::string_view cidr);

// Routes a prefix to the port-less bridge, so that connect() to an address there passes the route
// lookup and reaches the nat hook, although no host answers it (echo mode needs no upstream).
// Add a local IPv4 address first (add_local_address): without one on the bridge the kernel picks
// source 0.0.0.0, and detourd's answers to the redirected connection go nowhere.
void add_route_to_nowhere(std::string_view cidr);

// A TCP port nobody listens on in this namespace (bound to port 0 on both families, then
// released). The namespace is fresh, so nothing else can take it before the test binds it.
std::uint16_t free_port();

// Installs the redirect rule the core tests drive detourd with (its built-in installer stays off
// in them, so that what is tested here is the data path alone):
//   table inet detour_test { chain output { type nat hook output priority -99;
//     meta mark != 0x1d7 meta l4proto tcp redirect to :PORT } }
// Every TCP connection made in this namespace lands on PORT, except detourd's own (marked).
void redirect_outgoing_tcp_to(std::uint16_t port, std::uint32_t skip_mark = detour_mark);

// The same for connections arriving on `interface` from elsewhere (nat prerouting hook), as on a
// gateway: the kernel redirects them to that interface's primary address.
void redirect_incoming_tcp_to(std::uint16_t port, std::string_view interface);

// A second network namespace standing for another host (or a container), joined to this one by a
// veth pair: this side "detour-veth0" has 10.88.0.1/24 and fd88::1/64, the peer 10.88.0.2/24 and
// fd88::2/64 with its default routes pointing here. The namespace lives as long as this object
// (and the test process): nothing is named, nothing to clean up on the host.
class veth_peer {
 public:
  veth_peer();
  veth_peer(const veth_peer&) = delete;
  veth_peer& operator=(const veth_peer&) = delete;
  ~veth_peer();

  // Runs `f` with this thread inside the peer namespace: sockets it creates belong there (and
  // stay there afterwards), as do the commands it runs with sh().
  template <typename F>
  auto inside(F&& f) {
    enter();
    struct back_home {
      veth_peer& self;
      ~back_home() { self.leave(); }
    } guard{*this};
    return f();
  }

  static constexpr const char* interface = "detour-veth0";

 private:
  void enter();
  void leave();

  int peer_fd_ = -1;
  int home_fd_ = -1;
};

}  // namespace detour::test
