#include "detour/config/config.hpp"
#include "detour/rules/rule_plan.hpp"
#include "detour/rules/rules_commands.hpp"
#include "support/netns.hpp"
#include "support/capture.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

using namespace detour;
using detour::test::connect_outcome;
using detour::test::enter_new_netns;
using detour::test::peer_netns;
using detour::test::sh;

namespace {

config config_for(const test::redirect_listener& listener, std::string_view yaml) {
  auto cfg = parse_config(yaml, "test.yaml");
  cfg.port = listener.port();
  return cfg;
}

test::client_options from(const peer_netns& peer) {
  test::client_options o;
  o.from = &peer;
  return o;
}

// The "remote" destinations are local addresses here, so a connection the rules leave alone is
// refused at once instead of being forwarded nowhere.
void add_remote_addresses() {
  sh("ip addr add 203.0.113.5/32 dev lo && ip addr add 2001:db8:ffff::5/128 dev lo nodad");
  test::wait_for_ipv6_addresses({"2001:db8:ffff::5"});
}

// This namespace is the gateway; `peer` is a host on a veth link to it.
void link_over_veth(const peer_netns& peer, const std::string& name, const std::string& net4, const std::string& net6) {
  sh(fmt::format("ip link add {0} type veth peer name {0}p && ip link set {0}p netns {1} && "
                          "ip addr add {2}.1/24 dev {0} && ip addr add {3}::1/64 dev {0} nodad && ip link set {0} up",
                          name, peer.pid(), net4, net6));
  peer.run(fmt::format("ip link set {0}p name eth0 && ip addr add {1}.2/24 dev eth0 && "
                       "ip addr add {2}::2/64 dev eth0 nodad && ip link set eth0 up && ip route add default via {1}.1",
                       name, net4, net6));
  test::wait_for_ipv6_addresses({net6 + "::1"});
  test::wait_for_ipv6_addresses({net6 + "::2"}, &peer);
  peer.run(fmt::format("ip -6 route add default via {}::1", net6));
}

}  // namespace

TEST_CASE("inbound capture redirects connections arriving over veth from another namespace", "[rules]") {
  enter_new_netns();
  add_remote_addresses();
  peer_netns peer;
  link_over_veth(peer, "veth0", "10.77.0", "fd77");
  test::redirect_listener listener;
  rules::owned_table table(rules::make_plan(config_for(listener, "intercept: {inbound: {enabled: true}}\n")));
  CHECK(connect_outcome(listener, "203.0.113.5", 80, from(peer)) == "redirected to 203.0.113.5:80");
  CHECK(connect_outcome(listener, "2001:db8:ffff::5", 443, from(peer)) == "redirected to [2001:db8:ffff::5]:443");
}

TEST_CASE("connections from another namespace are not captured by default", "[rules]") {
  enter_new_netns();
  add_remote_addresses();
  peer_netns peer;
  link_over_veth(peer, "veth0", "10.77.0", "fd77");
  test::redirect_listener listener;
  rules::owned_table table(rules::make_plan(config_for(listener, "")));
  CHECK(connect_outcome(listener, "203.0.113.5", 80, from(peer)) == "not redirected");
}

