#include "detour/config/config.hpp"
#include "detour/net/sockaddr.hpp"

#include "config_error_of.hpp"

#include <catch2/catch.hpp>

using detour::config_error;
using detour::parse_config;

namespace {

std::string error_of(const std::string& yaml) { return detour::test::config_error_of(yaml, "detour.yaml"); }

}  // namespace

TEST_CASE("the embedded default config has exactly the built-in defaults", "[config]") {
  auto embedded = detour::default_config();
  detour::config defaults;
  CHECK(embedded.mode == defaults.mode);
  CHECK(embedded.port == 15001);
  CHECK(embedded.workers == 0);
  CHECK(embedded.mark == 0x1d7);
  CHECK(embedded.connect_timeout == std::chrono::seconds(10));
  CHECK(embedded.idle_timeout == std::chrono::hours(1));
  CHECK(embedded.drain_timeout == defaults.drain_timeout);
  CHECK(embedded.log_level == "info");
  CHECK(embedded.access_log.to == defaults.access_log.to);
  CHECK(embedded.access_log.to == detour::access_log_config::target::off);
  CHECK(embedded.intercept.enabled);
  CHECK(embedded.intercept.table == "detour");
  CHECK(embedded.intercept.priority == defaults.intercept.priority);
  CHECK(embedded.intercept.self_test);
  CHECK(embedded.intercept.on_failure == detour::failure_policy::open);
  CHECK(embedded.intercept.on_failure == defaults.intercept.on_failure);
  CHECK(embedded.intercept.outbound.enabled);
  CHECK_FALSE(embedded.intercept.inbound.enabled);
  CHECK(embedded.intercept.outbound.ports.empty());
  CHECK(embedded.admin == defaults.admin);
  REQUIRE(embedded.admin.listen);
  CHECK(detour::net::to_string(*embedded.admin.listen) == "127.0.0.1:15000");
  CHECK_FALSE(embedded.admin.allow_remote);
  CHECK_FALSE(embedded.run_as);
}

TEST_CASE("an empty file means every default", "[config]") {
  auto c = parse_config("", "empty.yaml");
  CHECK(c.port == 15001);
  CHECK(c.mode == detour::mode::direct);
}

TEST_CASE("values are read with their units", "[config]") {
  auto c = parse_config(R"(
mode: echo
port: 8443
workers: 3
mark: 0x10
connect_timeout: 250ms
idle_timeout: 5m
drain_timeout: 0s
log: {level: debug}
intercept:
  priority: -110
  on_failure: closed
  outbound:
    ports: ["80", "8000-8080"]
    exclude_destinations: [10.0.0.0/8, "fd00::/8"]
    exclude_uids: [0, 1337]
  inbound: {enabled: true, interfaces: [eth0]}
)",
                        "t.yaml");
  CHECK(c.mode == detour::mode::echo);
  CHECK(c.port == 8443);
  CHECK(c.workers == 3);
  CHECK(c.mark == 0x10);
  CHECK(c.connect_timeout == std::chrono::milliseconds(250));
  CHECK(c.idle_timeout == std::chrono::minutes(5));
  CHECK(c.drain_timeout.count() == 0);
  CHECK(c.log_level == "debug");
  CHECK(c.intercept.priority == -110);
  CHECK(c.intercept.on_failure == detour::failure_policy::closed);
  REQUIRE(c.intercept.outbound.ports.size() == 2);
  CHECK(c.intercept.outbound.ports[1].to_string() == "8000-8080");
  CHECK(c.intercept.outbound.exclude_destinations[1].to_string() == "fd00::/8");
  CHECK(c.intercept.outbound.exclude_uids == std::vector<std::uint32_t>{0, 1337});
  CHECK(c.intercept.inbound.enabled);
  CHECK(c.intercept.inbound.interfaces == std::vector<std::string>{"eth0"});
}

