#include "detour/config/config.hpp"

#include "config_error_of.hpp"

#include <catch2/catch.hpp>

namespace {

detour::limits_config limits_of(const std::string& text) { return detour::parse_config(text, "a.yaml").limits; }

std::string error_of(const std::string& yaml) { return detour::test::config_error_of(yaml, "a.yaml"); }

}  // namespace

TEST_CASE("limits default to max_connections auto, no per-source limit, IPv6 sources by /64", "[config]") {
  for (const auto* yaml : {"", "limits: {}\n"}) {
    const auto l = limits_of(yaml);
    CHECK_FALSE(l.max_connections);
    CHECK_FALSE(l.max_connections_per_source);
    CHECK(l.ipv6_source_prefix == 64);
  }
}

TEST_CASE("limits take numbers, auto and off", "[config]") {
  auto l = limits_of("limits:\n  max_connections: 5000\n  max_connections_per_source: 20\n  ipv6_source_prefix: 56\n");
  CHECK(l.max_connections == 5000U);
  CHECK(l.max_connections_per_source == 20U);
  CHECK(l.ipv6_source_prefix == 56);
  l = limits_of("limits:\n  max_connections: auto\n  max_connections_per_source: off\n  ipv6_source_prefix: 128\n");
  CHECK_FALSE(l.max_connections);
  CHECK_FALSE(l.max_connections_per_source);
  CHECK(l.ipv6_source_prefix == 128);
  CHECK(limits_of("limits:\n  max_connections: 1\n  ipv6_source_prefix: 1\n").max_connections == 1U);
}

TEST_CASE("a bad limits section names file, line, column, key and reason", "[config]") {
  struct bad {
    const char* yaml;
    std::string error;
  };
  const std::string count = " or a number of connections from 1 to 1000000000, got ";
  for (const auto& b : std::vector<bad>{
           {"limits:\n  max_connections: 0\n", "a.yaml:2:20: limits.max_connections: expected auto" + count + "\"0\""},
           {"limits:\n  max_connections: -5\n",
            "a.yaml:2:20: limits.max_connections: expected auto" + count + "\"-5\""},
           {"limits:\n  max_connections: off\n",
            "a.yaml:2:20: limits.max_connections: expected auto" + count + "\"off\""},
           {"limits:\n  max_connections: 1000000001\n",
            "a.yaml:2:20: limits.max_connections: expected auto" + count + "\"1000000001\""},
           {"limits:\n  max_connections: 10k\n",
            "a.yaml:2:20: limits.max_connections: expected auto" + count + "\"10k\""},
           {"limits:\n  max_connections: [1]\n",
            "a.yaml:2:20: limits.max_connections: expected auto" + count + "\"a list or mapping\""},
           {"limits:\n  max_connections_per_source: auto\n",
            "a.yaml:2:31: limits.max_connections_per_source: expected off" + count + "\"auto\""},
           {"limits:\n  ipv6_source_prefix: 0\n",
            "a.yaml:2:23: limits.ipv6_source_prefix: expected an integer from 1 to 128, got \"0\""},
           {"limits:\n  ipv6_source_prefix: 129\n",
            "a.yaml:2:23: limits.ipv6_source_prefix: expected an integer from 1 to 128, got \"129\""},
           {"limits:\n  maxconn: 5\n",
            "a.yaml:2:3: limits.maxconn: unknown key (known: max_connections, max_connections_per_source, "
            "ipv6_source_prefix)"},
           {"limits: 5\n", "a.yaml:1:9: limits: expected a mapping of keys to values"},
       }) {
    INFO(b.yaml);
    CHECK(error_of(b.yaml) == b.error);
  }
}
