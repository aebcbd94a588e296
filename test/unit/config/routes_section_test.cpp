#include "detour/config/config.hpp"

#include "config_error_of.hpp"

#include <catch2/catch.hpp>

using detour::config_error;
using detour::parse_config;
using detour::route_action;
using detour::route_kind;

namespace {

detour::config parse(const std::string& text) { return parse_config(text, "t.yaml"); }

std::string error_of(const std::string& yaml) { return detour::test::config_error_of(yaml, "t.yaml"); }

const std::string upstreams = R"(
upstreams:
  corp:
    kind: socks5
    address: 10.1.0.5:1080
  office:
    kind: http
    address: 10.1.0.6:3128
)";

}  // namespace

TEST_CASE("routes are read in order with their actions resolved to upstream indexes", "[config]") {
  auto c = parse(upstreams + R"(
routes:
  - destinations: [10.0.0.0/8, "fd00::/8"]
    action: direct
  - ports: [25, 8000-8080]
    sources: [172.17.0.0/16]
    action: reject
  - destinations: [192.0.2.0/24]
    action: {upstream: office}
  - ports: [7]
    action:
      echo: json
  - ports: [9]
    action: echo
  - default: {upstream: corp}
)");
  REQUIRE(c.routes.size() == 5);
  CHECK(c.routes[0].destinations.size() == 2);
  CHECK(c.routes[0].destinations[1].to_string() == "fd00::/8");
  CHECK(c.routes[0].ports.empty());
  CHECK(c.routes[0].action == route_action{route_kind::direct, 0});
  CHECK(c.routes[1].ports.size() == 2);
  CHECK(c.routes[1].ports[1].to_string() == "8000-8080");
  CHECK(c.routes[1].sources.at(0).to_string() == "172.17.0.0/16");
  CHECK(c.routes[1].action.kind == route_kind::reject);
  CHECK(c.routes[2].action == route_action{route_kind::upstream, 1});
  CHECK(c.routes[3].action.kind == route_kind::echo_json);
  CHECK(c.routes[4].action.kind == route_kind::echo);
  REQUIRE(c.default_route);
  CHECK(*c.default_route == route_action{route_kind::upstream, 0});
  CHECK(c.default_action() == route_action{route_kind::upstream, 0});
}

TEST_CASE("without a default route, mode is the default action", "[config]") {
  CHECK(parse("mode: reject\n").default_action().kind == route_kind::reject);
  CHECK(parse("mode: echo\nroutes:\n  - ports: [1]\n    action: direct\n").default_action().kind == route_kind::echo);
  CHECK(parse("").default_action().kind == route_kind::direct);
}

TEST_CASE("the documented default config has no upstreams and no routes", "[config]") {
  auto c = detour::default_config();
  CHECK(c.upstreams.empty());
  CHECK(c.routes.empty());
  CHECK_FALSE(c.default_route);
}

TEST_CASE("a bad route is refused with its place, key and value", "[config]") {
  CHECK(error_of(upstreams + "routes:\n  - ports: [1]\n    action: {upstream: home}\n") ==
        "t.yaml:11:24: routes[0].action.upstream: unknown upstream \"home\" (defined: corp, office)");
  CHECK(error_of("routes:\n  - ports: [1]\n    action: {upstream: home}\n") ==
        "t.yaml:3:24: routes[0].action.upstream: unknown upstream \"home\" (no upstreams are defined)");
  CHECK(error_of("routes:\n  - default: {upstream: corp}\n") ==
        "t.yaml:2:25: routes[0].default.upstream: unknown upstream \"corp\" (no upstreams are defined)");
  CHECK(error_of("routes:\n  - ports: [1]\n    action: proxy\n") ==
        "t.yaml:3:13: routes[0].action: expected direct, echo, reject, {upstream: NAME}, {echo: json} or "
        "{direct: {proxy_protocol: v1|v2}}, got \"proxy\"");
  CHECK(error_of("routes:\n  - ports: [1]\n    action: {echo: xml}\n") ==
        "t.yaml:3:20: routes[0].action.echo: expected line or json, got \"xml\"");
  CHECK(error_of("routes:\n  - ports: [1]\n    action: {direct: 1}\n") ==
        "t.yaml:3:22: routes[0].action.direct: expected {proxy_protocol: v1|v2}");
  CHECK(error_of("routes:\n  - ports: [1]\n    action: {forward: x}\n") ==
        "t.yaml:3:14: routes[0].action.forward: unknown key (known: upstream, echo, direct)");
  CHECK(error_of("routes:\n  - ports: [1]\n") == "t.yaml:2:5: routes[0]: needs action");
  CHECK(error_of("routes:\n  - action: direct\n") ==
        "t.yaml:2:5: routes[0]: needs at least one of destinations, destinations_file, ports, sources, hosts, "
        "hosts_file, direction (a catch-all is default:)");
  CHECK(error_of("routes:\n  - destinations: []\n    action: direct\n") ==
        "t.yaml:2:19: routes[0].destinations: is empty; leave it out to match every address");
  CHECK(error_of("routes:\n  - default: direct\n  - ports: [1]\n    action: reject\n") ==
        "t.yaml:3:5: routes[1]: comes after default:, which must be the last entry");
  CHECK(error_of("routes:\n  - ports: [0]\n    action: reject\n") ==
        "t.yaml:2:13: routes[0].ports[0]: " + std::string("port 0 is out of range 1-65535"));
  CHECK(error_of("routes:\n  - sources: [10.0.0.0/33]\n    action: reject\n") ==
        "t.yaml:2:15: routes[0].sources[0]: \"33\" is not a prefix length from 0 to 32");
  CHECK(error_of("routes:\n  - host: example.com\n    action: reject\n") ==
        "t.yaml:2:5: routes[0].host: unknown key (known: default, destinations, destinations_file, ports, sources, "
        "hosts, hosts_file, direction, name, action)");
  CHECK(error_of("routes: {a: 1}\n") == "t.yaml:1:9: routes: expected a list of rules ending with default: ACTION");
}

