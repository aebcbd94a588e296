// detourd's inbound capture rules in the kernel: connections from other hosts (another namespace
// on a veth link) and from containers (behind a bridge) that the rule plan redirects, selected by
// interface, source, destination and port.
#include "support/capture.hpp"
#include "support/netns.hpp"

#include "detour/rules/owned_table.hpp"

#include <catch2/catch.hpp>

#include <optional>

using namespace detour;

namespace {

// How the peer reaches the gateway: another host on a veth link ("veth0"), or a container whose
// veth ("vethc") is a port of the bridge "br0", as docker lays it out.
enum class link { veth, bridge };

// This namespace as a gateway, with the "remote" destinations as local addresses (so that a
// connection the rules leave alone is refused at once instead of being forwarded nowhere), a peer
// linked to it, and the capture rules of a config (`yaml`, its port the listener's) installed.
struct gateway : test::capture_namespace {
  gateway(link how, std::string_view yaml) : test::capture_namespace({"203.0.113.5", "2001:db8:ffff::5"}) {
    if (how == link::veth) {
      test::link_by_veth(peer, "veth0", "10.77.0", "fd77");
    } else {
      test::link_by_bridge(peer, "br0", "vethc", "10.88.0", "fd88");
    }
    table.emplace(plan_for(yaml));
  }

  // What happens to a connection from the peer.
  std::string from_peer(const std::string& address, std::uint16_t port) {
    test::client_options options;
    options.from = &peer;
    return outcome(address, port, options);
  }

  test::peer_netns peer;
  std::optional<rules::owned_table> table;
};

}  // namespace

TEST_CASE("inbound capture redirects connections arriving over veth from another namespace", "[rules]") {
  gateway gw(link::veth, "intercept: {inbound: {enabled: true}}\n");
  CHECK(gw.from_peer("203.0.113.5", 80) == "redirected to 203.0.113.5:80");
  CHECK(gw.from_peer("2001:db8:ffff::5", 443) == "redirected to [2001:db8:ffff::5]:443");
}

TEST_CASE("connections from another namespace are not captured by default", "[rules]") {
  gateway gw(link::veth, "");
  CHECK(gw.from_peer("203.0.113.5", 80) == "not redirected");
}

TEST_CASE("inbound sources, exclude_sources and ports select what is captured", "[rules]") {
  gateway gw(link::veth, R"(
intercept:
  inbound:
    enabled: true
    interfaces: [veth0]
    sources: [10.77.0.0/24]
    exclude_sources: ["fd77::2"]
    ports: ["80", "443"]
)");
  CHECK(gw.from_peer("203.0.113.5", 443) == "redirected to 203.0.113.5:443");
  CHECK(gw.from_peer("203.0.113.5", 22) == "not redirected");
  // fd77::2 is excluded, and an IPv6 source could only be captured if `sources` had one.
  CHECK(gw.from_peer("2001:db8:ffff::5", 443) == "not redirected");
}

TEST_CASE("inbound exclude_ports and destinations select what is captured, outbound disabled", "[rules]") {
  gateway gw(link::veth, R"(
intercept:
  outbound: {enabled: false}
  inbound: {enabled: true, exclude_ports: ["22"], destinations: [203.0.113.0/24]}
)");
  CHECK(gw.from_peer("203.0.113.5", 80) == "redirected to 203.0.113.5:80");
  CHECK(gw.from_peer("203.0.113.5", 22) == "not redirected");
  CHECK(gw.from_peer("2001:db8:ffff::5", 80) == "not redirected");
  // With outbound disabled, local connections are left alone.
  CHECK(gw.outcome("203.0.113.5", 80) == "not redirected");
}

TEST_CASE("inbound capture on another interface leaves the veth alone", "[rules]") {
  gateway gw(link::veth, "intercept: {inbound: {enabled: true, interfaces: [veth9]}}\n");
  CHECK(gw.from_peer("203.0.113.5", 80) == "not redirected");
}

TEST_CASE("inbound exclude_destinations are not captured", "[rules]") {
  gateway gw(link::veth, "intercept: {inbound: {enabled: true, exclude_destinations: [203.0.113.0/24]}}\n");
  CHECK(gw.from_peer("203.0.113.5", 80) == "not redirected");
  CHECK(gw.from_peer("2001:db8:ffff::5", 80) == "redirected to [2001:db8:ffff::5]:80");
}

TEST_CASE("inbound capture on a bridge redirects a container's connections", "[rules]") {
  gateway gw(link::bridge, "intercept: {inbound: {enabled: true, interfaces: [br0]}}\n");
  CHECK(gw.from_peer("203.0.113.5", 80) == "redirected to 203.0.113.5:80");
  CHECK(gw.from_peer("2001:db8:ffff::5", 80) == "redirected to [2001:db8:ffff::5]:80");
}

TEST_CASE("a container's connections arrive on the bridge, not on its veth port", "[rules]") {
  gateway gw(link::bridge, "intercept: {inbound: {enabled: true, interfaces: [vethc]}}\n");
  CHECK(gw.from_peer("203.0.113.5", 80) == "not redirected");
}
