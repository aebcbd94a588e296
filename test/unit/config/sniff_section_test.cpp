#include "detour/config/config.hpp"
#include "detour/config/config_yaml.hpp"

#include "config_error_of.hpp"

#include <catch2/catch.hpp>

#include <vector>

namespace {

detour::sniff_config sniff_of(const std::string& text) { return detour::parse_config(text, "a.yaml").sniff; }

std::string error_of(const std::string& yaml) { return detour::test::config_error_of(yaml, "a.yaml"); }

}  // namespace

TEST_CASE("sniff is on by default for ports 80, 443, 8080 and 8443 with a 300ms timeout", "[config]") {
  for (const auto* yaml : {"", "sniff: {}\n"}) {
    INFO(yaml);
    const auto s = sniff_of(yaml);
    CHECK(s.enabled);
    CHECK(s.ports == std::vector<detour::net::port_range>{{80, 80}, {443, 443}, {8080, 8080}, {8443, 8443}});
    CHECK(s.timeout == std::chrono::milliseconds(300));
    CHECK(s.covers(443));
    CHECK_FALSE(s.covers(25));
  }
  // The documented file says the same as the defaults in code.
  CHECK(detour::default_config().sniff == detour::sniff_config{});
}

TEST_CASE("sniff takes enabled, ports with ranges and a timeout", "[config]") {
  auto s = sniff_of("sniff:\n  enabled: false\n  ports: [443, \"8000-8100\"]\n  timeout: 2s\n");
  CHECK_FALSE(s.enabled);
  CHECK(s.ports == std::vector<detour::net::port_range>{{443, 443}, {8000, 8100}});
  CHECK(s.timeout == std::chrono::seconds(2));
  // Disabled, no port is covered, whatever the list says.
  CHECK_FALSE(s.covers(443));
  s = sniff_of("sniff:\n  ports: [8000-8100]\n  timeout: 10s\n");
  CHECK(s.covers(8000));
  CHECK(s.covers(8100));
  CHECK_FALSE(s.covers(443));
  CHECK(sniff_of("sniff: {timeout: 1ms}\n").timeout == std::chrono::milliseconds(1));
}

TEST_CASE("a bad sniff section names file, line, column, key and reason", "[config]") {
  struct bad {
    const char* yaml;
    std::string error;
  };
  const std::string timeout = "sniff.timeout: expected a duration from 1ms to 10s, got ";
  for (const auto& b : std::vector<bad>{
           {"sniff:\n  timeout: 0ms\n", "a.yaml:2:12: " + timeout + "\"0ms\""},
           {"sniff:\n  timeout: 11s\n", "a.yaml:2:12: " + timeout + "\"11s\""},
           {"sniff:\n  timeout: 1m\n", "a.yaml:2:12: " + timeout + "\"1m\""},
           {"sniff:\n  timeout: soon\n",
            "a.yaml:2:12: sniff.timeout: expected a duration such as 500ms, 10s, 5m or 1h, got \"soon\""},
           {"sniff:\n  ports: []\n", "a.yaml:2:10: sniff.ports: an empty list sniffs no port; use enabled: false"},
           {"sniff:\n  ports: 443\n", "a.yaml:2:10: sniff.ports: expected a list, e.g. [a, b]"},
           {"sniff:\n  ports: [443, 0]\n", "a.yaml:2:16: sniff.ports[1]: port 0 is out of range 1-65535"},
           {"sniff:\n  ports: [70000]\n", "a.yaml:2:11: sniff.ports[0]: port 70000 is out of range 1-65535"},
           {"sniff:\n  enabled: maybe\n", "a.yaml:2:12: sniff.enabled: expected true or false, got \"maybe\""},
           {"sniff:\n  timeout_ms: 5\n", "a.yaml:2:3: sniff.timeout_ms: unknown key (known: enabled, ports, timeout)"},
           {"sniff: on\n", "a.yaml:1:8: sniff: expected a mapping of keys to values"},
       }) {
    INFO(b.yaml);
    CHECK(error_of(b.yaml) == b.error);
  }
}

TEST_CASE("the sniff section reads back from the config YAML unchanged", "[config]") {
  detour::config c;
  c.sniff.enabled = false;
  c.sniff.ports = {{443, 443}, {9000, 9100}};
  c.sniff.timeout = std::chrono::milliseconds(1250);
  CHECK(detour::parse_config(detour::to_yaml(c), "to_yaml").sniff == c.sniff);
}
