// Inbound and outbound apart: detourd's own rules capture a connection made on this host (nat
// output) and one arriving from another namespace over a veth (nat prerouting), and each says which
// way it went, whether the inbound captures have a port of their own or share the main one.
#include "support/detourd_process.hpp"
#include "support/netns.hpp"
#include "support/tcp.hpp"

#include <fmt/format.h>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <optional>

using namespace detour::test;

namespace {

constexpr const char* destination = "203.0.113.9";

// This namespace as a gateway: the peer reaches it over veth0 (10.79.0.1 here, .2 there), and
// detourd's rules capture both directions towards `destination`, answering with the JSON echo.
struct gateway {
  explicit gateway(bool inbound_port_of_its_own)
      : port((setup(peer), free_port())),
        inbound_port(inbound_port_of_its_own ? std::optional(free_port()) : std::nullopt),
        detourd(fmt::format("mode: direct\nport: {}\nworkers: 1\nadmin: {{listen: off}}\n"
                            "routes:\n  - default: {{echo: json}}\n"
                            "intercept:\n  enabled: true\n"
                            "  outbound: {{destinations: [{}/32]}}\n"
                            "  inbound: {{enabled: true, interfaces: [veth0], destinations: [{}/32]{}}}\n",
                            port, destination, destination,
                            inbound_port ? fmt::format(", port: {}", *inbound_port) : std::string())) {}

  static void setup(const peer_netns& peer) {
    link_by_veth(peer, "veth0", "10.79.0", "fd79");
    add_local_address(std::string(destination) + "/32");
  }

  boost::json::object echo_from_peer() const {
    return peer.inside([] { return parse(read_after_connect(at(destination, 80)).bytes); });
  }
  static boost::json::object echo_from_here() { return parse(read_after_connect(at(destination, 80)).bytes); }

  static boost::json::object parse(const std::string& line) {
    INFO(line);
    return boost::json::parse(line).as_object();
  }

  // Before the peer and everything else: the namespace the test runs in is born first.
  struct fresh {
    fresh() { enter_new_netns(); }
  } netns;
  peer_netns peer;
  std::uint16_t port;
  std::optional<std::uint16_t> inbound_port;
  detourd_process detourd;
};

}  // namespace

TEST_CASE("with one port for both, a connection captured in prerouting is inbound and one from this host outbound",
          "[proxy][direction]") {
  gateway gw(false);
  auto in = gw.echo_from_peer();
  CHECK(in.at("direction") == "inbound");
  CHECK(in.at("source").as_string().starts_with("10.79.0.2:"));
  CHECK(in.at("destination").as_string() == fmt::format("10.79.0.1:{}", gw.port));
  CHECK(in.at("original_destination").as_string() == fmt::format("{}:80", destination));
  auto out = gateway::echo_from_here();
  CHECK(out.at("direction") == "outbound");
  CHECK(out.at("destination").as_string() == fmt::format("127.0.0.1:{}", gw.port));
  CHECK(gw.detourd.stop() == 0);
  CHECK(gw.detourd.log().find("] inbound echo closed") != std::string::npos);
}

TEST_CASE("intercept.inbound.port gives prerouting captures a listener of their own", "[proxy][direction]") {
  gateway gw(true);
  REQUIRE(gw.detourd.wait_for_log(fmt::format("port {} (inbound {})", gw.port, *gw.inbound_port)));
  auto in = gw.echo_from_peer();
  CHECK(in.at("direction") == "inbound");
  CHECK(in.at("destination").as_string() == fmt::format("10.79.0.1:{}", *gw.inbound_port));
  auto out = gateway::echo_from_here();
  CHECK(out.at("direction") == "outbound");
  CHECK(out.at("destination").as_string() == fmt::format("127.0.0.1:{}", gw.port));
  // Connecting to either listener directly is refused, not relayed: neither port is redirected.
  CHECK(read_after_connect(at("127.0.0.1", *gw.inbound_port)).bytes.empty());
  CHECK(gw.detourd.wait_for_log(fmt::format(":{}] inbound refused: not redirected", *gw.inbound_port)));
  CHECK(gw.detourd.stop() == 0);
  CHECK(gw.detourd.stop_counter("accepted") == 3);
  // The one made to the inbound listener directly arrived there, so it counts as inbound too.
  CHECK(gw.detourd.stop_counter("accepted_inbound") == 2);
  CHECK(gw.detourd.stop_counter("not_redirected") == 1);
}
