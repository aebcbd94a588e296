#pragma once
// Network namespaces for the integration tests: the test's own, and peers standing for other
// hosts; the addresses, routes and links in them; shell commands run there.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace detour::test {

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

// A TCP port nobody listens on in this namespace, on both families, and never one this process
// was given before. It lies below the ephemeral range, so no socket bound to port 0 and no
// outgoing connection can take it before the test binds it.
std::uint16_t free_port();

// A second network namespace standing for another host or a container, with only `lo`, up. It
// lives as long as this object (and the test process): nothing is named, nothing to clean up on
// the host. Join it to this one with link_by_veth() or link_by_bridge().
class peer_netns {
 public:
  peer_netns();
  peer_netns(const peer_netns&) = delete;
  peer_netns& operator=(const peer_netns&) = delete;
  ~peer_netns();

  // Runs `f` with this thread inside the peer namespace: sockets it creates belong there (and
  // stay there afterwards), as do the commands it runs with sh().
  template <typename F>
  auto inside(F&& f) const {
    enter();
    struct back_home {
      const peer_netns& self;
      ~back_home() { self.leave(); }
    } guard{*this};
    return f();
  }

  // Runs a shell command inside the peer namespace; throws as sh() does.
  std::string run(std::string_view command) const;
  // The namespace's descriptor, for setns() in a forked child.
  int fd() const { return peer_fd_; }
  // A path naming the namespace, for iproute2's `netns` argument.
  std::string path() const;

 private:
  void enter() const;
  void leave() const;

  int home_fd_ = -1;
  int peer_fd_ = -1;
};

// Joins this namespace (the gateway) and `peer` by a veth pair: `name` here with NET4.1/24 and
// NET6::1/64; "eth0" in the peer with NET4.2/24 and NET6::2/64, its default routes pointing here.
// `net4` is three octets ("10.88.0"), `net6` a /64 prefix without its "::" ("fd88").
void link_by_veth(const peer_netns& peer, std::string_view name, std::string_view net4, std::string_view net6);

// docker's layout: a bridge `bridge` here with the gateway addresses (NET4.1/24, NET6::1/64), and
// the peer's veth, "eth0" there with the .2 addresses, enslaved to it by its port `port` here.
void link_by_bridge(const peer_netns& peer, std::string_view bridge, std::string_view port, std::string_view net4,
                    std::string_view net6);

// Waits until every IPv6 address in `addresses` is usable, in this namespace or in `peer`'s.
// `ip addr add ... nodad` returns before the kernel installs the address's routes: that happens in
// addrconf's DAD work item, which on a loaded machine ran after the test's connect() (seen as
// "Network is unreachable"). Bounded: throws after 5 s.
void wait_for_ipv6_addresses(const std::vector<std::string>& addresses, const peer_netns* peer = nullptr);

}  // namespace detour::test
