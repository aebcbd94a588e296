#pragma once
// What the capture rules under test do with a connection: redirected (and where it was going), or
// left alone. The rules tests install detourd's real rule plan and probe it with these.
#include "detour/config/config.hpp"
#include "detour/rules/rule_plan.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace detour::test {

class peer_netns;

// `yaml` parsed as a config file, detourd's port set to `port`: the input of rules::make_plan().
config config_for_port(std::uint16_t port, std::string_view yaml = "");

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

namespace detail {
// Enters a fresh network namespace (enter_new_netns) with `local_addresses` on lo, before anything
// else of a capture_namespace exists: its listener must be born in that namespace.
struct fresh_netns_with {
  explicit fresh_netns_with(const std::vector<std::string>& local_addresses);
};
}  // namespace detail

// A fresh namespace to probe capture rules in: `local_addresses` (IPv4 or IPv6, on lo) to aim
// connections at, where nothing listens, so that a connection the rules leave alone is refused at
// once; and a listener where the redirected ones land.
class capture_namespace : detail::fresh_netns_with {
 public:
  explicit capture_namespace(const std::vector<std::string>& local_addresses);

  // The rule plan of a config (`yaml`), detourd's port being the listener's.
  rules::rule_plan plan_for(std::string_view yaml = "") const;
  // What the rules in force do with a connection to `address`:`port` (see connect_outcome()).
  std::string outcome(const std::string& address, std::uint16_t port, const client_options& options = {});

  redirect_listener listener;
};

}  // namespace detour::test
