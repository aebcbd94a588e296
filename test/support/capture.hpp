#pragma once
// Helpers for the rules kernel tests. Each test case runs in its own process (one CTest test per
// case) and first moves that process into a fresh network namespace, so its tables, addresses and
// routes vanish with the process and the host's ruleset is never touched.
#include <boost/asio/ip/address.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace detour::test {

// Namespaces and shell commands come from support/netns.hpp (enter_new_netns, sh).
class peer_netns;

// Waits until every IPv6 address in `addresses` is usable, in this namespace or in `peer`'s.
// `ip addr add ... nodad` returns before the kernel installs the address's routes: that happens in
// addrconf's DAD work item, which on a loaded machine ran after the test's connect() (seen as
// "Network is unreachable"). Bounded: throws after about 5 s.
void wait_for_ipv6_addresses(const std::vector<std::string>& addresses, const peer_netns* peer = nullptr);

// Collapses every run of whitespace to one space and trims, so nft's line wrapping of long
// element lists does not matter when comparing with render_nft().
std::string normalize_whitespace(const std::string& text);

// A dual-stack listener on [::]:port from bind(0): where the rules under test redirect to.
class redirect_listener {
 public:
  redirect_listener();
  ~redirect_listener();
  redirect_listener(const redirect_listener&) = delete;
  redirect_listener& operator=(const redirect_listener&) = delete;

  std::uint16_t port() const { return port_; }
  int fd() const { return fd_; }
  // Accepts one pending connection (waits up to 2 s) and returns its original destination as
  // "addr:port" / "[addr]:port", or nullopt when none arrived.
  std::optional<std::string> accept_original_destination();

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

// A second network namespace, held by a child process that sleeps in it until destroyed: the peer
// ("another host", "a container") for inbound tests. Killing the child discards the namespace.
class peer_netns {
 public:
  peer_netns();
  ~peer_netns();
  peer_netns(const peer_netns&) = delete;
  peer_netns& operator=(const peer_netns&) = delete;

  int pid() const { return pid_; }
  // Runs a shell command inside the peer namespace (nsenter); throws if it fails.
  std::string run(const std::string& command) const;

 private:
  int pid_ = -1;
};

struct client_options {
  std::optional<std::uint32_t> mark;  // SO_MARK on the client socket
  const peer_netns* from = nullptr;   // connect from inside this namespace
  std::optional<std::uint32_t> uid;   // connect from a forked child running as this uid/gid
  std::optional<std::uint32_t> gid;
};

// Connects to `address`:`port` and tells what happened: "redirected to ADDR:PORT" (the listener
// got it, with that original destination) or "not redirected" (refused: nothing listens on the
// destination ports these tests use), or "error: ...".
std::string connect_outcome(redirect_listener& listener, const std::string& address, std::uint16_t port,
                            const client_options& options = {});

}  // namespace detour::test