TEST_CASE("inbound sources, exclude_sources and ports select what is captured", "[rules]") {
  enter_new_netns();
  add_remote_addresses();
  peer_netns peer;
  link_over_veth(peer, "veth0", "10.77.0", "fd77");
  test::redirect_listener listener;
  rules::owned_table table(rules::make_plan(config_for(listener, R"(
intercept:
  inbound:
    enabled: true
    interfaces: [veth0]
    sources: [10.77.0.0/24]
    exclude_sources: ["fd77::2"]
    ports: ["80", "443"]
)")));
  CHECK(connect_outcome(listener, "203.0.113.5", 443, from(peer)) == "redirected to 203.0.113.5:443");
  CHECK(connect_outcome(listener, "203.0.113.5", 22, from(peer)) == "not redirected");
  // fd77::2 is excluded, and an IPv6 source could only be captured if `sources` had one.
  CHECK(connect_outcome(listener, "2001:db8:ffff::5", 443, from(peer)) == "not redirected");
}

TEST_CASE("inbound exclude_ports and destinations select what is captured, outbound disabled", "[rules]") {
  enter_new_netns();
  add_remote_addresses();
  peer_netns peer;
  link_over_veth(peer, "veth0", "10.77.0", "fd77");
  test::redirect_listener listener;
  rules::owned_table table(rules::make_plan(config_for(listener, R"(
intercept:
  outbound: {enabled: false}
  inbound: {enabled: true, exclude_ports: ["22"], destinations: [203.0.113.0/24]}
)")));
  CHECK(connect_outcome(listener, "203.0.113.5", 80, from(peer)) == "redirected to 203.0.113.5:80");
  CHECK(connect_outcome(listener, "203.0.113.5", 22, from(peer)) == "not redirected");
  CHECK(connect_outcome(listener, "2001:db8:ffff::5", 80, from(peer)) == "not redirected");
  // With outbound disabled, local connections are left alone.
  CHECK(connect_outcome(listener, "203.0.113.5", 80) == "not redirected");
}

TEST_CASE("inbound capture on another interface leaves the veth alone", "[rules]") {
  enter_new_netns();
  add_remote_addresses();
  peer_netns peer;
  link_over_veth(peer, "veth0", "10.77.0", "fd77");
  test::redirect_listener listener;
  rules::owned_table table(
      rules::make_plan(config_for(listener, "intercept: {inbound: {enabled: true, interfaces: [veth9]}}\n")));
  CHECK(connect_outcome(listener, "203.0.113.5", 80, from(peer)) == "not redirected");
}

TEST_CASE("inbound exclude_destinations are not captured", "[rules]") {
  enter_new_netns();
  add_remote_addresses();
  peer_netns peer;
  link_over_veth(peer, "veth0", "10.77.0", "fd77");
  test::redirect_listener listener;
  rules::owned_table table(rules::make_plan(config_for(
      listener, "intercept: {inbound: {enabled: true, exclude_destinations: [203.0.113.0/24]}}\n")));
  CHECK(connect_outcome(listener, "203.0.113.5", 80, from(peer)) == "not redirected");
  CHECK(connect_outcome(listener, "2001:db8:ffff::5", 80, from(peer)) == "redirected to [2001:db8:ffff::5]:80");
}

TEST_CASE("inbound capture on a bridge redirects a container's connections", "[rules]") {
  enter_new_netns();
  add_remote_addresses();
  peer_netns container;
  // docker's layout: a bridge with the gateway address, the container's veth enslaved to it.
  sh("ip link add br0 type bridge && ip addr add 10.88.0.1/24 dev br0 && "
              "ip addr add fd88::1/64 dev br0 nodad && ip link set br0 up");
  sh(fmt::format("ip link add vethc type veth peer name vethcp && ip link set vethcp netns {} && "
                          "ip link set vethc master br0 && ip link set vethc up",
                          container.pid()));
  container.run("ip link set vethcp name eth0 && ip addr add 10.88.0.2/24 dev eth0 && "
                "ip addr add fd88::2/64 dev eth0 nodad && ip link set eth0 up && ip route add default via 10.88.0.1");
  test::wait_for_ipv6_addresses({"fd88::1"});
  test::wait_for_ipv6_addresses({"fd88::2"}, &container);
  container.run("ip -6 route add default via fd88::1");
  test::redirect_listener listener;
  rules::owned_table table(
      rules::make_plan(config_for(listener, "intercept: {inbound: {enabled: true, interfaces: [br0]}}\n")));
  CHECK(connect_outcome(listener, "203.0.113.5", 80, from(container)) == "redirected to 203.0.113.5:80");
  CHECK(connect_outcome(listener, "2001:db8:ffff::5", 80, from(container)) == "redirected to [2001:db8:ffff::5]:80");
}

TEST_CASE("a container's connections arrive on the bridge, not on its veth port", "[rules]") {
  enter_new_netns();
  add_remote_addresses();
  peer_netns container;
  // docker's layout: a bridge with the gateway address, the container's veth enslaved to it.
  sh("ip link add br0 type bridge && ip addr add 10.88.0.1/24 dev br0 && "
              "ip addr add fd88::1/64 dev br0 nodad && ip link set br0 up");
  sh(fmt::format("ip link add vethc type veth peer name vethcp && ip link set vethcp netns {} && "
                          "ip link set vethc master br0 && ip link set vethc up",
                          container.pid()));
  container.run("ip link set vethcp name eth0 && ip addr add 10.88.0.2/24 dev eth0 && "
                "ip addr add fd88::2/64 dev eth0 nodad && ip link set eth0 up && ip route add default via 10.88.0.1");
  test::wait_for_ipv6_addresses({"fd88::1"});
  test::wait_for_ipv6_addresses({"fd88::2"}, &container);
  container.run("ip -6 route add default via fd88::1");
  test::redirect_listener listener;
  rules::owned_table table(
      rules::make_plan(config_for(listener, "intercept: {inbound: {enabled: true, interfaces: [vethc]}}\n")));
  CHECK(connect_outcome(listener, "203.0.113.5", 80, from(container)) == "not redirected");
}