TEST_CASE("a bad config names file, line, column, key and reason", "[config]") {
  SECTION("unknown top-level key") {
    CHECK(error_of("port: 1\nprot: 2\n") ==
          "detour.yaml:2:1: prot: unknown key (known: mode, port, workers, mark, connect_timeout, idle_timeout, "
          "drain_timeout, log, access_log, intercept, upstreams, routes, admin, limits, sniff, user, group)");
  }
  SECTION("unknown nested key") {
    CHECK(error_of("intercept:\n  outbound:\n    port: [80]\n") ==
          "detour.yaml:3:5: intercept.outbound.port: unknown key (known: enabled, ports, exclude_ports, "
          "destinations, exclude_destinations, uids, exclude_uids, gids, exclude_gids, exclude_interfaces)");
  }
  SECTION("port out of range") {
    CHECK(error_of("port: 70000\n") == "detour.yaml:1:7: port: expected an integer from 1 to 65535, got \"70000\"");
  }
  SECTION("port not a number") {
    CHECK(error_of("port: http\n") == "detour.yaml:1:7: port: expected an integer from 1 to 65535, got \"http\"");
  }
  SECTION("mode") {
    CHECK(error_of("mode: tproxy\n") == "detour.yaml:1:7: mode: expected direct, echo or reject, got \"tproxy\"");
  }
  SECTION("duration without unit") {
    CHECK(error_of("idle_timeout: 10\n") ==
          "detour.yaml:1:15: idle_timeout: expected a duration such as 500ms, 10s, 5m or 1h, got \"10\"");
  }
  SECTION("zero connect timeout") {
    CHECK(error_of("connect_timeout: 0s\n") == "detour.yaml:1:18: connect_timeout: must be longer than 0ms");
  }
  SECTION("workers") {
    CHECK(error_of("workers: 0\n") == "detour.yaml:1:10: workers: expected an integer from 1 to 1024, got \"0\"");
  }
  SECTION("log level") {
    CHECK(error_of("log:\n  level: loud\n") ==
          "detour.yaml:2:10: log.level: expected one of trace, debug, info, warn, error, critical, off, got \"loud\"");
  }
  SECTION("cidr in a list") {
    CHECK(error_of("intercept:\n  outbound:\n    destinations: [10.0.0.0/8, 10.0.0.0/40]\n") ==
          "detour.yaml:3:32: intercept.outbound.destinations[1]: \"40\" is not a prefix length from 0 to 32");
  }
  SECTION("port range backwards") {
    CHECK(error_of("intercept:\n  outbound:\n    ports: [\"90-80\"]\n") ==
          "detour.yaml:3:13: intercept.outbound.ports[0]: range \"90-80\" ends before it starts");
  }
  SECTION("a list expected") {
    CHECK(error_of("intercept:\n  outbound:\n    ports: 80\n") ==
          "detour.yaml:3:12: intercept.outbound.ports: expected a list, e.g. [a, b]");
  }
  SECTION("nat priority the kernel would refuse") {
    CHECK(error_of("intercept:\n  priority: -300\n") ==
          "detour.yaml:2:13: intercept.priority: -300 is too low: the kernel accepts nat chains only above -200 "
          "(conntrack runs at -200)");
  }
  SECTION("failure policy") {
    CHECK(error_of("intercept:\n  on_failure: drop\n") ==
          "detour.yaml:2:15: intercept.on_failure: expected open or closed, got \"drop\"");
  }
  SECTION("boolean") {
    CHECK(error_of("intercept:\n  enabled: yes\n") ==
          "detour.yaml:2:12: intercept.enabled: expected true or false, got \"yes\"");
  }
  SECTION("YAML syntax") { CHECK(error_of("port: [1\n") == "detour.yaml:2:1: YAML: end of sequence flow not found"); }
  SECTION("a key twice") { CHECK(error_of("port: 1\nport: 2\n") == "detour.yaml:2:1: port: key appears twice"); }
  SECTION("no way left to exclude detourd's own connections") {
    CHECK(error_of("mark: 0\n") ==
          "detour.yaml:1:7: mark: 0 leaves detourd's own upstream connections to be captured by its rules and "
          "redirected back into it; keep a mark or set intercept.exclude_self_uid: true");
    CHECK_NOTHROW(parse_config("mark: 0\nintercept: {exclude_self_uid: true}\n", "t.yaml"));
    CHECK_NOTHROW(parse_config("mark: 0\nintercept: {enabled: false}\n", "t.yaml"));
  }
  SECTION("top level not a mapping") {
    CHECK(error_of("- a\n- b\n") == "detour.yaml:1:1: (top level): expected a mapping of keys to values");
  }
}

TEST_CASE("intercept.self_test is on unless turned off, and only a boolean turns it off", "[config]") {
  CHECK(parse_config("intercept: {}\n", "t.yaml").intercept.self_test);
  CHECK_FALSE(parse_config("intercept: {self_test: false}\n", "t.yaml").intercept.self_test);
  CHECK(error_of("intercept:\n  self_test: sometimes\n") ==
        "detour.yaml:2:14: intercept.self_test: expected true or false, got \"sometimes\"");
}

TEST_CASE("a missing config file is a clear error", "[config]") {
  CHECK_THROWS_WITH(detour::load_config_file("/nonexistent/detour.yaml"),
                    "/nonexistent/detour.yaml: cannot open: No such file or directory");
}

TEST_CASE("intercept.inbound.port gives prerouting captures a port of their own, by default the main one", "[config]") {
  auto c = detour::parse_config("port: 15001\nintercept: {inbound: {enabled: true, port: 15006}}\n", "t.yaml");
  CHECK(c.intercept.inbound.port == 15006);
  CHECK(c.inbound_port() == 15006);
  CHECK(detour::parse_config("port: 15002\n", "t.yaml").inbound_port() == 15002);
  CHECK_THROWS_WITH(detour::parse_config("intercept: {inbound: {port: 0}}\n", "t.yaml"),
                    Catch::Contains("t.yaml:1:29: intercept.inbound.port:"));
}