TEST_CASE("routes are named by name: or by their place, and a name is used once", "[config]") {
  auto c = parse(R"(
routes:
  - ports: [25]
    action: reject
  - name: web
    ports: [80]
    action: direct
  - ports: [7]
    action: echo
)");
  REQUIRE(c.routes.size() == 3);
  CHECK(c.routes[0].name == "route 1");
  CHECK(c.routes[1].name == "web");
  CHECK(c.routes[2].name == "route 3");

  CHECK(error_of("routes:\n  - name: web\n    ports: [1]\n    action: reject\n  - name: web\n    ports: [2]\n"
                 "    action: direct\n") ==
        "t.yaml:5:5: routes[1].name: duplicate route name \"web\" (routes[0] at line 2 has it too)");
  // A generated name is taken as well: two rules could not be told apart in a metric otherwise.
  CHECK(error_of("routes:\n  - ports: [1]\n    action: reject\n  - name: route 1\n    ports: [2]\n"
                 "    action: direct\n") ==
        "t.yaml:4:5: routes[1].name: duplicate route name \"route 1\" (routes[0] at line 2 has it too)");
  CHECK(error_of("routes:\n  - name: default\n    ports: [1]\n    action: reject\n") ==
        "t.yaml:2:11: routes[0].name: \"default\" is the name of the default: entry");
  CHECK(error_of("routes:\n  - name: \"\"\n    ports: [1]\n    action: reject\n") ==
        "t.yaml:2:11: routes[0].name: must be 1 to 64 characters");
  CHECK(error_of("routes:\n  - name: \"a\\tb\"\n    ports: [1]\n    action: reject\n") ==
        "t.yaml:2:11: routes[0].name: \"a\tb\" has a control character, a quote or a backslash");
}

TEST_CASE("a direct route may send a PROXY header, and an unknown version is refused at its place",
          "[config][proxy_protocol]") {
  auto c = parse(R"(
routes:
  - ports: [80]
    action: {direct: {proxy_protocol: v1}}
  - ports: [443]
    action:
      direct:
        proxy_protocol: v2
  - ports: [8080]
    action: {direct: {}}
  - default: {direct: {proxy_protocol: v2}}
)");
  REQUIRE(c.routes.size() == 3);
  CHECK(c.routes[0].action == route_action{route_kind::direct, 0, detour::proxy_protocol_version::v1});
  CHECK(c.routes[1].action == route_action{route_kind::direct, 0, detour::proxy_protocol_version::v2});
  CHECK(c.routes[2].action == route_action{route_kind::direct, 0, detour::proxy_protocol_version::none});
  CHECK(c.default_action() == route_action{route_kind::direct, 0, detour::proxy_protocol_version::v2});

  CHECK(error_of("routes:\n  - ports: [1]\n    action: {direct: {proxy_protocol: v3}}\n") ==
        "t.yaml:3:39: routes[0].action.direct.proxy_protocol: expected v1 or v2, got \"v3\"");
  CHECK(error_of("routes:\n  - default:\n      direct:\n        proxy_protocol: V1\n") ==
        "t.yaml:4:25: routes[0].default.direct.proxy_protocol: expected v1 or v2, got \"V1\"");
  CHECK(error_of("routes:\n  - ports: [1]\n    action: {direct: {proxy: v1}}\n") ==
        "t.yaml:3:23: routes[0].action.direct.proxy: unknown key (known: proxy_protocol)");
}
